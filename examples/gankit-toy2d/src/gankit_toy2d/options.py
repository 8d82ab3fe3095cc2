"""The options of toy2d's model and datasets: typed, frozen dataclasses whose fields become
``-o KEY VALUE`` options, API keywords and config-file keys.

No torch or numpy here: the registry reads these schemas to build ``gankit train toy2d --help``.
"""

from __future__ import annotations

from dataclasses import dataclass

from gankit.options import check_bounds, option

COUNT_HELP = "number of points (spread evenly over the modes)"
STD_HELP = "standard deviation of each Gaussian"
SEED_HELP = "seed of the points (independent of --seed)"


@dataclass(frozen=True)
class MLPOptions:
    """Options of the ``mlp`` model."""

    latent_dim: int = option(16, "size of the generator's standard-normal latent vector", ge=1)
    hidden: int = option(64, "width of every hidden layer in G and D", ge=1)
    layers: int = option(3, "hidden layers in G and in D", ge=1)
    conditional: bool = option(False, "condition G and D on the mode index (one-hot)")

    def __post_init__(self) -> None:
        check_bounds(self)


@dataclass(frozen=True)
class RingOptions:
    """Options of ``ring8``: 8 Gaussians evenly spaced on a circle."""

    count: int = option(10000, COUNT_HELP, ge=1)
    radius: float = option(2.0, "radius of the circle the modes sit on", gt=0)
    std: float = option(0.02, STD_HELP, gt=0)
    data_seed: int = option(0, SEED_HELP)

    def __post_init__(self) -> None:
        check_bounds(self)


@dataclass(frozen=True)
class GridOptions:
    """Options of ``grid25``: a 5×5 grid of Gaussians centred on the origin."""

    count: int = option(10000, COUNT_HELP, ge=1)
    spacing: float = option(2.0, "distance between neighbouring modes (grid spans ±2·spacing)", gt=0)
    std: float = option(0.05, STD_HELP, gt=0)
    data_seed: int = option(0, SEED_HELP)

    def __post_init__(self) -> None:
        check_bounds(self)
