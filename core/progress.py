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
from typing import Any, Callable, Mapping

from .callback_specs import Callback, RunInfo, RunStatus

# Without a terminal, a line with the pace and the time left comes at least this often, so a
# slow run (a GPU recipe on a CPU) shows its pace after its first step, not after log_every.
HEARTBEAT_S = 30.0


class Progress:
    """The bar (or the plain lines) of one run. The tqdm bar shows the pace and the time left
    from the first step on; without a terminal, a line says them once ``HEARTBEAT_S`` passed
    without one. The pace is timed from the last line before the first step (after MLE
    pre-training, say)."""

    def __init__(self, total: int, initial: int, quiet: bool, description: str, log_format: str = "text",
                 clock: Callable[[], float] = time.monotonic):
        self.quiet = quiet
        self.json = log_format == "json"
        self.total = total
        self._bar = None
        self._clock = clock
        self._first, self._step = initial, initial
        self._since = self._last_line = clock()  # when the pace is timed from; the last line printed
        if quiet or self.json:
            return
        if sys.stderr.isatty():
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, initial=initial, desc=description, unit="step", dynamic_ncols=True)
        else:
            print(f"{description}: steps {initial}..{total}", file=sys.stderr)

    def advance(self, steps: int = 1) -> None:
        self._step += steps
        if self._bar is not None:
            self._bar.update(steps)
        elif not (self.quiet or self.json) and self._clock() - self._last_line >= HEARTBEAT_S:
            self._print(f"step {self._step}/{self.total}: {self.pace()}")

    def pace(self) -> str:
        """``12.5 steps/s, about 3 min left`` (or ``133 s a step, about 36.9 h left``)."""
        done = self._step - self._first
        if done <= 0:
            return "no step yet"
        per_step = max(self._clock() - self._since, 1e-9) / done
        rate = f"{per_step:.3g} s a step" if per_step >= 1 else f"{1 / per_step:.3g} steps/s"
        return f"{rate}, about {_duration(per_step * max(self.total - self._step, 0))} left"

    def _print(self, line: str) -> None:
        print(line, file=sys.stderr, flush=True)
        self._last_line = self._clock()
        if self._step == self._first:
            self._since = self._last_line

    def report(self, record: dict[str, Any]) -> None:
        """Show a metrics record (in JSON mode :class:`JsonLog` writes it instead)."""
        shown = {k: v for k, v in record.items() if k not in ("step", "time")}
        if self._bar is not None:
            self._bar.set_postfix({k: _fmt(v) for k, v in shown.items()}, refresh=False)
        elif not (self.quiet or self.json):
            fields = " ".join(f"{k}={_fmt(v)}" for k, v in shown.items())
            self._print(f"step {record['step']}/{self.total} {fields}")

    def message(self, text: str) -> None:
        if self.quiet:
            return
        if self.json:
            emit_json("message", {"message": text})
        elif self._bar is not None:
            self._bar.write(text, file=sys.stderr)
        else:
            self._print(text)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


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
