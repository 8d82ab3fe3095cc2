"""The run directory: ``config.json`` with provenance, ``metrics.jsonl``, ``checkpoints/``
and ``samples/``."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Iterable

from .errors import GankitError


def default_run_dir(domain: str, model: str) -> Path:
    return Path("runs") / f"{domain}-{model}-{time.strftime('%Y%m%d-%H%M%S')}"


def prepare_run_dir(path: Path, resume: bool) -> None:
    """Create the run directory, refusing to overwrite an existing run unless resuming."""
    last = path / "checkpoints" / "last.pt"
    if resume:
        if not last.is_file():
            raise GankitError(f"cannot resume: {str(last)!r} does not exist; start the run without --resume")
        for leftover in last.parent.glob(".*.tmp"):  # a write the previous process was killed in
            leftover.unlink(missing_ok=True)
        return
    if last.exists():
        raise GankitError(
            f"{str(path)!r} already holds a run; pass --resume to continue it, or choose another --out"
        )
    try:
        (path / "checkpoints").mkdir(parents=True, exist_ok=True)
        (path / "samples").mkdir(exist_ok=True)
    except OSError as exc:
        raise GankitError(f"cannot create the run directory {str(path)!r}: {exc.strerror}") from None
    if not os.access(path, os.W_OK):
        raise GankitError(f"the run directory {str(path)!r} is not writable")


def provenance(plugins: Iterable[Any], command_line: str | None) -> dict[str, Any]:
    import torch

    from . import __version__

    return {
        "gankit": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "command_line": command_line if command_line is not None else "python API",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "plugins": {info.name: info.version for info in plugins if not info.error},
    }


def write_json_atomic(data: dict[str, Any], path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


class MetricsLog:
    """Appends one JSON object per logged step to ``metrics.jsonl``. On resume (and after a
    rollback), lines for steps after the checkpoint (written before a crash, then replayed)
    are dropped first, so every step appears once."""

    def __init__(self, path: Path, resume_step: int):
        self.path = path
        if path.exists():
            self._keep_up_to(resume_step)
        self._handle = path.open("a", encoding="utf-8")

    def _keep_up_to(self, step: int) -> None:
        kept = [line for line in self.path.read_text(encoding="utf-8").splitlines()
                if line.strip() and _step_of(line) <= step]
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        os.replace(tmp, self.path)

    def truncate_after(self, step: int) -> None:
        self._handle.close()
        self._keep_up_to(step)
        self._handle = self.path.open("a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


class NullLog:
    """The metrics log of a process that writes no files (every rank but 0)."""

    def write(self, record: dict[str, Any]) -> None:
        pass

    def truncate_after(self, step: int) -> None:
        pass

    def close(self) -> None:
        pass


def _step_of(line: str) -> int:
    try:
        return int(json.loads(line).get("step", 0))
    except (ValueError, AttributeError):
        return sys.maxsize


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
