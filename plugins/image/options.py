"""Options of the image plugin's models and datasets.

Kept free of torch/numpy imports: the registry reads these schemas to build ``--help``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class MLPOptions:
    """Options of the ``mlp`` model."""

    latent_dim: int = field(default=100, metadata={"help": "size of the generator's standard-normal latent vector"})
    hidden: int = field(default=128, metadata={"help": "width of both hidden layers in G and D"})
    negative_slope: float = field(default=0.2, metadata={"help": "slope of LeakyReLU for negative inputs"})
    dropout: float = field(default=0.0, metadata={"help": "dropout in D after each hidden activation (0: off)"})
    conditional: bool = field(
        default=False,
        metadata={"help": "class-conditional: a label embedding joins z in G, a projection head in D (needs labelled data)"},
    )

    def __post_init__(self) -> None:
        _positive("latent_dim", self.latent_dim)
        _positive("hidden", self.hidden)
        if self.negative_slope < 0:
            raise ValueError(f"negative_slope must be >= 0, got {self.negative_slope}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


@dataclass(frozen=True)
class DCGANOptions:
    """Options of the ``dcgan`` model (Radford et al. 2016), for 28, 32 and 64 pixel images."""

    latent_dim: int = field(default=100, metadata={"help": "size of the generator's standard-normal latent vector"})
    width: int = field(
        default=64,
        metadata={"help": "base channel count: G's last hidden layer and D's first layer; doubled at each coarser scale"},
    )
    d_norm: Literal["batchnorm", "spectral", "none"] = field(
        default="batchnorm",
        metadata={"help": "normalisation in D: batchnorm (the paper), spectral (spectral norm on every layer, "
                          "no BatchNorm; allows --penalty gp) or none"},
    )
    conditional: bool = field(
        default=False,
        metadata={"help": "class-conditional: a label embedding joins z in G, a projection head in D (needs labelled data)"},
    )

    def __post_init__(self) -> None:
        _positive("latent_dim", self.latent_dim)
        _positive("width", self.width)
        if self.d_norm not in ("batchnorm", "spectral", "none"):
            raise ValueError(f"d_norm must be batchnorm, spectral or none, got {self.d_norm!r}")


@dataclass(frozen=True)
class ShapesOptions:
    """Options of the embedded ``shapes`` dataset."""

    count: int = field(default=10000, metadata={"help": "number of images to draw"})
    size: int = field(default=28, metadata={"help": "image height and width in pixels"})
    channels: Literal[1, 3] = field(default=1, metadata={"help": "1: grayscale; 3: RGB with a random colour per shape"})
    data_seed: int = field(
        default=0, metadata={"help": "seed of the drawing (independent of --seed); the same seed gives the same images"}
    )

    def __post_init__(self) -> None:
        _positive("count", self.count)
        if self.size < 8:
            raise ValueError(f"size must be at least 8 pixels, got {self.size}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")


@dataclass(frozen=True)
class MNISTOptions:
    """Options of the ``mnist`` dataset."""

    split: Literal["auto", "train", "test"] = field(
        default="auto",
        metadata={"help": "which files to read; auto: train if present in --data, else test (downloads: train)"},
    )
    limit: int | None = field(default=None, metadata={"help": "use only the first N images"})

    def __post_init__(self) -> None:
        if self.split not in ("auto", "train", "test"):
            raise ValueError(f"split must be auto, train or test, got {self.split!r}")
        if self.limit is not None:
            _positive("limit", self.limit)


@dataclass(frozen=True)
class FashionMNISTOptions(MNISTOptions):
    """Options of the ``fashion-mnist`` dataset (the same as ``mnist``'s)."""


@dataclass(frozen=True)
class CIFAR10Options:
    """Options of the ``cifar10`` dataset."""

    split: Literal["train", "test"] = field(
        default="train", metadata={"help": "train: the five data batches (50000 images); test: the test batch"}
    )
    limit: int | None = field(default=None, metadata={"help": "use only the first N images"})

    def __post_init__(self) -> None:
        if self.split not in ("train", "test"):
            raise ValueError(f"split must be train or test, got {self.split!r}")
        if self.limit is not None:
            _positive("limit", self.limit)


@dataclass(frozen=True)
class FolderOptions:
    """Options of the ``folder`` dataset."""

    size: int = field(default=64, metadata={"help": "image height and width in pixels after resizing"})
    channels: Literal[1, 3] = field(default=3, metadata={"help": "1: grayscale; 3: RGB"})
    crop: Literal["centre", "stretch"] = field(
        default="centre",
        metadata={"help": "centre: resize the short side to size, then crop the middle; "
                          "stretch: resize to size×size, ignoring the aspect ratio"},
    )
    limit: int | None = field(default=None, metadata={"help": "use only the first N image files (in sorted order)"})

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 4:
            raise ValueError(f"size must be an integer of at least 4 pixels, got {self.size!r}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if self.crop not in ("centre", "stretch"):
            raise ValueError(f"crop must be centre or stretch, got {self.crop!r}")
        if self.limit is not None:
            _positive("limit", self.limit)


def _positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
