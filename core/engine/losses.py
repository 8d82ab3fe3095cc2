"""The terms of the two phases' losses: the adversarial objective over every head of the
discriminator, feature matching, and the auxiliary generator losses plugins declare."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn

from ..errors import GankitError
from ..models import DiscriminatorOutput
from ..specs import AuxLossSpec, DataInfo

ObjectiveLoss = Callable[[Any, torch.Tensor], torch.Tensor]


def adversarial_loss(loss: ObjectiveLoss, real: DiscriminatorOutput | None, fake: DiscriminatorOutput) -> torch.Tensor:
    """``loss(real_logits, fake_logits)`` summed over the discriminator's heads. A single
    head is passed as the discriminator returned it (the objective checks its shape);
    several heads are flattened, so each is scored over all its elements (patch logits)."""
    if len(fake.logits) == 1:
        return loss(real.logits[0] if real is not None else None, fake.logits[0])
    if real is not None and len(real.logits) != len(fake.logits):
        raise GankitError(f"the discriminator returned {len(real.logits)} logit tensors for real data and "
                          f"{len(fake.logits)} for fake; it must return the same heads for both")
    total = torch.zeros((), device=fake.logits[0].device)
    for index, fake_logits in enumerate(fake.logits):
        real_logits = real.logits[index].reshape(-1) if real is not None else None
        total = total + loss(real_logits, fake_logits.reshape(-1))
    return total


def feature_matching_loss(real: DiscriminatorOutput, fake: DiscriminatorOutput) -> torch.Tensor:
    """Σ over feature maps of mean |D_l(real) − D_l(fake)| (HiFi-GAN, pix2pixHD), float32."""
    if not fake.features:
        raise GankitError("--feature-matching needs a discriminator that returns its feature maps "
                          "(a DiscriminatorOutput with features); this one returns none: set --feature-matching 0")
    if len(real.features) != len(fake.features):
        raise GankitError(f"the discriminator returned {len(real.features)} feature maps for real data and "
                          f"{len(fake.features)} for fake; feature matching pairs them one to one")
    total = torch.zeros((), device=fake.features[0].device)
    for real_map, fake_map in zip(real.features, fake.features):
        total = total + (real_map.detach().float() - fake_map.float()).abs().mean()
    return total


@dataclass
class AuxTerm:
    """One auxiliary generator loss of a run: its name, weight and function."""

    name: str
    weight: float
    function: Callable[..., torch.Tensor]

    @property
    def module(self) -> nn.Module | None:
        """The function when it holds state (checkpointed with the run)."""
        return self.function if isinstance(self.function, nn.Module) else None


def build_aux_terms(specs: Sequence[AuxLossSpec], weights: Mapping[str, float], model_options: Any,
                    dataset_options: Any, info: DataInfo, device: torch.device) -> list[AuxTerm]:
    """The auxiliary losses whose effective weight is not 0, built for this run's data."""
    terms = []
    for spec in specs:
        weight = weights.get(spec.name, spec.weight)
        if weight == 0:
            continue
        function = spec.build(model_options, dataset_options, info)
        if isinstance(function, nn.Module):
            function = function.to(device)
        terms.append(AuxTerm(spec.name, float(weight), function))
    return terms
