"""The contract between the engine and a model plugin's networks.

A generator subclasses :class:`Generator`: ``forward(z, cond)`` maps noise (``None`` for a
deterministic generator with ``latent_dim = 0``) and a condition (see
:mod:`gankit.conditions`) to what the discriminator consumes. A discriminator is any
``nn.Module`` whose ``forward(x, cond)`` returns either one logit per sample (shape ``(N,)``
or ``(N, 1)``) or a :class:`DiscriminatorOutput`: several logit tensors (multi-scale or
multi-period discriminators, patch logits) and, for feature matching, its intermediate
feature maps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import nn

from .conditions import is_class_condition


@dataclass(frozen=True)
class DiscriminatorOutput:
    """What a discriminator with several heads returns.

    ``logits``: one tensor per head, each with the batch as its first dimension and any
    shape after it (``(N,)``, ``(N, 1)``, patch logits ``(N, 1, T)``...). The objective is
    applied to each head over all its elements and the heads' losses are summed.
    ``features``: feature maps, each with the batch first, in the same order for real and
    fake input; the feature-matching loss (``--feature-matching WEIGHT``) is the mean
    absolute difference between real and fake maps, summed over maps.
    """

    logits: Sequence[torch.Tensor]
    features: Sequence[torch.Tensor] = ()


def as_output(result: torch.Tensor | DiscriminatorOutput) -> DiscriminatorOutput:
    """A discriminator's return value in its structured form (one logit tensor: one head)."""
    if isinstance(result, DiscriminatorOutput):
        return result
    if isinstance(result, torch.Tensor):
        return DiscriminatorOutput((result,))
    raise TypeError(f"a discriminator must return a tensor of logits or a DiscriminatorOutput, "
                    f"not {type(result).__name__}")


def logit_sum(result: torch.Tensor | DiscriminatorOutput) -> torch.Tensor:
    """The sum of every logit of every head in float32 (what penalties differentiate)."""
    return sum(logits.float().sum() for logits in as_output(result).logits)  # type: ignore[return-value]


class Generator(nn.Module):
    """Base class for generators.

    ``forward(z, cond)`` returns what the discriminator consumes during training (for text,
    soft one-hot tokens); ``generate(z, cond)`` returns samples in the domain's canonical
    form (for text, hard token ids). For most domains the two are the same.

    ``num_classes > 0`` makes a class-conditional generator (the dataset's integer labels
    are its condition). ``conditional = True`` without classes makes one conditioned on the
    dataset's tensor (or dict) conditions. ``latent_dim = 0`` makes a deterministic
    generator: ``sample_latent`` returns None and ``forward`` is called with ``z=None``.
    """

    latent_dim: int = 100
    num_classes: int = 0

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    def sample_latent(self, n: int, *, device: torch.device | str = "cpu",
                      generator: torch.Generator | None = None) -> torch.Tensor | None:
        if self.latent_dim == 0:
            return None
        return torch.randn(n, self.latent_dim, device=device, generator=generator)

    def sample_condition(self, real_cond: Any, *, generator: torch.Generator | None = None) -> Any:
        """The condition the fake batch of a training step is generated for, given the real
        batch's. Classes are drawn uniformly (the classic conditional GAN); any other
        condition is the real batch's own (paired: a vocoder's mel, a table's condition
        vector), so real and fake samples share their conditions."""
        if self.num_classes > 0 and is_class_condition(real_cond):
            return torch.randint(self.num_classes, real_cond.shape, device=real_cond.device, generator=generator)
        return real_cond

    def generate(self, z: torch.Tensor | None, cond: Any = None) -> torch.Tensor:
        return self(z, cond)

    def on_step(self, step: int, total_steps: int) -> None:
        """Called before each training step; schedules (a Gumbel-softmax temperature, say)
        are functions of ``step`` and ``total_steps`` so a resumed run follows them.
        ``total_steps`` is the run's horizon: the steps it was started with, kept when a
        resumed run is given more."""
