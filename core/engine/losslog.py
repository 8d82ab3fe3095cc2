"""Losses kept on the device between log steps and read with one host synchronisation.

The training step appends each loss term as a detached scalar tensor; nothing reads a
tensor on the host in between, so the loop runs ahead of the accelerator. Every
``log_every`` steps :meth:`LossLog.reduce` averages each term over the steps it was
recorded at (a lazily applied penalty: only the steps it was computed), across processes.
"""

from __future__ import annotations

from typing import Any

import torch


class LossLog:
    """Named scalar losses since the last log. ``skip_nonfinite`` (``--on-nan skip``)
    averages only the finite values (skipped updates are counted, not averaged in)."""

    def __init__(self, world: Any, device: torch.device, *, skip_nonfinite: bool = False):
        self.world = world
        self.device = device
        self.skip_nonfinite = skip_nonfinite
        self.pending: dict[str, list[torch.Tensor]] = {}

    def add(self, name: str, value: torch.Tensor) -> None:
        self.pending.setdefault(name, []).append(value)

    def clear(self) -> None:
        self.pending.clear()

    def reduce(self) -> dict[str, float]:
        """Each term's mean since the last reduce, averaged over processes; clears."""
        if not self.pending:
            return {}
        names = list(self.pending)
        means = []
        for name in names:
            values = torch.stack(self.pending[name]).float()
            if self.skip_nonfinite:
                values = torch.where(torch.isfinite(values), values, torch.nan)
                means.append(torch.nanmean(values).nan_to_num(0.0))
            else:
                means.append(values.mean())
        reduced = self.world.mean(torch.stack(means)).tolist()
        self.pending.clear()
        return dict(zip(names, reduced))
