"""MLE pre-training of the generator, before the adversarial steps.

Any generator with ``pretrain_loss(real_batch) -> scalar tensor`` (text: the teacher-forced
negative log-likelihood of real token ids) can be pre-trained for ``--pretrain-steps``
steps on real batches from the run's data stream, with its own Adam (``--pretrain-lr``,
betas (0.9, 0.999)), ``--grad-clip`` and precision, as SeqGAN and RelGAN do before their
adversarial phase. The adversarial optimisers start fresh afterwards.

Pre-training has its own step count. The run's ``step`` stays 0 until it ends, and
checkpoints written during it (every ``--checkpoint-every`` pre-training steps, at its
end, and on a ``--max-minutes`` stop) are step-0 checkpoints carrying ``pretraining``
state — its step, optimiser and scaler — so a run killed in pre-training resumes there
and a resumed run never repeats it. Its records in ``metrics.jsonl`` are
``{"step": k - N, "pretrain_step": k, "mle_loss": ...}`` for pre-training step ``k`` of
``N``: the ``step`` of a pre-training record is ≤ 0, so the log, which keeps the records
up to a checkpoint's step when a run resumes, stays exact without knowing about phases.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import torch
from torch import nn

from ..errors import GankitError
from .stopping import Stopping
from .losslog import LossLog
from .optim import build_optimizer


class Pretraining:
    """The pre-training phase of one run: its position, optimiser and loop."""

    def __init__(self, generator: nn.Module, cfg: Any, device: torch.device, precision: Any, world: Any):
        if not callable(getattr(generator, "pretrain_loss", None)):
            raise GankitError(f"--pretrain-steps {cfg.pretrain_steps}: the generator of model {cfg.model!r} has no MLE "
                              f"pre-training (no pretrain_loss method); use --pretrain-steps 0")
        self.generator = generator
        self.cfg = cfg
        self.device = device
        self.precision = precision
        self.world = world
        self.total = int(cfg.pretrain_steps)
        self.step = 0
        self.optimizer = build_optimizer(generator.parameters(), {"type": "adam", "lr": cfg.pretrain_lr,
                                                                  "betas": (0.9, 0.999), "weight_decay": 0.0})
        self.scaler = torch.amp.GradScaler(device.type, enabled=precision.use_scaler)

    @property
    def done(self) -> bool:
        return self.step >= self.total

    def log_step(self) -> int:
        """The ``step`` of this phase's records in ``metrics.jsonl``: ``pretrain_step - total``."""
        return self.step - self.total

    def resume_log_step(self, step: int) -> int:
        """The last ``metrics.jsonl`` step to keep when a run starts or resumes at
        adversarial step ``step``."""
        return step if self.done else self.log_step()

    def state_dict(self) -> dict[str, Any]:
        """Plain data and tensors for the checkpoint; the optimiser only while it is needed."""
        return {"step": self.step, "total": self.total,
                "optimizer": None if self.done else self.optimizer.state_dict(),
                "scaler": None if self.done else self.scaler.state_dict()}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if state is None:  # a checkpoint of a run that had no pre-training: nothing is left to do
            self.step = self.total
            return
        self.step = int(state["step"])
        if not self.done and state.get("optimizer") is not None:
            self.optimizer.load_state_dict(state["optimizer"])
            self.scaler.load_state_dict(state["scaler"])

    def run(
        self,
        stream: Any,
        checkpoint: Callable[[int], None],
        *,
        log: Callable[[dict[str, Any]], None],
        progress: Any,
        stopping: Stopping,
        elapsed: Callable[[], float],
        ema: nn.Module | None,
    ) -> bool:
        """Pre-train up to ``total`` steps; True when ``--max-minutes`` stopped it first.
        ``checkpoint(0)`` writes the run's checkpoint (this phase's state included),
        ``log`` takes each metrics record, ``elapsed()`` is the run's time so far."""
        cfg, world, generator = self.cfg, self.world, self.generator
        progress.message(f"MLE pre-training of the generator: steps {self.step}..{self.total}")
        losses = LossLog(world, self.device)
        since_log, last_log_time = 0, time.monotonic()
        while not self.done:
            real, _cond = stream.next()
            with self.precision.autocast(self.device):
                loss = generator.pretrain_loss(real)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            world.all_reduce_gradients(generator)
            if cfg.grad_clip > 0:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(generator.parameters(), cfg.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            losses.add("mle_loss", loss.detach())
            self.step += 1
            since_log += 1

            out_of_time = stopping.reached(self.step)
            if self.step % cfg.log_every == 0 or self.done or out_of_time:
                mle_loss = losses.reduce()["mle_loss"]
                if not math.isfinite(mle_loss):
                    raise GankitError(f"non-finite MLE loss in pre-training before step {self.step}; the last good "
                                      f"checkpoint is RUN/checkpoints/last.pt; try a lower --pretrain-lr or --grad-clip")
                now = time.monotonic()
                steps_per_s = since_log / max(now - last_log_time, 1e-9)
                log({"step": self.log_step(), "pretrain_step": self.step, "mle_loss": mle_loss,
                     "steps_per_s": steps_per_s, "time": round(elapsed(), 3)})
                progress.message(f"pre-training {self.step}/{self.total} mle_loss={mle_loss:.4g} "
                                 f"steps_per_s={steps_per_s:.4g}")
                since_log, last_log_time = 0, now
            if out_of_time and not self.done:
                progress.message(f"stopping in pre-training at step {self.step} of {self.total}: "
                                 f"{stopping.reason()}")
                _copy_into(ema, generator)
                return True
            if self.done or self.step % cfg.checkpoint_every == 0:
                _copy_into(ema, generator)
                checkpoint(0)
        return False


@torch.no_grad()
def _copy_into(ema: nn.Module | None, generator: nn.Module) -> None:
    """The EMA generator starts the adversarial phase as the pre-trained generator (and a
    checkpoint written in pre-training samples from the current one)."""
    if ema is not None:
        ema.load_state_dict(generator.state_dict())
