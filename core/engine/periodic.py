"""What the loop does every so many steps: log, preview, evaluate, checkpoint, roll back."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch

from ..atomic import atomic_link
from ..checkpoint import load_checkpoint, prune_checkpoints, save_checkpoint, step_checkpoint_name
from ..conditions import map_condition
from ..config import eval_metric_options
from ..errors import GankitError
from ..evaluation import dataset_key, score
from ..samples import canonical_cpu

if TYPE_CHECKING:  # pragma: no cover
    from .session import Session
    from .step import TrainingStep

MAX_ROLLBACKS = 5  # consecutive rollbacks without reaching a new checkpoint before giving up


def log_record(session: "Session", record: dict[str, Any]) -> None:
    session.metrics.write(record)
    session.events.log(record["step"], record)


def loss_record(session: "Session", train_step: "TrainingStep", values: dict[str, float], steps: int,
                seconds: float) -> dict[str, Any]:
    """The ``metrics.jsonl`` record of a log step (see docs/interfaces.md for each key)."""
    record: dict[str, Any] = {"step": session.step, "d_loss": values.pop("d_loss"), "g_loss": values.pop("g_loss")}
    record.update(values)
    if session.cfg.on_nan == "skip":
        skipped = int(train_step.skipped_updates.item())
        if skipped:
            record["skipped_updates"] = skipped
            train_step.skipped_updates.zero_()
    if not session.schedule.is_constant:
        record.update(lr_g=session.opt_g.param_groups[0]["lr"], lr_d=session.opt_d.param_groups[0]["lr"])
    log_values = getattr(session.generator, "log_values", None)
    record.update(log_values() if callable(log_values) else {})
    record.update(steps_per_s=steps / max(seconds, 1e-9), time=round(session.elapsed(), 3))
    return record


def roll_back(session: "Session", values: dict[str, float], since_log: int, rollbacks: int) -> None:
    """After a non-finite loss: raise, or (``--on-nan rollback``) restore the last checkpoint
    and go on with the batches after the offending ones."""
    last = session.run_dir / "checkpoints" / "last.pt"
    if session.cfg.on_nan != "rollback" or rollbacks >= MAX_ROLLBACKS:
        shown = ", ".join(f"{name}={value}" for name, value in values.items())
        raise GankitError(f"non-finite loss between steps {session.step - since_log} and {session.step} ({shown}); "
                          f"the last good checkpoint is {last}; try a lower learning rate, --grad-clip, "
                          f"or --on-nan skip|rollback")
    state = load_checkpoint(last)
    session.load_state_dict(state, with_stream=False)
    session.metrics.truncate_after(session.step)
    session.losses.clear()
    session.progress.message(f"non-finite loss: rolled back to step {session.step}, skipping the batches since "
                             f"({rollbacks + 1} of {MAX_ROLLBACKS} rollbacks)")


def all_finite(values: dict[str, float]) -> bool:
    return all(map(math.isfinite, values.values()))


def write_preview(session: "Session") -> None:
    net, step = session.sampling_generator, session.step
    was_training = net.training
    net.eval()
    z, cond, real = session.preview
    with torch.no_grad(), session.precision.autocast(session.device):
        batch = net.generate(z, cond)
    net.train(was_training)
    if not session.world.is_main:
        return
    folder, domain = session.run_dir / "samples", session.domain
    path = folder / f"step-{step:07d}"
    try:
        if real is not None and domain.write_paired_preview is not None:  # conditions of dataset items: show both
            preview = domain.write_paired_preview(canonical_cpu(batch), canonical_cpu(real),
                                                  map_condition(canonical_cpu, cond), path, session.info)
        else:
            preview = domain.write_preview(canonical_cpu(batch), path, session.info)
    except OSError as exc:
        raise GankitError(f"cannot write the preview for step {step} to {str(folder)!r}: "
                          f"{exc.strerror or exc}; the last checkpoint is intact, --resume continues") from None
    session.events.preview(step, preview)


def write_checkpoint(session: "Session") -> None:
    """``checkpoints/step-N.pt``, then ``last.pt`` (and ``best.pt`` when this step is the
    best) pointing at it, each atomically; rank 0 writes, the others wait."""
    state, step, world = session.state_dict(), session.step, session.world
    if not world.is_main:
        world.barrier()
        return
    folder = session.run_dir / "checkpoints"
    step_path = folder / step_checkpoint_name(step)
    try:
        save_checkpoint(state, step_path)
        atomic_link(step_path, folder / "last.pt")
        if session.best is not None and session.best["step"] == step:
            atomic_link(step_path, folder / "best.pt")
    except OSError as exc:
        raise GankitError(
            f"cannot write the checkpoint for step {step} to {str(folder)!r}: {exc.strerror or exc}; "
            f"the previous checkpoint (last.pt) is intact; free space or fix the folder, then --resume"
        ) from None
    prune_checkpoints(folder, session.cfg.keep_last)
    session.events.checkpoint(step, step_path)
    world.barrier()  # no process reads last.pt (a rollback) before it is complete


def evaluate_now(session: "Session") -> bool:
    """Score the sampling generator with the primary metric; True when it is the best so far."""
    spec, step, world = session.eval_spec, session.step, session.world
    if not world.is_main:  # rank 0 scores; the others follow its decision
        session.best = world.broadcast_object(None)
        return session.best is not None and session.best["step"] == step
    cfg = session.cfg
    result = score(session.sampling_generator, session.dataset, session.info, [spec], n=cfg.eval_samples,
                   seed=cfg.seed, device=session.device,
                   key=dataset_key(session.dataset_spec.name, session.config.dataset_options, cfg.data),
                   metric_options=eval_metric_options(cfg.eval_options))
    values = result["metrics"][spec.name]["values"]
    log_record(session, {"step": step, **{f"eval/{spec.name}/{k}": v for k, v in values.items()}})
    value, best = values[spec.primary], session.best
    improved = best is None or (value > best["value"] if spec.higher_is_better else value < best["value"])
    session.progress.message(f"step {step}: {spec.name}/{spec.primary} = {value:.4g}" + (" (best)" if improved else ""))
    if improved:
        session.best = {"metric": f"{spec.name}/{spec.primary}", "value": value, "step": step}
    world.broadcast_object(session.best)
    session.events.evaluated(step, spec.name, values, improved)
    return improved
