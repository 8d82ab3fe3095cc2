"""The adversarial training loop, top to bottom.

One step is one generator update preceded by ``n_critic`` discriminator updates (see
:mod:`gankit.engine.step`). Losses stay on the device and are read every ``log_every``
steps; previews, evaluations and checkpoints come at their own intervals; a run stopped
early (``--max-minutes``, Ctrl-C, SIGTERM) ends with a checkpoint that ``--resume``
continues bit for bit.
"""

from __future__ import annotations

import dataclasses
import shlex
import time
from pathlib import Path
from typing import Any

from torch import nn

from ..config import ResolvedConfig
from ..errors import RunInterrupted
from ..registry import Registry
from ..rundir import releasing_run_dirs
from .periodic import (
    all_finite,
    evaluate_now,
    log_record,
    loss_record,
    roll_back,
    write_checkpoint,
    write_preview,
)
from .session import Session, open_session
from .step import TrainingStep
from .stopping import Stopping


@dataclasses.dataclass
class TrainResult:
    """How a run ended, with this process's networks as they are in memory."""

    run_dir: Path
    step: int
    stopped_early: bool
    generator: nn.Module
    discriminator: nn.Module
    generator_ema: nn.Module | None


def train_run(
    config: ResolvedConfig,
    registry: Registry,
    *,
    resume_state: dict[str, Any] | None = None,
    command_line: str | None = None,
) -> TrainResult:
    """Train the run ``config`` describes (from ``resume_state`` when continuing one)."""
    with releasing_run_dirs():  # the run directory is released in _close; this also covers a failure before it
        return _train(config, registry, resume_state, command_line)


def _train(config: ResolvedConfig, registry: Registry, resume_state: dict[str, Any] | None,
           command_line: str | None) -> TrainResult:
    s = open_session(config, registry, resume_state=resume_state, command_line=command_line)
    cfg, total = s.cfg, s.cfg.steps
    train_step = TrainingStep(s)
    since_log, last_log_time = 0, s.started
    stopped_early, rollbacks, status = False, 0, "failed"
    s.generator.train()
    s.discriminator.train()
    try:
        with Stopping(cfg.max_minutes, s.started, s.world, s.device, cfg.log_every) as stopping:
            if cfg.on_nan == "rollback" and resume_state is None:
                write_checkpoint(s)  # something to roll back to before the first periodic checkpoint
            if s.pretraining is not None and not s.pretraining.done:  # MLE pre-training of G, its own count
                stopped_early = s.pretraining.run(
                    s.stream, lambda _step: write_checkpoint(s), log=lambda record: log_record(s, record),
                    progress=s.progress, stopping=stopping, elapsed=s.elapsed, ema=s.generator_ema)
                last_log_time = time.monotonic()
            while s.step < total and not stopped_early:
                s.apply_schedules(s.step)
                train_step(s.step)
                s.step += 1
                since_log += 1
                s.progress.advance()

                stop_now = stopping.reached(s.step)
                if s.step % cfg.log_every == 0 or s.step == total or stop_now:
                    values, now = s.losses.reduce(), time.monotonic()
                    if not all_finite(values):
                        roll_back(s, values, since_log, rollbacks)
                        train_step.reset_graphs()
                        rollbacks += 1
                        since_log, last_log_time = 0, now
                        continue
                    record = loss_record(s, train_step, values, since_log, now - last_log_time)
                    log_record(s, record)
                    s.progress.report(record)
                    since_log, last_log_time = 0, now
                if cfg.sample_every and s.step % cfg.sample_every == 0 and s.step != total:
                    write_preview(s)
                if cfg.eval_every and (s.step % cfg.eval_every == 0 or s.step == total):
                    if evaluate_now(s) and s.step != total and s.step % cfg.checkpoint_every != 0:
                        write_checkpoint(s)  # best.pt must be a checkpoint of exactly this step
                if stop_now and s.step < total:
                    s.progress.message(f"stopping at step {s.step}: {stopping.reason()}")
                    stopped_early = True
                    break
                if s.step % cfg.checkpoint_every == 0 and s.step != total:
                    write_checkpoint(s)
                    rollbacks = 0
            write_preview(s)
            write_checkpoint(s)
            status = "stopped" if stopped_early else "finished"
            s.events.end(s.step, status)
            if stopping.signal_name is not None:
                raise RunInterrupted(f"{stopping.signal_name} received: the run stopped at step {s.step} with a "
                                     f"checkpoint; continue it with: gankit train {cfg.domain} --out {shlex.quote(str(s.run_dir))} --resume")
    finally:
        _close(s, succeeded=status != "failed")
    return TrainResult(run_dir=s.run_dir, step=s.step, stopped_early=stopped_early, generator=s.generator,
                       discriminator=s.discriminator, generator_ema=s.generator_ema)


def _close(s: Session, *, succeeded: bool) -> None:
    if s.augment_hook is not None:
        s.augment_hook.remove()
    s.events.close(s.step)
    s.progress.close()
    s.metrics.close()
    if s.run_lock is not None:
        s.run_lock.release()
