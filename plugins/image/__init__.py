"""The built-in ``image`` plugin: the image domain, the ``mlp`` model and the ``shapes``
and ``mnist`` datasets.

Registering must stay cheap (``gankit --help``), so this module imports no torch, numpy
or PIL: the callables in the specs below import their module on first call.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from gankit.hookspecs import hookimpl
from gankit.specs import DatasetSpec, DataInfo, DomainSpec, ModelSpec

from .options import MLPOptions, MNISTOptions, ShapesOptions

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch


def _write_samples(batch: "torch.Tensor", out_dir: Path, info: DataInfo, start: int = 0) -> list[Path]:
    from .io import write_samples

    return write_samples(batch, out_dir, info, start)


def _write_preview(batch: "torch.Tensor", path: Path, info: DataInfo) -> Path:
    from .io import write_preview

    return write_preview(batch, path, info)


def _to_numpy(batch: "torch.Tensor", info: DataInfo) -> "np.ndarray":
    from .io import to_numpy

    return to_numpy(batch, info)


def _build_mlp(options: MLPOptions, info: DataInfo) -> tuple[Any, Any]:
    from .mlp import build

    return build(options, info)


def _build_shapes(options: ShapesOptions, data_path: Path | None) -> Any:
    from .datasets import build_shapes

    return build_shapes(options, data_path)


def _build_mnist(options: MNISTOptions, data_path: Path | None) -> Any:
    from .datasets import build_mnist

    return build_mnist(options, data_path)


@hookimpl
def register_domains(register: Callable[[DomainSpec], None]) -> None:
    register(
        DomainSpec(
            name="image",
            description="images as float C×H×W tensors in [-1, 1]; samples written as PNG",
            default_model="mlp",
            default_dataset="shapes",
            write_samples=_write_samples,
            write_preview=_write_preview,
            to_numpy=_to_numpy,
        )
    )


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
    register(
        ModelSpec(
            name="mlp",
            domain="image",
            description="fully connected GAN (z=100, two 128-unit LeakyReLU layers in G and D)",
            build=_build_mlp,
            options=MLPOptions,
        )
    )


@hookimpl
def register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    register(
        DatasetSpec(
            name="shapes",
            domain="image",
            description="embedded procedural images of ten simple shapes, 28×28 by default (no download)",
            build=_build_shapes,
            options=ShapesOptions,
        )
    )
    register(
        DatasetSpec(
            name="mnist",
            domain="image",
            description="MNIST digits from the original IDX files in --data",
            build=_build_mnist,
            options=MNISTOptions,
            needs_data=True,
        )
    )
