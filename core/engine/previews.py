"""The fixed inputs previews are generated from, drawn once from their own generator so
previews never change the training RNG and compare across steps."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from ..conditions import map_condition, stack_conditions

PREVIEW_SEED_OFFSET = 7919
MAX_PREVIEW_CLASSES = 16  # conditional previews: one row per class up to this many classes


class PreviewInputs(NamedTuple):
    """What every preview of a run is generated from, and what it is compared with."""

    z: torch.Tensor | None  # on the run's device
    cond: Any  # on the run's device
    real: torch.Tensor | None  # the real samples of the dataset items ``cond`` came from (CPU); else None


def preview_inputs(generator: Any, n: int, seed: int, device: torch.device,
                   dataset: Any = None) -> PreviewInputs:
    """Latents and conditions of the preview batch, and the real samples paired with them.

    A class-conditional model with up to :data:`MAX_PREVIEW_CLASSES` classes previews a
    square grid with one class per row (so ``n`` becomes classes × classes); with more
    classes the labels cycle. A model conditioned on tensors previews the conditions of the
    dataset's first ``n`` items, and ``real`` holds those items' samples (kept on the CPU:
    they are only written beside the preview)."""
    classes = generator.num_classes
    cond: Any = None
    real = None
    if 0 < classes <= MAX_PREVIEW_CLASSES:
        n = classes * classes
        cond = torch.arange(n) // classes
    elif classes > 0:
        cond = torch.arange(n) % classes
    elif generator.conditional and dataset is not None:
        items = [dataset[i] for i in range(min(n, len(dataset)))]
        n = len(items)
        cond = stack_conditions([item[1] for item in items])
        real = torch.stack([torch.as_tensor(item[0]) for item in items])
    fixed = torch.Generator().manual_seed(seed + PREVIEW_SEED_OFFSET)
    z = generator.sample_latent(n, device="cpu", generator=fixed)
    return PreviewInputs(z.to(device) if z is not None else None, map_condition(lambda t: t.to(device), cond), real)
