"""Relativistic average objectives (Jolicoeur-Martineau 2018, "The relativistic
discriminator: a key element missing from standard GAN").

D judges whether a real sample is more real than the *average* fake (and a fake less real
than the average real), so the two sides' logits meet through their means: for C the raw
logit, D̃(x_r) = C(x_r) − E C(x_f) and D̃(x_f) = C(x_f) − E C(x_r). Unlike ``rsgan``, the
batches need not pair up sample by sample. Both losses read the real logits
(``g_uses_real=True``): the generator also pulls real samples' relative scores down.
Everything is computed in float32 from logits of shape (N,) or (N, 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _relative(real_logits: torch.Tensor | None, fake_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if real_logits is None:
        raise ValueError("relativistic average losses compare with the real logits; real_logits must not be None")
    real, fake = real_logits.float().reshape(-1), fake_logits.float().reshape(-1)
    return real - fake.mean(), fake - real.mean()


def rasgan_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """−log σ(D̃(x_r)) − log(1 − σ(D̃(x_f)))."""
    real, fake = _relative(real_logits, fake_logits)
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def rasgan_g_loss(real_logits: torch.Tensor | None, fake_logits: torch.Tensor) -> torch.Tensor:
    """−log σ(D̃(x_f)) − log(1 − σ(D̃(x_r))): the roles swapped."""
    real, fake = _relative(real_logits, fake_logits)
    return F.softplus(-fake).mean() + F.softplus(real).mean()


def ralsgan_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """(D̃(x_r) − 1)² + (D̃(x_f) + 1)²."""
    real, fake = _relative(real_logits, fake_logits)
    return (real - 1).pow(2).mean() + (fake + 1).pow(2).mean()


def ralsgan_g_loss(real_logits: torch.Tensor | None, fake_logits: torch.Tensor) -> torch.Tensor:
    """(D̃(x_f) − 1)² + (D̃(x_r) + 1)²."""
    real, fake = _relative(real_logits, fake_logits)
    return (fake - 1).pow(2).mean() + (real + 1).pow(2).mean()
