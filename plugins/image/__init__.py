"""The built-in ``image`` plugin: the image domain, the ``mlp`` model and the ``shapes``
and ``mnist`` datasets.

Registering must stay cheap (``gankit --help``), so this module imports no torch, numpy
or PIL: the callables in the specs below import their module on first call.
"""

from __future__ import annotations

from typing import Callable

from gankit.hookspecs import hookimpl
from gankit.specs import DatasetSpec, DomainSpec, ModelSpec, lazy

from .options import MLPOptions, MNISTOptions, ShapesOptions


@hookimpl
def register_domains(register: Callable[[DomainSpec], None]) -> None:
    register(
        DomainSpec(
            name="image",
            description="images as float C×H×W tensors in [-1, 1]; samples written as PNG",
            default_model="mlp",
            default_dataset="shapes",
            write_samples=lazy("gankit.plugins.image.io:write_samples"),
            write_preview=lazy("gankit.plugins.image.io:write_preview"),
            to_numpy=lazy("gankit.plugins.image.io:to_numpy"),
        )
    )


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
    register(
        ModelSpec(
            name="mlp",
            domain="image",
            description="fully connected GAN (z=100, two 128-unit LeakyReLU layers in G and D)",
            build=lazy("gankit.plugins.image.mlp:build"),
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
            build=lazy("gankit.plugins.image.datasets:build_shapes"),
            options=ShapesOptions,
        )
    )
    register(
        DatasetSpec(
            name="mnist",
            domain="image",
            description="MNIST digits from the original IDX files in --data",
            build=lazy("gankit.plugins.image.datasets:build_mnist"),
            options=MNISTOptions,
            needs_data=True,
        )
    )
