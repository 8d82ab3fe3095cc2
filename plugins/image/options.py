"""Options of the image plugin's models and datasets.

Kept free of torch/numpy imports: the registry reads these schemas to build ``--help``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gankit.options import check_bounds, option

CONDITIONAL_HELP = "class-conditional: a label embedding joins z in G, a projection head in D (needs labelled data)"
LIMIT_HELP = "use only the first N images"


@dataclass(frozen=True)
class MLPOptions:
    """Options of the ``mlp`` model."""

    latent_dim: int = option(100, "size of the generator's standard-normal latent vector", ge=1)
    hidden: int = option(128, "width of both hidden layers in G and D", ge=1)
    negative_slope: float = option(0.2, "slope of LeakyReLU for negative inputs", ge=0)
    dropout: float = option(0.0, "dropout in D after each hidden activation (0: off)", ge=0, lt=1)
    conditional: bool = option(False, CONDITIONAL_HELP)

    def __post_init__(self) -> None:
        check_bounds(self)


@dataclass(frozen=True)
class DCGANOptions:
    """Options of the ``dcgan`` model (Radford et al. 2016), for 28, 32 and 64 pixel images."""

    latent_dim: int = option(100, "size of the generator's standard-normal latent vector", ge=1)
    width: int = option(
        64, "base channel count: G's last hidden layer and D's first layer; doubled at each coarser scale", ge=1
    )
    d_norm: Literal["batchnorm", "spectral", "none"] = option(
        "batchnorm",
        "normalisation in D: batchnorm (the paper), spectral (spectral norm on every layer, no BatchNorm; allows "
        "--penalty gp) or none",
    )
    conditional: bool = option(False, CONDITIONAL_HELP)

    def __post_init__(self) -> None:
        check_bounds(self)
        if self.d_norm not in ("batchnorm", "spectral", "none"):
            raise ValueError(f"d_norm must be batchnorm, spectral or none, got {self.d_norm!r}")


@dataclass(frozen=True)
class ShapesOptions:
    """Options of the embedded ``shapes`` dataset."""

    count: int = option(10000, "number of images to draw", ge=1)
    size: int = option(28, "image height and width in pixels", ge=8)
    channels: Literal[1, 3] = option(1, "1: grayscale; 3: RGB with a random colour per shape")
    data_seed: int = option(0, "seed of the drawing (independent of --seed); the same seed gives the same images")

    def __post_init__(self) -> None:
        check_bounds(self)
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")


@dataclass(frozen=True)
class MNISTOptions:
    """Options of the ``mnist`` dataset."""

    split: Literal["auto", "train", "test"] = option(
        "auto", "which files to read; auto: train if present in --data, else test (downloads: train)"
    )
    limit: int | None = option(None, LIMIT_HELP, ge=1)

    def __post_init__(self) -> None:
        check_bounds(self)
        if self.split not in ("auto", "train", "test"):
            raise ValueError(f"split must be auto, train or test, got {self.split!r}")


@dataclass(frozen=True)
class FashionMNISTOptions(MNISTOptions):
    """Options of the ``fashion-mnist`` dataset (the same as ``mnist``'s)."""


@dataclass(frozen=True)
class CIFAR10Options:
    """Options of the ``cifar10`` dataset."""

    split: Literal["train", "test"] = option(
        "train", "train: the five data batches (50000 images); test: the test batch"
    )
    limit: int | None = option(None, LIMIT_HELP, ge=1)

    def __post_init__(self) -> None:
        check_bounds(self)
        if self.split not in ("train", "test"):
            raise ValueError(f"split must be train or test, got {self.split!r}")


@dataclass(frozen=True)
class FolderOptions:
    """Options of the ``folder`` dataset."""

    size: int = option(64, "image height and width in pixels after resizing", ge=4)
    channels: Literal[1, 3] = option(3, "1: grayscale; 3: RGB")
    crop: Literal["centre", "stretch"] = option(
        "centre",
        "centre: resize the short side to size, then crop the middle; stretch: resize to size×size, ignoring the "
        "aspect ratio",
    )
    limit: int | None = option(None, "use only the first N image files (in sorted order)", ge=1)

    def __post_init__(self) -> None:
        check_bounds(self)
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if self.crop not in ("centre", "stretch"):
            raise ValueError(f"crop must be centre or stretch, got {self.crop!r}")


@dataclass(frozen=True)
class ImageMetricOptions:
    """Options of the image metrics ``fid``, ``kid``, ``is`` and ``prdc``
    (``gankit evaluate --metric-option KEY VALUE``)."""

    resize: Literal["pytorch-fid", "torch-fidelity", "clean"] | None = option(
        None,
        "how 8-bit images reach the FID Inception-v3's 299x299 input, as the named tool does it: pytorch-fid's "
        "bilinear, torch-fidelity's TensorFlow-1 bilinear, or clean-fid's PIL bicubic (needs GANKIT_FID_WEIGHTS; "
        "none: pytorch-fid)",
    )

    def __post_init__(self) -> None:
        if self.resize not in (None, "pytorch-fid", "torch-fidelity", "clean"):
            raise ValueError(f"resize must be pytorch-fid, torch-fidelity or clean, got {self.resize!r}")
