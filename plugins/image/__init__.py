"""The built-in ``image`` plugin: the image domain, the ``mlp`` model and the ``shapes``
and ``mnist`` datasets.

Registering must stay cheap (``gankit --help``), so this module imports no torch, numpy
or PIL: the callables in the specs below import their module on first call.
"""

from __future__ import annotations

from typing import Callable

from gankit.hookspecs import hookimpl
from gankit.specs import DatasetSpec, DomainSpec, ModelSpec, Preset, lazy

from .options import MLPOptions, MNISTOptions, ShapesOptions


# The textbook recipe (non-saturating loss, Adam 2e-4 / beta1 0.5, nothing else) collapses
# this small MLP on MNIST to a few blurry shapes. An R1 penalty on D (gamma 10, Mescheder et
# al. 2018) keeps D's gradients smooth around the data, and with a generator EMA the same
# 3000 steps give all ten digits. Measured in benchmarks/mlp_recipe.md.
MLP_DEFAULTS = {
    "objective": "non-saturating",
    "penalty": "r1",
    "penalty_weight": 10.0,
    "lr_g": 2e-4,
    "lr_d": 2e-4,
    "betas_g": (0.5, 0.999),
    "betas_d": (0.5, 0.999),
    "ema_decay": 0.999,
    "batch_size": 128,
}

MLP_PRESETS = {
    "cpu": Preset(
        "the MNIST recipe for a laptop CPU: 3000 steps of batch 128 (about 40 s on 2 cores)",
        {"steps": 3000, "batch_size": 128, "sample_every": 500, "log_every": 100},
    ),
    "seed": Preset(
        "the blog post this project grew from, done right: minimax loss, Adam 1e-3, batch 128, "
        "no penalty, no EMA",
        {"objective": "minimax", "penalty": "none", "lr_g": 1e-3, "lr_d": 1e-3, "betas_g": (0.9, 0.999),
         "betas_d": (0.9, 0.999), "ema_decay": 0.0, "batch_size": 128},
    ),
    "textbook": Preset(
        "non-saturating loss with Adam 2e-4 / beta1 0.5 and nothing else (collapses this MLP; for comparison)",
        {"objective": "non-saturating", "penalty": "none", "lr_g": 2e-4, "lr_d": 2e-4, "betas_g": (0.5, 0.999),
         "betas_d": (0.5, 0.999), "ema_decay": 0.0},
    ),
}


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
            defaults=MLP_DEFAULTS,
            presets=MLP_PRESETS,
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
