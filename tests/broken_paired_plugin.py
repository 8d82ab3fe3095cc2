"""Broken variants of the paired test plugin (``paired_plugin``), one contract break each,
for the conformance kit's tests. Registered with ``gankit.testing.plugin_registered`` beside
the ``paired_plugin`` fixture, which provides the domain; each variant is a model or dataset
of the ``paired`` domain built by subclassing the paired plugin's classes.

Models: ``heads-differ`` (D drops its second head for input that needs no gradient: real
batches), ``transposed`` (D's second head is ``(1, N)``), ``aux-vector`` and ``aux-nan``
(the auxiliary loss is not a scalar / is NaN), ``ignores-none`` (G concatenates ``z`` even
when ``latent_dim`` is 0), ``undocumented`` (a model option without help text; everything
else conforms). Dataset: ``ragged`` (odd items carry a condition of another shape).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

import paired_plugin as paired
from gankit.hookspecs import hookimpl
from gankit.models import DiscriminatorOutput
from gankit.specs import AuxLossSpec, DatasetSpec, ModelSpec


class HeadsDifferDiscriminator(paired.PairedDiscriminator):
    def forward(self, x: torch.Tensor, cond: Any = None) -> DiscriminatorOutput:
        out = super().forward(x, cond)
        if x.requires_grad:  # a fake batch in the generator's phase
            return out
        return DiscriminatorOutput(logits=out.logits[:1], features=out.features[:1])


class TransposedDiscriminator(paired.PairedDiscriminator):
    def forward(self, x: torch.Tensor, cond: Any = None) -> DiscriminatorOutput:
        out = super().forward(x, cond)
        return DiscriminatorOutput(logits=(out.logits[0], out.logits[1].T), features=out.features)


class IgnoresNoneGenerator(paired.PairedGenerator):
    """Built with ``latent_dim 0``, but forward() still concatenates ``z``."""

    def forward(self, z: torch.Tensor | None, cond: Any = None) -> torch.Tensor:
        return self.net(torch.cat([z, paired.condition_tensor(cond)], dim=1))


def vector_l1(model_options: Any, dataset_options: Any, info: Any):
    def loss(real: torch.Tensor, fake: torch.Tensor, cond: Any) -> torch.Tensor:
        return (fake - real).abs()  # per element: forgot the .mean()
    return loss


def nan_l1(model_options: Any, dataset_options: Any, info: Any):
    def loss(real: torch.Tensor, fake: torch.Tensor, cond: Any) -> torch.Tensor:
        return (fake - real).abs().mean() * float("nan")
    return loss


@dataclass(frozen=True)
class UndocumentedNetOptions(paired.PairedNetOptions):
    depth: int = 2  # no help text


class RaggedPairs(paired.Pairs):
    """Odd items carry only the first two entries of their condition; no ``tensors``, so the
    items are all there is."""

    def __init__(self, options: paired.PairedDataOptions):
        super().__init__(options)
        self._x, self._cond = self.tensors
        del self.tensors

    def __len__(self) -> int:
        return len(self._x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, Any]:
        cond = self._cond[i]
        return self._x[i], (cond[:2] if i % 2 else cond)


def _model(name: str, generator: type = paired.PairedGenerator, discriminator: type = paired.PairedDiscriminator,
           aux: Any = paired.paired_l1, options: type = paired.PairedNetOptions, **defaults: Any) -> ModelSpec:
    return ModelSpec(
        name=name, domain="paired", description="broken on purpose",
        build=lambda o, info: (generator(o), discriminator(o)), options=options,
        defaults={"objective": "lsgan", "feature_matching": 2.0, "ema_decay": 0.0, **defaults},
        aux_losses=(AuxLossSpec("l1", 5.0, aux, "L1 between the fake and the real sample"),))


@hookimpl
def register_models(register):
    register(_model("heads-differ", discriminator=HeadsDifferDiscriminator))
    register(_model("transposed", discriminator=TransposedDiscriminator))
    register(_model("aux-vector", aux=vector_l1))
    register(_model("aux-nan", aux=nan_l1))
    register(_model("ignores-none", generator=IgnoresNoneGenerator))
    register(_model("undocumented", options=UndocumentedNetOptions))


@hookimpl
def register_datasets(register):
    register(DatasetSpec(name="ragged", domain="paired", description="conditions of two shapes",
                         build=lambda options, path: RaggedPairs(options), options=paired.PairedDataOptions))

