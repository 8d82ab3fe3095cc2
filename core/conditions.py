"""Conditions: what a conditional generator and discriminator are given besides noise.

A dataset item is ``(x, cond)``. ``cond`` is one of

- an integer class (a 0-d or ``(N,)`` int64 tensor once batched; ``-1`` means unlabelled),
- a float (or any) tensor, one row per sample (a mel-spectrogram, a condition vector),
- a dict of such tensors (several named conditions),

and ``None`` stands for "no condition" in the networks' calls. The functions here apply one
operation to every tensor of a condition, so the data stream, gradient accumulation and
sampling handle all three forms the same way.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence, Union

import torch

Condition = Union[None, torch.Tensor, Mapping[str, torch.Tensor]]


def map_condition(fn: Callable[[torch.Tensor], torch.Tensor], cond: Any) -> Any:
    """``fn`` applied to each tensor of ``cond`` (None stays None)."""
    if cond is None:
        return None
    if isinstance(cond, Mapping):
        return {key: fn(value) for key, value in cond.items()}
    return fn(cond)


def condition_tensors(cond: Any) -> list[torch.Tensor]:
    """The tensors of ``cond``, in a fixed order."""
    if cond is None:
        return []
    if isinstance(cond, Mapping):
        return [cond[key] for key in sorted(cond)]
    return [cond]


def condition_size(cond: Any) -> int | None:
    """The number of samples ``cond`` describes (its first dimension), None without one."""
    tensors = condition_tensors(cond)
    return int(tensors[0].shape[0]) if tensors else None


def split_condition(cond: Any, chunks: int) -> list[Any]:
    """``cond`` cut along its first dimension into ``chunks`` equal parts (gradient accumulation)."""
    if cond is None:
        return [None] * chunks
    if isinstance(cond, Mapping):
        parts = {key: value.chunk(chunks) for key, value in cond.items()}
        return [{key: value[i] for key, value in parts.items()} for i in range(chunks)]
    return list(cond.chunk(chunks))


def stack_conditions(items: Sequence[Any]) -> Any:
    """One batched condition from per-sample conditions (ints, tensors or dicts of tensors)."""
    first = items[0]
    if first is None:
        return None
    if isinstance(first, Mapping):
        return {key: torch.stack([torch.as_tensor(item[key]) for item in items]) for key in first}
    return torch.stack([torch.as_tensor(item) for item in items])


def is_class_condition(cond: Any) -> bool:
    """Whether ``cond`` is a batch of integer class ids (the classic conditional GAN)."""
    return isinstance(cond, torch.Tensor) and cond.dim() == 1 and not cond.is_floating_point() \
        and not cond.is_complex() and cond.dtype != torch.bool
