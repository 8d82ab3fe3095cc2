"""The contract between the engine and a model plugin's networks.

A generator subclasses :class:`Generator`; a discriminator is any ``nn.Module`` whose
``forward(x, labels=None)`` returns one logit per sample (shape ``(N,)`` or ``(N, 1)``).
"""

from __future__ import annotations

import torch
from torch import nn


class Generator(nn.Module):
    """Base class for generators.

    ``forward(z, labels)`` returns what the discriminator consumes during training (for
    text, soft one-hot tokens); ``generate(z, labels)`` returns samples in the domain's
    canonical form (for text, hard token ids). For most domains the two are the same.
    ``num_classes > 0`` makes the engine pass labels to both networks.
    """

    latent_dim: int = 100
    num_classes: int = 0

    def sample_latent(self, n: int, *, device: torch.device | str = "cpu", generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.latent_dim, device=device, generator=generator)

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self(z, labels)

    def on_step(self, step: int, total_steps: int) -> None:
        """Called before each training step; schedules (a Gumbel-softmax temperature, say)
        are functions of ``step`` and ``total_steps`` so a resumed run follows them."""
