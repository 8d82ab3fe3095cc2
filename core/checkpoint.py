"""Checkpoints: atomic writes, safe loads, and the RNG states a resumed run needs.

A checkpoint holds plain tensors and plain Python data only and is opened with
``torch.load(weights_only=True)``, so opening one never runs code.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .atomic import atomic_write
from .errors import GankitError

FORMAT_VERSION = 1
STEP_PATTERN = re.compile(r"^step-(\d{7,})\.pt$")


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write ``state`` to ``path`` atomically (:func:`gankit.atomic.atomic_write`), so
    ``path`` is always either the old complete file or the new complete file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda handle: torch.save(state, handle))


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Open a checkpoint without running code (``weights_only=True``) on any device."""
    if not path.is_file():
        raise GankitError(f"checkpoint {str(path)!r} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise GankitError(
            f"cannot open checkpoint {str(path)!r} safely: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        ) from None
    if not isinstance(state, dict) or "format_version" not in state:
        raise GankitError(f"{str(path)!r} is not a gankit checkpoint")
    if state["format_version"] > FORMAT_VERSION:
        raise GankitError(
            f"checkpoint {str(path)!r} has format {state['format_version']}, newer than this gankit reads "
            f"({FORMAT_VERSION}); upgrade gankit"
        )
    return state


def checkpoint_step(path: Path) -> int:
    """The step of a checkpoint, read without loading its tensors (memory-mapped)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        return int(state["step"])
    except Exception as exc:
        raise GankitError(f"cannot read the step of checkpoint {str(path)!r}: {type(exc).__name__}: {exc}") from None


def find_checkpoint(run_or_checkpoint: str | Path) -> Path:
    """A checkpoint file from a run directory (its ``checkpoints/last.pt``) or a file path."""
    path = Path(run_or_checkpoint)
    if path.is_dir():
        candidate = path / "checkpoints" / "last.pt"
        if candidate.is_file():
            return candidate
        raise GankitError(f"{str(path)!r} holds no checkpoints/last.pt; is it a gankit run directory?")
    if path.is_file():
        return path
    raise GankitError(f"{str(path)!r} is neither a run directory nor a checkpoint file")


def run_dir_of(checkpoint: Path) -> Path:
    """The run directory a checkpoint file belongs to (``RUN/checkpoints/x.pt`` → ``RUN``)."""
    return checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else checkpoint.parent


def step_checkpoint_name(step: int) -> str:
    return f"step-{step:07d}.pt"


def prune_checkpoints(folder: Path, keep_last: int) -> None:
    """Delete all but the ``keep_last`` newest ``step-*.pt`` files (0 keeps all)."""
    if keep_last <= 0:
        return
    steps = sorted(
        (int(m.group(1)), p) for p in folder.iterdir() if (m := STEP_PATTERN.match(p.name))
    )
    for _, path in steps[:-keep_last]:
        path.unlink(missing_ok=True)


def capture_rng_state(noise: torch.Generator) -> dict[str, Any]:
    """Every RNG a run draws from, as tensors and plain data (``np.random.get_state()``
    itself holds an ndarray that ``weights_only`` loading refuses)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "noise": noise.get_state(),
        "noise_device": str(noise.device),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": pos,
                  "has_gauss": has_gauss, "cached": cached},
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any], noise: torch.Generator) -> None:
    torch.set_rng_state(state["torch"].cpu())
    if torch.device(state["noise_device"]).type == noise.device.type:
        noise.set_state(state["noise"].cpu())
    np_state = state["numpy"]
    np.random.set_state((np_state["kind"], np_state["keys"].numpy().astype(np.uint32), np_state["pos"],
                         np_state["has_gauss"], np_state["cached"]))
    py_state = state["python"]
    random.setstate((py_state["version"], tuple(py_state["internal"]), py_state["gauss"]))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
