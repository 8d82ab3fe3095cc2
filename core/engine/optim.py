"""Optimisers and learning-rate schedules, one of each per network.

A schedule is a pure function of the step (and the data epoch), never an object with
state: a resumed run recomputes the same learning rate from where it stands, and the
checkpoint needs only the horizon the run was started with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import torch
from torch import nn


def build_optimizer(params: Iterable[nn.Parameter], settings: Mapping[str, Any], *,
                    capturable: bool = False) -> torch.optim.Optimizer:
    """Adam, AdamW or RMSprop from one network's effective settings (``config.effective["optimizers"]``).

    Adam and AdamW are fused: the same update as torch's default in one kernel per device
    (on the CPU too), and they can skip an update on a device-side flag (``--on-nan skip``)
    without a sync. RMSprop (the WGAN paper's optimiser, torch's defaults as in its
    reference code) has no fused kernel, so the configuration refuses it with that flag."""
    kind = settings["type"]
    if kind == "rmsprop":
        return torch.optim.RMSprop(params, lr=settings["lr"], alpha=settings["alpha"],
                                   weight_decay=settings["weight_decay"], capturable=capturable)
    cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[kind]
    return cls(params, lr=settings["lr"], betas=tuple(settings["betas"]), weight_decay=settings["weight_decay"],
               fused=True, capturable=capturable)


@dataclass(frozen=True)
class LRSchedule:
    """The factor each network's base learning rate is multiplied by at a step.

    ``constant``: 1. ``exponential``: ``decay ** n`` where ``n`` counts steps or data epochs
    (HiFi-GAN: 0.999 per epoch). ``cosine`` and ``linear``: from 1 down to 0 at ``horizon``
    (the steps the run was started with), then 0. ``warmup`` steps of linear warm-up
    multiply any of them.
    """

    kind: str
    horizon: int
    decay: float = 1.0
    unit: str = "step"
    warmup: int = 0

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], horizon: int) -> "LRSchedule":
        return cls(kind=settings["type"], horizon=horizon, decay=settings.get("decay", 1.0),
                   unit=settings.get("unit", "step"), warmup=settings.get("warmup", 0))

    @property
    def is_constant(self) -> bool:
        return self.kind == "constant" and self.warmup == 0

    def factor(self, step: int, epoch: int = 0) -> float:
        if self.kind == "exponential":
            value = self.decay ** (epoch if self.unit == "epoch" else step)
        elif self.kind == "cosine":
            value = 0.5 * (1.0 + math.cos(math.pi * min(step / self.horizon, 1.0)))
        elif self.kind == "linear":
            value = max(0.0, 1.0 - step / self.horizon)
        else:
            value = 1.0
        if self.warmup:
            value *= min(1.0, (step + 1) / self.warmup)
        return value

    def apply(self, optimizers: Mapping[torch.optim.Optimizer, float], step: int, epoch: int) -> None:
        """Set every parameter group's ``lr`` to its base rate × the factor at ``step``."""
        factor = self.factor(step, epoch)
        for optimizer, base in optimizers.items():
            for group in optimizer.param_groups:
                group["lr"] = base * factor
