"""Options of ``resmlp`` (no torch here: ``gankit train image --help`` reads them)."""

from __future__ import annotations

from dataclasses import dataclass

from gankit.options import check_bounds, option


@dataclass(frozen=True)
class ResMLPOptions:
    latent_dim: int = option(64, "size of the generator's standard-normal latent vector", ge=1)
    width: int = option(256, "width of the residual stream in G and D", ge=1)
    blocks: int = option(2, "residual blocks in G and in D", ge=1)
    conditional: bool = option(False, "condition on the dataset's class labels")

    def __post_init__(self) -> None:
        check_bounds(self)
