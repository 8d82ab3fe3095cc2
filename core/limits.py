"""Sizes checked before anything is allocated, so that a damaged or hostile file (a
``generator.json`` asking for ``hidden: 1e9``) or an absurd sample count is refused with
an estimate instead of exhausting the machine's memory.

A model is measured by building it on PyTorch's ``meta`` device, which records shapes
without allocating; the limit on its size is :data:`DEFAULT_MAX_PARAMETERS`, raised for a
trusted large model with ``GANKIT_MAX_PARAMETERS``.
"""

from __future__ import annotations

import itertools
import math
import os
from typing import Any, Callable

from .errors import GankitError
from .outputs import format_bytes

MAX_PARAMETERS_ENV = "GANKIT_MAX_PARAMETERS"
DEFAULT_MAX_PARAMETERS = 2_000_000_000


def max_parameters() -> int:
    """The largest model (parameters and buffers) gankit builds from a stored configuration."""
    value = os.environ.get(MAX_PARAMETERS_ENV, "").strip()
    if not value:
        return DEFAULT_MAX_PARAMETERS
    try:
        limit = int(float(value))
    except ValueError:
        limit = 0
    if limit < 1:
        raise GankitError(f"{MAX_PARAMETERS_ENV} must be a positive number of parameters, got {value!r}")
    return limit


def meta_size(build: Callable[[], Any]) -> float | None:
    """The parameters and buffers of the module(s) ``build()`` returns (one module or a
    tuple), built on the meta device so nothing is allocated: ``math.inf`` when a tensor's
    size overflows 64 bits, None when they cannot be built there for another reason (the
    real build then reports what is wrong)."""
    import torch
    from torch import nn

    try:
        with torch.device("meta"):
            built = build()
    except Exception as exc:
        return math.inf if "overflow" in str(exc).lower() else None
    modules = [m for m in (built if isinstance(built, (tuple, list)) else (built,)) if isinstance(m, nn.Module)]
    return sum(t.numel() for m in modules for t in itertools.chain(m.parameters(), m.buffers()))


def check_model_size(build: Callable[[], Any], what: str, advice: str | None = None) -> None:
    """Refuse, before allocating it, a model that ``build()`` would make larger than
    :func:`max_parameters`. ``what`` says where its configuration came from; ``advice``
    what to do (default: a stored file's, which is damaged or hostile)."""
    count = meta_size(build)
    limit = max_parameters()
    if count is None or count <= limit:
        return
    size = ("too many parameters to count (a tensor's size overflows 64 bits)" if count == math.inf else
            f"{int(count):,} parameters ({format_bytes(4 * count)} as float32)")
    advice = advice or (f"the file is damaged or hostile; if you trust it and have the memory, raise the limit with "
                        f"{MAX_PARAMETERS_ENV}")
    raise GankitError(f"{what} describes a model of {size}, more than gankit builds ({limit:,}): {advice}")


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``, else the free
    physical pages), or None where neither can be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
