"""Console progress: a live bar on a terminal, a plain line per log interval otherwise."""

from __future__ import annotations

import sys
from typing import Any


class Progress:
    def __init__(self, total: int, initial: int, quiet: bool, description: str):
        self.quiet = quiet
        self.total = total
        self._bar = None
        if not quiet and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, initial=initial, desc=description, unit="step", dynamic_ncols=True)
        elif not quiet:
            print(f"{description}: steps {initial}..{total}", file=sys.stderr)

    def advance(self, steps: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(steps)

    def report(self, record: dict[str, Any]) -> None:
        shown = {k: v for k, v in record.items() if k not in ("step", "time")}
        if self._bar is not None:
            self._bar.set_postfix({k: _fmt(v) for k, v in shown.items()}, refresh=False)
        elif not self.quiet:
            fields = " ".join(f"{k}={_fmt(v)}" for k, v in shown.items())
            print(f"step {record['step']}/{self.total} {fields}", file=sys.stderr, flush=True)

    def message(self, text: str) -> None:
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
