"""The canonical form of a batch of samples, shared by training, loading and evaluation.

Imports nothing from gankit, so :mod:`gankit.run` and :mod:`gankit.evaluation` can both
use it without importing each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import torch


def canonical_cpu(batch: "torch.Tensor") -> "torch.Tensor":
    """A batch on the CPU in float32 (bf16/fp16 outputs widened); integer batches (text
    token ids) keep their dtype."""
    return (batch.float() if batch.is_floating_point() else batch).cpu()
