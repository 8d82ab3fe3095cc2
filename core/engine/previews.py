"""The fixed inputs previews are generated from, drawn once from their own generator so
previews never change the training RNG and compare across steps."""

from __future__ import annotations

from typing import Any

import torch

from ..conditions import map_condition, stack_conditions

PREVIEW_SEED_OFFSET = 7919
MAX_PREVIEW_CLASSES = 16  # conditional previews: one row per class up to this many classes


def preview_inputs(generator: Any, n: int, seed: int, device: torch.device,
                   dataset: Any = None) -> tuple[torch.Tensor | None, Any]:
    """Latents and conditions of the preview batch.

    A class-conditional model with up to :data:`MAX_PREVIEW_CLASSES` classes previews a
    square grid with one class per row (so ``n`` becomes classes × classes); with more
    classes the labels cycle. A model conditioned on tensors previews the conditions of the
    dataset's first ``n`` items."""
    classes = generator.num_classes
    cond: Any = None
    if 0 < classes <= MAX_PREVIEW_CLASSES:
        n = classes * classes
        cond = torch.arange(n) // classes
    elif classes > 0:
        cond = torch.arange(n) % classes
    elif generator.conditional and dataset is not None:
        n = min(n, len(dataset))
        cond = stack_conditions([dataset[i][1] for i in range(n)])
    fixed = torch.Generator().manual_seed(seed + PREVIEW_SEED_OFFSET)
    z = generator.sample_latent(n, device="cpu", generator=fixed)
    return (z.to(device) if z is not None else None), map_condition(lambda t: t.to(device), cond)
