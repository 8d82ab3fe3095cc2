"""The options of toy2d's model and datasets: typed, frozen dataclasses whose fields become
``-o KEY VALUE`` options, API keywords and config-file keys.

No torch or numpy here: the registry reads these schemas to build ``gankit train toy2d --help``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MLPOptions:
    """Options of the ``mlp`` model."""

    latent_dim: int = field(default=16, metadata={"help": "size of the generator's standard-normal latent vector"})
    hidden: int = field(default=64, metadata={"help": "width of every hidden layer in G and D"})
    layers: int = field(default=3, metadata={"help": "hidden layers in G and in D"})
    conditional: bool = field(default=False, metadata={"help": "condition G and D on the mode index (one-hot)"})

    def __post_init__(self) -> None:
        for name in ("latent_dim", "hidden", "layers"):
            _positive(name, getattr(self, name))


@dataclass(frozen=True)
class RingOptions:
    """Options of ``ring8``: 8 Gaussians evenly spaced on a circle."""

    count: int = field(default=10000, metadata={"help": "number of points (spread evenly over the modes)"})
    radius: float = field(default=2.0, metadata={"help": "radius of the circle the modes sit on"})
    std: float = field(default=0.02, metadata={"help": "standard deviation of each Gaussian"})
    data_seed: int = field(default=0, metadata={"help": "seed of the points (independent of --seed)"})

    def __post_init__(self) -> None:
        _positive("count", self.count)
        _positive_float("radius", self.radius)
        _positive_float("std", self.std)


@dataclass(frozen=True)
class GridOptions:
    """Options of ``grid25``: a 5×5 grid of Gaussians centred on the origin."""

    count: int = field(default=10000, metadata={"help": "number of points (spread evenly over the modes)"})
    spacing: float = field(default=2.0, metadata={"help": "distance between neighbouring modes (grid spans ±2·spacing)"})
    std: float = field(default=0.05, metadata={"help": "standard deviation of each Gaussian"})
    data_seed: int = field(default=0, metadata={"help": "seed of the points (independent of --seed)"})

    def __post_init__(self) -> None:
        _positive("count", self.count)
        _positive_float("spacing", self.spacing)
        _positive_float("std", self.std)


def _positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _positive_float(name: str, value: float) -> None:
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
