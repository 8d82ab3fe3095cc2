"""Checkpoints: atomic writes, safe loads, and the RNG states a resumed run needs.

A checkpoint holds plain tensors and plain Python data only and is opened with
``torch.load(weights_only=True)``, so opening one never runs code.
"""

from __future__ import annotations

import random
import re
import shlex
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from .atomic import atomic_write
from .errors import GankitError

FORMAT_VERSION = 1
STEP_PATTERN = re.compile(r"^step-(\d{7,})\.pt$")
SHOWN_ALTERNATIVES = 3


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write ``state`` to ``path`` atomically (:func:`gankit.atomic.atomic_write`), so
    ``path`` is always either the old complete file or the new complete file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda handle: _save(state, handle))


def _save(state: dict[str, Any], handle: BinaryIO) -> None:
    """``torch.save``, with a failed write (a full disk) raised as the ``OSError`` it is:
    torch's zip writer hides it behind a ``RuntimeError`` ("unexpected pos") as it closes."""
    try:
        torch.save(state, handle)
    except RuntimeError as exc:
        if isinstance(exc.__context__, OSError):
            raise exc.__context__ from None
        raise


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Open a checkpoint without running code (``weights_only=True``) on any device. A
    ``last.pt`` that cannot be opened is reported with the run's intact ``step-*.pt``
    files, newest first, and how to continue from one."""
    if not path.is_file():
        raise GankitError(f"checkpoint {str(path)!r} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise GankitError(_unreadable(path, exc) + _alternatives(path)) from None
    if not isinstance(state, dict) or not isinstance(state.get("format_version"), int):
        raise GankitError(f"{str(path)!r} is not a gankit checkpoint" + _alternatives(path))
    if state["format_version"] > FORMAT_VERSION:
        raise GankitError(
            f"checkpoint {str(path)!r} has format {state['format_version']}, newer than this gankit reads "
            f"({FORMAT_VERSION}); upgrade gankit"
        )
    return state


def _unreadable(path: Path, exc: Exception) -> str:
    """Why a checkpoint did not open, without torch's advice to load it unsafely."""
    text = str(exc)
    if "weights_only" in text or "Weights only load failed" in text:
        return (f"{str(path)!r} is not a gankit checkpoint: it holds Python objects besides tensors and plain data, "
                f"and gankit opens checkpoints only in the mode that never runs code from them")
    first = text.splitlines()[0].split(". ")[0].rstrip(".") if text.strip() else type(exc).__name__
    return f"cannot read checkpoint {str(path)!r}: it is damaged (cut short?) or not a checkpoint ({first})"


def _alternatives(path: Path) -> str:
    """For a run's damaged ``last.pt``: the intact step checkpoints and the command that
    continues from the newest."""
    if path.name != "last.pt" or path.parent.name != "checkpoints":
        return ""
    intact = intact_step_checkpoints(path.parent, exclude=path)
    if not intact:
        return "; the run has no intact step-*.pt checkpoint to go back to"
    names = ", ".join(p.name for p in intact[:SHOWN_ALTERNATIVES])
    names += ", ..." if len(intact) > SHOWN_ALTERNATIVES else ""
    return (f"; intact step checkpoints, newest first: {names}; to continue from the newest: "
            f"cp {shlex.quote(str(intact[0]))} {shlex.quote(str(path))}")


def intact_step_checkpoints(folder: Path, exclude: Path | None = None) -> list[Path]:
    """The ``step-*.pt`` files of ``folder`` that open as gankit checkpoints, newest
    first; a file that is ``exclude`` itself (``last.pt`` is a hard link to its step's
    file) is left out. Each is opened memory-mapped, so the check reads little."""
    try:
        steps = sorted(((int(m.group(1)), p) for p in folder.iterdir() if (m := STEP_PATTERN.match(p.name))),
                       reverse=True)
    except OSError:
        return []
    intact = []
    for _, candidate in steps:
        try:
            if exclude is not None and exclude.exists() and candidate.samefile(exclude):
                continue
            state = torch.load(candidate, map_location="cpu", weights_only=True, mmap=True)
        except Exception:
            continue
        if isinstance(state, dict) and isinstance(state.get("format_version"), int):
            intact.append(candidate)
    return intact


SAMPLING_KEYS = {"config": dict, "data_info": dict, "step": int, "total_steps": int, "generator": dict}


def check_sampling_state(state: dict[str, Any], where: str | Path) -> None:
    """Refuse a checkpoint (or export) that lacks, or mistypes, a part sampling needs."""
    for key, kind in SAMPLING_KEYS.items():
        value = state.get(key)
        if not isinstance(value, kind) or isinstance(value, bool) or (kind is int and value < 0):
            got = "nothing" if value is None else type(value).__name__
            raise GankitError(f"{str(where)!r} is damaged or not gankit's: its {key!r} must be "
                              f"{'a non-negative integer' if kind is int else 'a table'}, found {got}")
    for key in ("generator", "generator_ema"):
        weights = state.get(key)
        if weights is not None and not (isinstance(weights, dict) and all(
                isinstance(name, str) and isinstance(value, torch.Tensor) for name, value in weights.items())):
            raise GankitError(f"{str(where)!r} is damaged or not gankit's: its {key!r} must map names to tensors")


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
