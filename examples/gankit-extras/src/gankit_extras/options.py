"""Options of ``resmlp`` (no torch here: ``gankit train image --help`` reads them)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ResMLPOptions:
    latent_dim: int = field(default=64, metadata={"help": "size of the generator's standard-normal latent vector"})
    width: int = field(default=256, metadata={"help": "width of the residual stream in G and D"})
    blocks: int = field(default=2, metadata={"help": "residual blocks in G and in D"})
    conditional: bool = field(default=False, metadata={"help": "condition on the dataset's class labels"})

    def __post_init__(self) -> None:
        for name in ("latent_dim", "width", "blocks"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
