"""A throwaway plugin for tests: a domain of 2-D Gaussian points with a small MLP GAN.

Registered and unregistered by the ``gauss_plugin`` fixture; it uses only the public hooks,
like any third-party plugin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gankit.hookspecs import hookimpl
from gankit.models import Generator
from gankit.specs import DatasetSpec, DataInfo, DomainSpec, MetricResult, MetricSpec, ModelSpec, Preset

MEAN = (2.0, -1.0)
STD = (0.5, 0.25)


@dataclass(frozen=True)
class PointsOptions:
    count: int = field(default=4096, metadata={"help": "number of points"})
    data_seed: int = field(default=0, metadata={"help": "seed of the points"})


@dataclass(frozen=True)
class NetOptions:
    latent_dim: int = field(default=4, metadata={"help": "latent size"})
    hidden: int = field(default=32, metadata={"help": "hidden width"})
    batchnorm: bool = field(default=False, metadata={"help": "BatchNorm in D"})
    nan_from: int = field(default=-1, metadata={"help": "D outputs NaN from this training-mode call on (tests)"})
    nan_until: int = field(default=-1, metadata={"help": "... until this call"})


class PointGenerator(Generator):
    def __init__(self, options: NetOptions, dim: int):
        super().__init__()
        self.latent_dim = options.latent_dim
        self.net = nn.Sequential(nn.Linear(options.latent_dim, options.hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(options.hidden, options.hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(options.hidden, dim))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z)


class PointDiscriminator(nn.Module):
    def __init__(self, options: NetOptions, dim: int):
        super().__init__()
        norm = [nn.BatchNorm1d(options.hidden)] if options.batchnorm else []
        self.net = nn.Sequential(nn.Linear(dim, options.hidden), *norm, nn.LeakyReLU(0.2),
                                 nn.Linear(options.hidden, options.hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(options.hidden, 1))
        self.nan_window = range(options.nan_from, options.nan_until)
        self.calls = 0

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        out = self.net(x).squeeze(1)
        if self.training:
            self.calls += 1
            if self.calls in self.nan_window:
                out = out * float("nan")
        return out


class Points(torch.utils.data.Dataset):
    def __init__(self, options: PointsOptions):
        rng = np.random.default_rng(options.data_seed)
        x = rng.normal(MEAN, STD, size=(options.count, 2)).astype(np.float32)
        self.tensors = (torch.from_numpy(x), torch.full((options.count,), -1, dtype=torch.long))
        self.info = DataInfo(shape=(2,), value_range=None)
        self.description = f"{options.count} points from N({MEAN}, diag{STD}^2)"

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.tensors[0][i], self.tensors[1][i]


class PointsNoTensors(Points):
    """The same points, served one at a time through a DataLoader."""

    def __init__(self, options: PointsOptions):
        super().__init__(options)
        self._x, self._y = self.tensors
        del self.tensors

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self._x[i], self._y[i]

    def __len__(self) -> int:
        return len(self._x)


def write_samples(batch: torch.Tensor, out_dir: Path, info: DataInfo, start: int = 0) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, point in enumerate(batch.tolist()):
        path = out_dir / f"sample-{start + i:05d}.txt"
        path.write_text(" ".join(f"{v:.6f}" for v in point) + "\n")
        paths.append(path)
    return paths


def write_preview(batch: torch.Tensor, path: Path, info: DataInfo) -> Path:
    target = path.with_name(path.name + ".txt")
    target.write_text("\n".join(" ".join(f"{v:.4f}" for v in p) for p in batch.tolist()) + "\n")
    return target


@hookimpl
def register_domains(register):
    register(DomainSpec(name="gauss", description="2-D Gaussian points (test plugin)", default_model="net",
                        default_dataset="points", write_samples=write_samples, write_preview=write_preview,
                        to_numpy=lambda batch, info: batch.numpy(),
                        from_numpy=lambda array, info: torch.from_numpy(array).float()))


@hookimpl
def register_models(register):
    register(ModelSpec(
        name="net", domain="gauss", description="a small MLP pair",
        build=lambda options, info: (PointGenerator(options, info.shape[0]), PointDiscriminator(options, info.shape[0])),
        options=NetOptions,
        defaults={"batch_size": 128, "lr_g": 1e-3, "lr_d": 1e-3, "ema_decay": 0.0, "sample_every": 0},
        presets={"tiny": Preset("a smaller net", {"hidden": 8, "steps": 5})},
    ))


@hookimpl
def register_datasets(register):
    register(DatasetSpec(name="points", domain="gauss", description="Gaussian points",
                         build=lambda options, path: Points(options), options=PointsOptions))
    register(DatasetSpec(name="points-loader", domain="gauss", description="Gaussian points via a DataLoader",
                         build=lambda options, path: PointsNoTensors(options), options=PointsOptions))
    register(DatasetSpec(name="points-file", domain="gauss", description="points read from an .npy file in --data",
                         build=lambda options, path: Points(options), options=PointsOptions, needs_data=True))


@dataclass(frozen=True)
class MomentsOptions:
    scale: float = 1.0  # multiplies both errors (a metric option for the tests of metric options)


def moments(fake: torch.Tensor, context) -> MetricResult:
    """Distance of the samples' mean and spread from the real subset's; uses the global RNG
    on purpose, so tests can check that evaluating never changes training."""
    torch.rand(1)
    scale = context.options.scale if context.options is not None else 1.0
    mean_error = scale * (fake.mean(0) - context.real.mean(0)).norm().item()
    std_error = scale * (fake.std(0) - context.real.std(0)).norm().item()
    return MetricResult({"mean_error": mean_error, "std_error": std_error}, {"n": len(fake), "reference": "real subset"})


@hookimpl
def register_metrics(register):
    register(MetricSpec(name="moments", domain="gauss", description="mean and std distance",
                        compute=moments, primary="mean_error", higher_is_better=False, options=MomentsOptions))
