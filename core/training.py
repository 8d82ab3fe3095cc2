"""The adversarial training loop, top to bottom.

One step is one generator update preceded by ``n_critic`` discriminator updates. Each
phase is zero_grad → loss from the objective → backward (through a GradScaler for fp16)
→ optional clipping → optimiser step. Losses stay on the device and are read only every
``log_every`` steps, so the loop never waits on the accelerator in between.
"""

from __future__ import annotations

import copy
import functools
import dataclasses
import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import __version__
from .checkpoint import (
    FORMAT_VERSION,
    capture_rng_state,
    load_checkpoint,
    prune_checkpoints,
    restore_rng_state,
    save_checkpoint,
    step_checkpoint_name,
)
from .callbacks import Events, RunInfo, build_callbacks
from .config import ResolvedConfig
from .devices import resolve_device, resolve_precision
from .distributed import init_world
from .errors import GankitError
from .evaluation import canonical_cpu, dataset_key, primary_metric, score
from .fastpath import PhaseGraph, channels_last_batch, compile_function, resolve_fast_path, to_channels_last
from .penalties import PENALTIES, compute_penalty, has_batchnorm
from .pretraining import Pretraining
from .progress import Progress
from .registry import Registry
from .rundir import MetricsLog, NullLog, default_run_dir, prepare_run_dir, provenance, write_json_atomic
from .specs import DataInfo

PREVIEW_SEED_OFFSET = 7919
RANK_SEED_STRIDE = 1_000_033
MAX_ROLLBACKS = 5  # consecutive rollbacks without reaching a new checkpoint before giving up
NOISE_SEED_OFFSET = 104729
MAX_PREVIEW_CLASSES = 16  # conditional previews: one row per class up to this many classes


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
    cfg = config.train
    domain = registry.domain(cfg.domain)
    model_spec = registry.model(cfg.domain, cfg.model or domain.default_model)
    dataset_spec = registry.dataset(cfg.domain, cfg.dataset or domain.default_dataset)
    objective = registry.objective(cfg.objective)
    penalty = (objective.penalty or "none") if cfg.penalty == "auto" else cfg.penalty
    if penalty != "none" and penalty not in PENALTIES:
        raise GankitError(f"unknown penalty {penalty!r}; choose one of: none, {', '.join(PENALTIES)}")
    penalty_weight = cfg.penalty_weight if cfg.penalty_weight is not None else (
        PENALTIES[penalty].default_weight if penalty != "none" else 0.0
    )
    eval_spec = primary_metric(registry, cfg.domain) if cfg.eval_every else None
    listeners = build_callbacks(registry, cfg)  # before any file is written: a missing package fails here
    if dataset_spec.needs_data and not cfg.data:
        raise GankitError(f"dataset {dataset_spec.name!r} needs --data PATH ({dataset_spec.description})")

    device = resolve_device(cfg.device)
    world = init_world(device)  # torchrun: one process per device; otherwise a world of one
    device = world.device(device)
    precision = resolve_precision(cfg.precision, device)
    run_dir = Path(cfg.out) if cfg.out else default_run_dir(cfg.domain, model_spec.name)
    if world.is_main:
        prepare_run_dir(run_dir, resume=resume_state is not None)
    run_dir = Path(world.broadcast_object(str(run_dir)))

    # Seeds first, so weights, latents and data order all follow --seed.
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed % 2**32)
    random.seed(cfg.seed)

    dataset = dataset_spec.build(config.dataset_options, Path(cfg.data) if cfg.data else None)
    info: DataInfo = dataset.info
    generator, discriminator = model_spec.build(config.model_options, info)
    generator.to(device)
    discriminator.to(device)
    world.broadcast_parameters(generator, discriminator)
    if penalty == "gp" and has_batchnorm(discriminator):
        raise GankitError(
            f"the gradient penalty needs per-sample discriminator outputs, but model {model_spec.name!r} "
            f"has BatchNorm in its discriminator; use --penalty r1/none or a discriminator without BatchNorm"
        )
    notes = []  # advice printed once the progress display exists
    if penalty == "r1" and has_batchnorm(discriminator):
        notes.append(f"note: R1 with BatchNorm in {model_spec.name!r}'s discriminator penalises batch statistics, "
                     f"not each sample's gradient; a discriminator without BatchNorm is the usual pairing")
    fast_path = resolve_fast_path(cfg, device, generator, discriminator, uses_scaler=precision.use_scaler,
                                  distributed=world.active)
    if fast_path.channels_last:
        to_channels_last(generator, discriminator)
    graphs: list[PhaseGraph] = []  # --cuda-graphs: the captured phases
    generator_ema = _make_ema(generator) if cfg.ema_decay > 0 else None
    conditional = generator.num_classes > 0
    if conditional:
        _check_labels(dataset, generator.num_classes, dataset_spec.name)

    # Fused Adam: the same update as torch's default in one kernel per device (on the CPU
    # too), and it can skip an update on a device-side flag (--on-nan skip) without a sync.
    fused = {"fused": True, "capturable": fast_path.cuda_graphs}
    opt_g = torch.optim.Adam(generator.parameters(), lr=cfg.lr_g, betas=cfg.betas_g, **fused)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=cfg.lr_d, betas=cfg.betas_d, **fused)
    scaler_g = torch.amp.GradScaler(device.type, enabled=precision.use_scaler)
    scaler_d = torch.amp.GradScaler(device.type, enabled=precision.use_scaler)
    pretraining = Pretraining(generator, cfg, device, precision, world) if cfg.pretrain_steps else None

    from .data import BatchStream

    stream = BatchStream(dataset, cfg.batch_size, cfg.seed, device, cfg.num_workers, world.rank, world.size,
                         prefetch=cfg.prefetch)
    noise = torch.Generator(device=device).manual_seed(cfg.seed + NOISE_SEED_OFFSET + RANK_SEED_STRIDE * world.rank)
    preview_z, preview_labels = _preview_latents(generator, cfg.num_preview, cfg.seed, device)
    prepare_real = domain.prepare_real or (lambda batch, _info: batch)
    augment_hook = _augment_discriminator(discriminator, domain, cfg.augment, info, noise) if cfg.augment else None

    start_step, d_steps, elapsed_before = 0, 0, 0.0
    best: dict[str, Any] | None = None

    def restore(state: dict[str, Any], *, with_stream: bool) -> None:
        """Load every component's state from a checkpoint (resume, or rollback after a
        non-finite loss, which keeps the stream position so the offending batches are skipped)."""
        nonlocal d_steps
        generator.load_state_dict(state["generator"])
        discriminator.load_state_dict(state["discriminator"])
        if generator_ema is not None and state.get("generator_ema") is not None:
            generator_ema.load_state_dict(state["generator_ema"])
        opt_g.load_state_dict(state["optimizer_g"])
        opt_d.load_state_dict(state["optimizer_d"])
        scaler_g.load_state_dict(state["scaler_g"])
        scaler_d.load_state_dict(state["scaler_d"])
        if with_stream:
            stream.load_state_dict(state["sampler"])
        per_rank = state.get("rng_per_rank") or [state["rng"]]
        rng = per_rank[world.rank] if len(per_rank) == world.size else state["rng"]
        restore_rng_state(rng, noise)
        if torch.device(rng["noise_device"]).type != noise.device.type or len(per_rank) != world.size:
            # A latent generator's state only fits its own device type and rank: resumed on
            # another device or world size, the run continues with a fresh stream from the step.
            noise.manual_seed(cfg.seed + NOISE_SEED_OFFSET + RANK_SEED_STRIDE * world.rank + int(state["step"]))
        d_steps = int(state.get("d_steps", 0))
        for graph in graphs:  # the optimisers' state tensors were replaced: capture again
            graph.reset()

    if resume_state is not None:
        restore(resume_state, with_stream=True)
        start_step = int(resume_state["step"])
        elapsed_before = float(resume_state.get("elapsed", 0.0))
        best = resume_state.get("best")
        if pretraining is not None:
            pretraining.load_state_dict(resume_state.get("pretraining"))

    total = cfg.steps
    if start_step >= total:
        raise GankitError(f"the run is already at step {start_step}; pass a larger --steps to continue it")

    registry_plugins = registry.plugins
    config_record = config.to_dict()
    config_record["data_info"] = info.to_dict()
    config_record["provenance"] = provenance(registry_plugins, command_line)
    if world.is_main:
        write_json_atomic(config_record, run_dir / "config.json")
        if domain.write_run_files is not None:  # files sampling needs besides the checkpoint (a tokenizer)
            domain.write_run_files(run_dir, info)
    # A fresh run starts a fresh log (a run killed before its first checkpoint may have left one).
    log_from = pretraining.resume_log_step(start_step) if pretraining is not None else start_step
    metrics = MetricsLog(run_dir / "metrics.jsonl", resume_step=log_from) if world.is_main else NullLog()
    events = Events(listeners if world.is_main else [], device)  # listeners run on rank 0 only
    events.start(RunInfo(run_dir, config_record, start_step, total, resumed=resume_state is not None))
    progress = Progress(total, start_step, cfg.quiet or not world.is_main, f"{cfg.domain}/{model_spec.name}",
                        log_format=cfg.log_format)
    description = getattr(dataset, "description", None)
    if description and not resume_state:
        progress.message(f"data: {description}")
    for note in notes:
        progress.message(note)

    def sample_labels(n: int) -> torch.Tensor | None:
        if not conditional:
            return None
        return torch.randint(generator.num_classes, (n,), device=device, generator=noise)

    # The phases. Each *_forward is the forward passes and the loss (what --compile
    # compiles); each *_update adds backward and optimiser step (what --cuda-graphs
    # captures). Nothing here reads a tensor on the host, so the loop runs ahead of the
    # device; losses are read every log_every steps.
    autocast_cache = not fast_path.cuda_graphs

    def d_forward(real: torch.Tensor, real_labels: torch.Tensor | None, z: torch.Tensor,
                  fake_labels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        with precision.autocast(device, cache=autocast_cache):
            with torch.no_grad():
                fake = generator(z, fake_labels)
            real_logits = discriminator(real, real_labels)
            fake_logits = discriminator(fake, fake_labels)
            loss = objective.d_loss(real_logits, fake_logits)
        return loss, fake

    def g_forward(real: torch.Tensor, real_labels: torch.Tensor | None, z: torch.Tensor,
                  fake_labels: torch.Tensor | None) -> torch.Tensor:
        with precision.autocast(device, cache=autocast_cache):
            fake = generator(z, fake_labels)
            fake_logits = discriminator(fake, fake_labels)
            real_logits = None
            if objective.g_uses_real:
                with torch.no_grad():
                    real_logits = discriminator(real, real_labels)
            loss = objective.g_loss(real_logits, fake_logits)
        return loss

    if fast_path.compile:
        d_forward, g_forward = compile_function(d_forward), compile_function(g_forward)

    def d_update(real: torch.Tensor, real_labels: torch.Tensor | None, z: torch.Tensor,
                 fake_labels: torch.Tensor | None, with_penalty: bool) -> tuple[torch.Tensor, torch.Tensor]:
        loss, fake = d_forward(real, real_labels, z, fake_labels)
        penalty_value = no_penalty
        if with_penalty:  # eager even with --compile: the double backward does not compile
            penalty_value = compute_penalty(penalty, discriminator, real, fake, real_labels, generator=noise)
            loss = loss + penalty_value * (penalty_weight * cfg.penalty_every)
        _step(loss, opt_d, scaler_d, discriminator)
        return loss.detach(), penalty_value.detach()

    def g_update(real: torch.Tensor, real_labels: torch.Tensor | None, z: torch.Tensor,
                 fake_labels: torch.Tensor | None) -> tuple[torch.Tensor]:
        discriminator.requires_grad_(False)
        loss = g_forward(real, real_labels, z, fake_labels)
        discriminator.requires_grad_(True)
        _step(loss, opt_g, scaler_g, generator)
        return (loss.detach(),)

    def _step(loss: torch.Tensor, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler, module: nn.Module) -> None:
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        world.all_reduce_gradients(module)
        if cfg.grad_clip > 0:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(module.parameters(), cfg.grad_clip)
        if cfg.on_nan != "skip":
            scaler.step(optimizer)
        else:
            # Skipped on the device: fused Adam leaves weights and moments alone where
            # found_inf is 1 (GradScaler's mechanism, with a non-finite loss as the flag).
            bad = (~torch.isfinite(loss.detach())).float()
            if world.active:  # every process skips together
                bad = (world.mean(bad) > 0).float()
            skipped_updates.add_(bad)  # in place: a captured graph updates this very tensor
            if scaler.is_enabled():  # fp16: the scaler's own found_inf (non-finite gradients) covers it
                scaler.step(optimizer)
            else:
                optimizer.found_inf = bad  # type: ignore[attr-defined]
                try:
                    optimizer.step()
                finally:
                    del optimizer.found_inf  # type: ignore[attr-defined]
        scaler.update()

    d_runners: dict[bool, Any] = {flag: functools.partial(d_update, with_penalty=flag) for flag in (False, True)}
    g_runner: Any = g_update
    if fast_path.cuda_graphs:
        d_runners = {flag: PhaseGraph(runner, device, [noise]) for flag, runner in d_runners.items()}
        g_runner = PhaseGraph(g_update, device, [noise])
        graphs += [*d_runners.values(), g_runner]

    def d_phase(real: torch.Tensor, real_labels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        nonlocal d_steps
        z = generator.sample_latent(real.shape[0], device=device, generator=noise)
        fake_labels = sample_labels(real.shape[0])
        with_penalty = penalty != "none" and d_steps % cfg.penalty_every == 0
        loss, penalty_value = d_runners[with_penalty](real, real_labels, z, fake_labels)
        d_steps += 1
        return loss, penalty_value

    def g_phase(real: torch.Tensor, real_labels: torch.Tensor | None) -> torch.Tensor:
        z = generator.sample_latent(real.shape[0], device=device, generator=noise)
        fake_labels = sample_labels(real.shape[0])
        (loss,) = g_runner(real, real_labels, z, fake_labels)
        return loss

    def write_preview(step: int) -> None:
        net = generator_ema if generator_ema is not None else generator
        was_training = net.training
        net.eval()
        with torch.no_grad(), precision.autocast(device):
            batch = net.generate(preview_z, preview_labels)
        net.train(was_training)
        if not world.is_main:
            return
        try:
            preview = domain.write_preview(canonical_cpu(batch), run_dir / "samples" / f"step-{step:07d}", info)
        except OSError as exc:
            raise GankitError(f"cannot write the preview for step {step} to {str(run_dir / 'samples')!r}: "
                              f"{exc.strerror or exc}; the last checkpoint is intact, --resume continues") from None
        events.preview(step, preview)

    def checkpoint(step: int) -> None:
        state = {
            "format_version": FORMAT_VERSION,
            "gankit_version": __version__,
            "config": config.to_dict(),
            "data_info": info.to_dict(),
            "step": step,
            "total_steps": total,
            "d_steps": d_steps,
            "elapsed": elapsed_before + time.monotonic() - started,
            "generator": generator.state_dict(),
            "discriminator": discriminator.state_dict(),
            "generator_ema": generator_ema.state_dict() if generator_ema is not None else None,
            "optimizer_g": opt_g.state_dict(),
            "optimizer_d": opt_d.state_dict(),
            "scaler_g": scaler_g.state_dict(),
            "scaler_d": scaler_d.state_dict(),
            "sampler": stream.state_dict(),
            "rng": capture_rng_state(noise),
            "best": best,
            "pretraining": pretraining.state_dict() if pretraining is not None else None,
        }
        state["rng_per_rank"] = world.gather_object(state["rng"]) if world.active else None
        if not world.is_main:
            world.barrier()
            return
        folder = run_dir / "checkpoints"
        step_path = folder / step_checkpoint_name(step)
        try:
            save_checkpoint(state, step_path)
            _link_atomic(step_path, folder / "last.pt")
            if best is not None and best["step"] == step:
                _link_atomic(step_path, folder / "best.pt")
        except OSError as exc:
            raise GankitError(
                f"cannot write the checkpoint for step {step} to {str(folder)!r}: {exc.strerror or exc}; "
                f"the previous checkpoint (last.pt) is intact; free space or fix the folder, then --resume"
            ) from None
        prune_checkpoints(folder, cfg.keep_last)
        events.checkpoint(step, step_path)
        world.barrier()  # no process reads last.pt (a rollback) before it is complete

    def evaluate_now(step: int) -> bool:
        """Score the sampling generator with the primary metric; True when it is the best so far."""
        nonlocal best
        assert eval_spec is not None
        if not world.is_main:  # rank 0 scores; the others follow its decision
            best = world.broadcast_object(None)
            return best is not None and best["step"] == step
        net = generator_ema if generator_ema is not None else generator
        result = score(net, dataset, info, [eval_spec], n=cfg.eval_samples, seed=cfg.seed, device=device,
                       key=dataset_key(dataset_spec.name, config.dataset_options, cfg.data))
        values = result["metrics"][eval_spec.name]["values"]
        eval_record = {"step": step, **{f"eval/{eval_spec.name}/{k}": v for k, v in values.items()}}
        metrics.write(eval_record)
        events.log(step, eval_record)
        value = values[eval_spec.primary]
        improved = best is None or (value > best["value"] if eval_spec.higher_is_better else value < best["value"])
        progress.message(f"step {step}: {eval_spec.name}/{eval_spec.primary} = {value:.4g}" + (" (best)" if improved else ""))
        if improved:
            best = {"metric": f"{eval_spec.name}/{eval_spec.primary}", "value": value, "step": step}
        world.broadcast_object(best)
        events.evaluated(step, eval_spec.name, values, improved)
        return improved

    # The loop -------------------------------------------------------------------------
    started = time.monotonic()
    deadline = started + cfg.max_minutes * 60 if cfg.max_minutes else math.inf
    no_penalty = torch.zeros((), device=device)
    skipped_updates = torch.zeros((), device=device)  # --on-nan skip, since the last log, on the device
    pending: list[torch.Tensor] = []  # (d_loss, g_loss, penalty) per step since the last log, on the device
    since_log, last_log_time = 0, started
    step, stopped_early = start_step, False
    rollbacks = 0
    if cfg.on_nan == "rollback" and resume_state is None:
        checkpoint(0)  # something to roll back to before the first periodic checkpoint
    generator.train()
    discriminator.train()
    try:
        if pretraining is not None and not pretraining.done:  # MLE pre-training of G, with its own step count
            stopped_early = pretraining.run(
                stream, checkpoint, log=lambda record: (metrics.write(record), events.log(record["step"], record)),
                progress=progress, deadline=deadline, elapsed=lambda: elapsed_before + time.monotonic() - started,
                ema=generator_ema)
            last_log_time = time.monotonic()
        while step < total and not stopped_early:
            generator.on_step(step, total)
            for _ in range(cfg.n_critic):
                real, labels = stream.next()
                real = prepare_real(real, info)
                if fast_path.channels_last:
                    real = channels_last_batch(real)
                real_labels = labels if conditional else None
                d_loss, penalty_value = d_phase(real, real_labels)
            g_loss = g_phase(real, real_labels)
            if generator_ema is not None:
                _update_ema(generator_ema, generator, min(cfg.ema_decay, (1 + step) / (10 + step)))
            pending += (d_loss, g_loss, penalty_value)
            since_log += 1
            step += 1
            progress.advance()

            out_of_time = time.monotonic() >= deadline
            if world.active and cfg.max_minutes:  # ranks agree on stopping, at log steps
                out_of_time = world.any(out_of_time, device) if step % cfg.log_every == 0 else False
            if step % cfg.log_every == 0 or step == total or out_of_time:
                losses = world.mean(torch.stack(pending).float().view(-1, 3))
                if cfg.on_nan == "skip":  # skipped updates are counted, not averaged in
                    losses = torch.where(torch.isfinite(losses), losses, torch.nan)
                    d_mean, g_mean, p_mean = torch.nanmean(losses, 0).nan_to_num(0.0).tolist()
                else:
                    d_mean, g_mean, p_mean = losses.mean(0).tolist()
                now = time.monotonic()
                if not all(map(math.isfinite, (d_mean, g_mean, p_mean))):
                    last = run_dir / "checkpoints" / "last.pt"
                    if cfg.on_nan != "rollback" or rollbacks >= MAX_ROLLBACKS:
                        raise GankitError(
                            f"non-finite loss between steps {step - since_log} and {step} (d_loss={d_mean}, "
                            f"g_loss={g_mean}); the last good checkpoint is {last}; try a lower learning rate, "
                            f"--grad-clip, or --on-nan skip|rollback"
                        )
                    state = load_checkpoint(last)
                    restore(state, with_stream=False)
                    rollbacks += 1
                    progress.message(f"non-finite loss before step {step}: rolled back to step {state['step']}, "
                                     f"skipping the batches since ({rollbacks} of {MAX_ROLLBACKS} rollbacks)")
                    step = int(state["step"])
                    metrics.truncate_after(step)
                    pending.clear()
                    since_log, last_log_time = 0, now
                    continue
                record = {"step": step, "d_loss": d_mean, "g_loss": g_mean}
                if penalty != "none":
                    record["penalty"] = p_mean
                skipped = int(skipped_updates.item()) if cfg.on_nan == "skip" else 0
                if skipped:
                    record["skipped_updates"] = skipped
                    skipped_updates.zero_()
                record.update(generator.log_values() if hasattr(generator, "log_values") else {})
                record.update(steps_per_s=since_log / max(now - last_log_time, 1e-9),
                              time=round(elapsed_before + now - started, 3))
                metrics.write(record)
                events.log(step, record)
                progress.report(record)
                pending.clear()
                since_log, last_log_time = 0, now
            if cfg.sample_every and step % cfg.sample_every == 0 and step != total:
                write_preview(step)
            if cfg.eval_every and (step % cfg.eval_every == 0 or step == total):
                if evaluate_now(step) and step != total and step % cfg.checkpoint_every != 0:
                    checkpoint(step)  # best.pt must be a checkpoint of exactly this step
            if out_of_time and step < total:
                progress.message(f"stopping at step {step}: --max-minutes {cfg.max_minutes} reached")
                stopped_early = True
                break
            if step % cfg.checkpoint_every == 0 and step != total:
                checkpoint(step)
                rollbacks = 0
        write_preview(step)
        checkpoint(step)
        events.end(step, "stopped" if stopped_early else "finished")
    finally:
        if augment_hook is not None:
            augment_hook.remove()
        events.close(step)
        progress.close()
        metrics.close()
    return TrainResult(run_dir=run_dir, step=step, stopped_early=stopped_early, generator=generator,
                       discriminator=discriminator, generator_ema=generator_ema)


def _augment_discriminator(discriminator: nn.Module, domain: Any, policy: str, info: DataInfo,
                           generator: torch.Generator) -> Any:
    """Route every input of D during training (D and G phases, penalties) through the
    domain's augmentation, drawn from the engine's latent generator; returns the hook
    handle, removed when training ends."""
    if domain.make_augment is None:
        raise GankitError(f"domain {domain.name!r} has no augmentations; drop --augment")
    augment = domain.make_augment(policy, info)
    return discriminator.register_forward_pre_hook(lambda _module, args: (augment(args[0], generator), *args[1:]))


def _make_ema(generator: nn.Module) -> nn.Module:
    ema = copy.deepcopy(generator).eval()
    ema.requires_grad_(False)
    return ema


@torch.no_grad()
def _update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    ema_params = list(ema.parameters())
    torch._foreach_lerp_(ema_params, [p.detach() for p in model.parameters()], 1.0 - decay)
    for ema_buffer, buffer in zip(ema.buffers(), model.buffers()):
        ema_buffer.copy_(buffer)


def _check_labels(dataset: Any, num_classes: int, name: str) -> None:
    """A conditional model needs a label in [0, num_classes) for every sample; checked up
    front for in-memory datasets (a bad label would otherwise fail deep inside a step)."""
    tensors = getattr(dataset, "storage", None) or getattr(dataset, "tensors", None)  # storage: no decoding
    if tensors is None:
        return
    labels = tensors[1]
    bad = (labels < 0) | (labels >= num_classes)
    if bool(bad.any()):
        index = int(bad.nonzero()[0, 0])
        raise GankitError(f"a conditional model needs a label for every sample, but dataset {name!r} has "
                          f"{int(bad.sum())} samples without one (the first is #{index}, label {int(labels[index])}); "
                          f"label them (e.g. sub-folders) or train without -o conditional true")


def _preview_latents(generator: Any, n: int, seed: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A fixed batch of latents drawn from its own generator, so previews never change the
    training RNG and compare across steps. A conditional model with up to
    ``MAX_PREVIEW_CLASSES`` classes previews a square grid with one class per row (so
    ``n`` becomes classes × classes); with more classes the labels cycle."""
    classes = generator.num_classes
    if 0 < classes <= MAX_PREVIEW_CLASSES:
        n = classes * classes
    fixed = torch.Generator().manual_seed(seed + PREVIEW_SEED_OFFSET)
    z = generator.sample_latent(n, device="cpu", generator=fixed).to(device)
    labels = None
    if 0 < classes <= MAX_PREVIEW_CLASSES:
        labels = (torch.arange(n) // classes).to(device)
    elif classes > 0:
        labels = (torch.arange(n) % classes).to(device)
    return z, labels


def _link_atomic(source: Path, target: Path) -> None:
    """Point ``target`` at ``source``'s content atomically (a hard link where the file
    system allows, a copy otherwise)."""
    import os
    import shutil

    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    os.replace(tmp, target)
