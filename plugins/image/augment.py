"""Differentiable augmentation of the discriminator's inputs (DiffAugment, Zhao et al. 2020,
"Differentiable Augmentation for Data-Efficient GAN Training").

With little data, D memorises the real set and G's gradients stop carrying information.
DiffAugment applies the same random transformations to real and fake images every time D
sees them — in the D phase, the G phase and the R1/GP penalties — and keeps them
differentiable, so G learns through them and never learns to produce the augmentations
itself. The three policies are the paper's, on images in [-1, 1]:

- ``color``: brightness shift U(-0.5, 0.5), saturation scale U(0, 2) (colour images only),
  contrast scale U(0.5, 1.5);
- ``translation``: a shift of up to 1/8 of the image size in each direction, zero-padded;
- ``cutout``: one square of half the image size, zeroed, at a random place.

Random numbers come from the engine's latent generator (saved in checkpoints), so a
resumed run draws the same augmentations.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.errors import GankitError
from gankit.specs import DataInfo

TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5

Augment = Callable[[Tensor, torch.Generator], Tensor]


def _uniform(x: Tensor, generator: torch.Generator, low: float, high: float) -> Tensor:
    return torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype, generator=generator) * (high - low) + low


def color(x: Tensor, generator: torch.Generator) -> Tensor:
    x = x + _uniform(x, generator, -0.5, 0.5)
    if x.shape[1] > 1:
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * _uniform(x, generator, 0.0, 2.0) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * _uniform(x, generator, 0.5, 1.5) + mean


def translation(x: Tensor, generator: torch.Generator, ratio: float = TRANSLATION_RATIO) -> Tensor:
    n, _, height, width = x.shape
    max_y, max_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    shift_y = torch.randint(-max_y, max_y + 1, (n, 1, 1), device=x.device, generator=generator)
    shift_x = torch.randint(-max_x, max_x + 1, (n, 1, 1), device=x.device, generator=generator)
    rows = (torch.arange(height, device=x.device).view(1, -1, 1) + shift_y + 1).clamp(0, height + 1)
    cols = (torch.arange(width, device=x.device).view(1, 1, -1) + shift_x + 1).clamp(0, width + 1)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)  # reads past the edge land on the zero border
    batch = torch.arange(n, device=x.device).view(-1, 1, 1)
    return padded[batch, rows, cols].permute(0, 3, 1, 2).contiguous()


def cutout(x: Tensor, generator: torch.Generator, ratio: float = CUTOUT_RATIO) -> Tensor:
    n, _, height, width = x.shape
    cut_h, cut_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
    top = torch.randint(0, height + (1 - cut_h % 2), (n, 1, 1), device=x.device, generator=generator)
    left = torch.randint(0, width + (1 - cut_w % 2), (n, 1, 1), device=x.device, generator=generator)
    rows = (torch.arange(cut_h, device=x.device).view(1, -1, 1) + top - cut_h // 2).clamp(0, height - 1)
    cols = (torch.arange(cut_w, device=x.device).view(1, 1, -1) + left - cut_w // 2).clamp(0, width - 1)
    mask = torch.ones(n, height, width, device=x.device, dtype=x.dtype)
    mask[torch.arange(n, device=x.device).view(-1, 1, 1), rows, cols] = 0
    return x * mask.unsqueeze(1)


POLICIES: dict[str, Augment] = {"color": color, "translation": translation, "cutout": cutout}


def make_augment(policy: str, info: DataInfo) -> Augment:
    """The ``DomainSpec.make_augment`` of the image domain: ``policy`` is a comma-separated
    list of ``color``, ``translation``, ``cutout``, applied in that order as written."""
    names = [name.strip() for name in policy.split(",") if name.strip()]
    unknown = [name for name in names if name not in POLICIES]
    if unknown or not names:
        raise GankitError(f"unknown augmentation {', '.join(unknown) or repr(policy)} for images; "
                          f"--augment takes a comma-separated list of: {', '.join(POLICIES)}")
    if len(info.shape) != 3:
        raise GankitError(f"--augment needs images C×H×W, got samples of shape {tuple(info.shape)}")
    steps = [POLICIES[name] for name in names]

    def augment(x: Tensor, generator: torch.Generator) -> Tensor:
        for step in steps:
            x = step(x, generator)
        return x

    return augment
