"""Choosing the device and the numeric precision of a run."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from .errors import GankitError


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks cuda, then mps, then cpu. An explicit device that is not available
    is an error that says what is."""
    name = (name or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise GankitError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise GankitError(f"device {name!r} requested but CUDA is not available here; available: {', '.join(available_devices())}")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise GankitError(f"device {name!r} does not exist; this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif device.type == "mps":
        if not _mps_available():
            raise GankitError(f"device 'mps' requested but MPS is not available here; available: {', '.join(available_devices())}")
    elif device.type != "cpu":
        raise GankitError(f"unsupported device {name!r}; use auto, cpu, cuda, cuda:N or mps")
    return device


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def available_devices() -> list[str]:
    names = ["cpu"]
    names += [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    if _mps_available():
        names.append("mps")
    return names


def describe_devices() -> list[dict[str, object]]:
    """What ``gankit devices`` prints: one entry per accelerator torch sees, and the CPU."""
    rows: list[dict[str, object]] = [{"device": "cpu", "name": "CPU", "threads": torch.get_num_threads()}]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            rows.append({
                "device": f"cuda:{i}",
                "name": props.name,
                "memory_gib": round(props.total_memory / 2**30, 1),
                "capability": f"{props.major}.{props.minor}",
                "bf16": torch.cuda.is_bf16_supported(),
            })
    if _mps_available():
        rows.append({"device": "mps", "name": "Apple Metal (MPS)"})
    return rows


@dataclass(frozen=True)
class Precision:
    """How the forward passes run: ``dtype`` None means full fp32; ``use_scaler`` is true
    only for fp16, whose small range needs loss scaling."""

    name: str
    dtype: torch.dtype | None
    use_scaler: bool

    def autocast(self, device: torch.device, *, cache: bool = True) -> contextlib.AbstractContextManager:
        """Autocast at this precision (nothing at fp32). ``cache=False`` turns off autocast's
        cache of cast weights, which a CUDA-graph capture must not use."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.dtype, cache_enabled=cache)


def resolve_precision(name: str, device: torch.device) -> Precision:
    if name == "32":
        return Precision("32", None, False)
    if name == "bf16":
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise GankitError("precision bf16 is not supported by this GPU; use --precision 16 or 32")
        return Precision("bf16", torch.bfloat16, False)
    if name == "16":
        if device.type == "cpu":
            raise GankitError("precision 16 (fp16) needs a GPU; on CPU use --precision bf16 or 32")
        return Precision("16", torch.float16, device.type == "cuda")
    raise GankitError(f"unknown precision {name!r}; use 32, bf16 or 16")
