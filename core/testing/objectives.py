"""Objectives: :func:`check_objective`, an objective's losses and two training steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..registry import get_registry
from .base import _check, _require
from .run import check_train_step


def check_objective(name: str, *, tmp_path: str | Path | None = None, domain: str = "image", **options: Any) -> None:
    """The losses are finite scalars for logits of shape ``(N,)`` and ``(N, 1)``, give
    gradients, reward D for calling real real and G for fooling D, and (with ``tmp_path``)
    train a model of ``domain`` for two steps (``options`` go to ``gankit.train``)."""
    from ..penalties import PENALTIES

    spec = get_registry().objective(name)
    subject = f"objective {name!r}"
    with _check("objective", subject):
        _require(spec.penalty in (None, *PENALTIES), f"penalty {spec.penalty!r} is not one of {', '.join(PENALTIES)}")
        generator = torch.Generator().manual_seed(0)
        for shape in ((8,), (8, 1)):
            real = torch.randn(shape, generator=generator, requires_grad=True)
            fake = torch.randn(shape, generator=generator, requires_grad=True)
            for which, loss_fn, args in (("d_loss", spec.d_loss, (real, fake)),
                                         ("g_loss", spec.g_loss, (real if spec.g_uses_real else None, fake))):
                loss = loss_fn(*args)
                _require(isinstance(loss, torch.Tensor) and loss.dim() == 0 and torch.isfinite(loss),
                         f"{which} must return a finite scalar tensor for logits of shape {shape}, got {loss!r}")
                grad = torch.autograd.grad(loss, fake, allow_unused=True)[0]
                _require(grad is not None and bool(grad.abs().sum() > 0), f"{which} gives no gradient to the fake logits")
        high, low, zero = torch.full((8,), 3.0), torch.full((8,), -3.0), torch.zeros(8)
        _require(spec.d_loss(high, low) < spec.d_loss(low, high),
                 "d_loss must be lower when D scores real samples high and fakes low (logits: higher is more real)")
        real_arg = zero if spec.g_uses_real else None
        _require(spec.g_loss(real_arg, high) < spec.g_loss(real_arg, low),
                 "g_loss must be lower when D scores the fakes high")
    if tmp_path is not None:
        with _check("train", subject):
            train_options = {"steps": 2, "batch_size": 8, "device": "cpu", "quiet": True, "sample_every": 0,
                             "log_every": 1, **options}
            check_train_step(domain, Path(tmp_path) / f"objective-{name}", objective=name, **train_options)
