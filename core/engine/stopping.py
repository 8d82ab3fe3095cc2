"""When a run stops before its last step: ``--max-minutes`` ran out, or the user pressed
Ctrl-C / the system sent SIGTERM. Either way the run stops cleanly after the current step
with a checkpoint, so ``--resume`` continues it; a second signal stops it at once."""

from __future__ import annotations

import math
import signal
import threading
import time
from types import FrameType
from typing import Any

import torch

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopping:
    """The reasons to stop early. Under torchrun the processes agree at log steps, so all of
    them stop after the same step. Use as a context manager to catch the signals (main
    thread only; elsewhere signals keep their handlers)."""

    def __init__(self, max_minutes: float | None, started: float, world: Any, device: torch.device, log_every: int):
        self.max_minutes = max_minutes
        self.deadline = started + max_minutes * 60 if max_minutes else math.inf
        self.world = world
        self.device = device
        self.log_every = log_every
        self.signal_name: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "Stopping":
        if threading.current_thread() is threading.main_thread():
            for number in STOP_SIGNALS:
                self._previous[number] = signal.signal(number, self._on_signal)
        return self

    def __exit__(self, *exc: Any) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()

    def _on_signal(self, number: int, frame: FrameType | None) -> None:
        if self.signal_name is not None:  # the second one: stop now
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(number).name

    def reached(self, step: int) -> bool:
        """Whether to stop after ``step`` (a step count of the phase being run)."""
        stop = self.signal_name is not None or time.monotonic() >= self.deadline
        if self.world.active:
            return self.world.any(stop, self.device) if step % self.log_every == 0 else False
        return stop

    def reason(self) -> str:
        if self.signal_name is not None:
            return f"{self.signal_name} received"
        return f"--max-minutes {self.max_minutes} reached"
