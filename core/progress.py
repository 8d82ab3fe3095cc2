"""Console output of a run.

Text (the default): a live bar on a terminal, a plain line per log interval otherwise, on
stderr. JSON (``--log-format json``): one JSON object per line on stdout, for machines —
:class:`Progress` writes the messages and :class:`JsonLog`, a listener on training events,
the rest. ``--quiet`` silences both; errors are still reported.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Mapping

from .callback_specs import Callback, RunInfo, RunStatus


class Progress:
    def __init__(self, total: int, initial: int, quiet: bool, description: str, log_format: str = "text"):
        self.quiet = quiet
        self.json = log_format == "json"
        self.total = total
        self._bar = None
        if quiet or self.json:
            return
        if sys.stderr.isatty():
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, initial=initial, desc=description, unit="step", dynamic_ncols=True)
        else:
            print(f"{description}: steps {initial}..{total}", file=sys.stderr)

    def advance(self, steps: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(steps)

    def report(self, record: dict[str, Any]) -> None:
        """Show a metrics record (in JSON mode :class:`JsonLog` writes it instead)."""
        shown = {k: v for k, v in record.items() if k not in ("step", "time")}
        if self._bar is not None:
            self._bar.set_postfix({k: _fmt(v) for k, v in shown.items()}, refresh=False)
        elif not (self.quiet or self.json):
            fields = " ".join(f"{k}={_fmt(v)}" for k, v in shown.items())
            print(f"step {record['step']}/{self.total} {fields}", file=sys.stderr, flush=True)

    def message(self, text: str) -> None:
        if self.quiet:
            return
        if self.json:
            emit_json("message", {"message": text})
        elif self._bar is not None:
            self._bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def emit_json(event: str, fields: Mapping[str, Any], stream: Any = None) -> None:
    """One line ``{"event": ..., "ts": unix time, ...fields}`` (stdout by default).
    Non-finite floats become null, so every line is strict JSON."""
    line = {"event": event, "ts": round(time.time(), 3), **{str(k): _json_safe(v) for k, v in fields.items()}}
    print(json.dumps(line), file=stream or sys.stdout, flush=True)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


class JsonLog(Callback):
    """``--log-format json``: each training event as one JSON line on stdout."""

    run_dir: Path | None = None

    def on_run_start(self, run: RunInfo) -> None:
        self.run_dir = run.run_dir
        emit_json("start", {"run_dir": run.run_dir, "step": run.start_step, "steps": run.total_steps,
                            "resumed": run.resumed, "config": run.config})

    def on_log(self, step: int, record: Mapping[str, Any]) -> None:
        emit_json("log", record)

    def on_eval(self, step: int, metric: str, values: Mapping[str, float], best: bool) -> None:
        emit_json("eval", {"step": step, "metric": metric, "values": values, "best": best})

    def on_preview(self, step: int, path: Path) -> None:
        emit_json("preview", {"step": step, "path": path})

    def on_checkpoint(self, step: int, path: Path) -> None:
        emit_json("checkpoint", {"step": step, "path": path})

    def on_run_end(self, step: int, status: RunStatus) -> None:
        emit_json("end", {"step": step, "status": status, "run_dir": self.run_dir})
