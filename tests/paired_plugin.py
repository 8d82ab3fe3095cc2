"""A throwaway plugin for Engine 2's contract: paired, tensor-conditioned data.

Domain ``paired``: each sample is a 2-D point ``x = W c + noise`` with its condition ``c``, a
3-D float vector (or ``{"c": c}`` with ``-o dict_condition true``). The model ``net`` has a
generator ``G(z, c)`` (deterministic with ``-o latent_dim 0``), a discriminator with two
heads (one sees ``x``, one sees ``(x, c)``) that returns their logits and hidden features
(for ``--feature-matching``), and an auxiliary L1 loss between the fake and the real sample
of the same condition — the shape of a vocoder or pix2pix, in two dimensions. Registered by
the ``paired_plugin`` fixture; it uses only public hooks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from gankit.hookspecs import hookimpl
from gankit.models import DiscriminatorOutput, Generator
from gankit.specs import AuxLossSpec, DatasetSpec, DataInfo, DomainSpec, ModelSpec
from gauss_plugin import write_preview, write_samples  # points written one per line, as the gauss domain does

W = torch.tensor([[1.0, -2.0, 0.5], [0.0, 1.5, -1.0]])  # x = W c + noise
COND_DIM = 3


@dataclass(frozen=True)
class PairedDataOptions:
    count: int = field(default=1024, metadata={"help": "number of pairs"})
    noise: float = field(default=0.05, metadata={"help": "std of the noise added to W c"})
    dict_condition: bool = field(default=False, metadata={"help": "give the condition as {'c': tensor}"})
    data_seed: int = field(default=0, metadata={"help": "seed of the pairs"})


@dataclass(frozen=True)
class PairedNetOptions:
    latent_dim: int = field(default=2, metadata={"help": "latent size (0: deterministic generator)"})
    hidden: int = field(default=32, metadata={"help": "hidden width"})
    features: bool = field(default=True, metadata={"help": "D returns its feature maps"})


def condition_tensor(cond: Any) -> torch.Tensor:
    return cond["c"] if isinstance(cond, dict) else cond


class PairedGenerator(Generator):
    conditional = True

    def __init__(self, options: PairedNetOptions):
        super().__init__()
        self.latent_dim = options.latent_dim
        self.net = nn.Sequential(nn.Linear(options.latent_dim + COND_DIM, options.hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(options.hidden, options.hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(options.hidden, 2))

    def forward(self, z: torch.Tensor | None, cond: Any = None) -> torch.Tensor:
        c = condition_tensor(cond)
        return self.net(c if z is None else torch.cat([z, c], dim=1))


class Head(nn.Module):
    def __init__(self, inputs: int, hidden: int):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(inputs, hidden), nn.LeakyReLU(0.2))
        self.out = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.body(x)
        return self.out(hidden), hidden


class PairedDiscriminator(nn.Module):
    """Two heads: one judges the point alone, one the point with its condition."""

    def __init__(self, options: PairedNetOptions):
        super().__init__()
        self.point = Head(2, options.hidden)
        self.pair = Head(2 + COND_DIM, options.hidden)
        self.features = options.features

    def forward(self, x: torch.Tensor, cond: Any = None) -> DiscriminatorOutput:
        point_logits, point_hidden = self.point(x)
        pair_logits, pair_hidden = self.pair(torch.cat([x, condition_tensor(cond)], dim=1))
        features = (point_hidden, pair_hidden) if self.features else ()
        return DiscriminatorOutput(logits=(point_logits, pair_logits), features=features)


class Pairs(torch.utils.data.Dataset):
    def __init__(self, options: PairedDataOptions):
        rng = np.random.default_rng(options.data_seed)
        c = torch.from_numpy(rng.uniform(-1, 1, size=(options.count, COND_DIM)).astype(np.float32))
        x = c @ W.T + options.noise * torch.from_numpy(rng.normal(size=(options.count, 2)).astype(np.float32))
        cond: Any = {"c": c} if options.dict_condition else c
        self.tensors = (x, cond)
        self.info = DataInfo(shape=(2,), value_range=None, extra={"cond_dim": COND_DIM})
        self.description = f"{options.count} pairs x = W c + N(0, {options.noise}^2)"

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, Any]:
        x, cond = self.tensors
        return x[i], ({"c": cond["c"][i]} if isinstance(cond, dict) else cond[i])


def paired_l1(model_options: Any, dataset_options: Any, info: DataInfo):
    """The L1 distance between each fake and the real sample of the same condition."""
    def loss(real: torch.Tensor, fake: torch.Tensor, cond: Any) -> torch.Tensor:
        return (fake.float() - real.float()).abs().mean()
    return loss


def from_numpy(array: np.ndarray, info: DataInfo) -> torch.Tensor:
    return torch.from_numpy(np.asarray(array, dtype=np.float32))


@hookimpl
def register_domains(register):
    register(DomainSpec(name="paired", description="points paired with a condition vector (test plugin)",
                        default_model="net", default_dataset="pairs", write_samples=write_samples,
                        write_preview=write_preview, to_numpy=lambda batch, info: batch.numpy(),
                        from_numpy=from_numpy))


@hookimpl
def register_models(register):
    register(ModelSpec(
        name="net", domain="paired", description="conditional MLP G, two-head D with features",
        build=lambda options, info: (PairedGenerator(options), PairedDiscriminator(options)),
        options=PairedNetOptions,
        defaults={"objective": "lsgan", "feature_matching": 2.0, "ema_decay": 0.0, "lr_g": 2e-3, "lr_d": 2e-3,
                  "betas_g": (0.8, 0.99), "betas_d": (0.8, 0.99)},
        aux_losses=(AuxLossSpec("l1", 5.0, paired_l1, "L1 between the fake and the real sample of its condition"),),
    ))


@hookimpl
def register_datasets(register):
    register(DatasetSpec(name="pairs", domain="paired", description="x = W c + noise, c uniform in [-1, 1]^3",
                         build=lambda options, path: Pairs(options), options=PairedDataOptions))
