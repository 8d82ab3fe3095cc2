"""Everything one run trains with, built once from the resolved configuration: devices,
data stream, networks, optimisers, schedules, losses, the run directory and its logs.

:func:`open_session` builds it (and restores a checkpoint when resuming); the loop in
:mod:`gankit.engine.loop` drives it. :meth:`Session.state_dict` is the checkpoint.
"""

from __future__ import annotations

import copy
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import __version__
from ..callbacks import Events, RunInfo, build_callbacks
from ..checkpoint import FORMAT_VERSION, capture_rng_state, restore_rng_state
from ..config import ResolvedConfig, eval_metric_options
from ..data import BatchStream
from ..devices import resolve_device, resolve_precision
from ..distributed import init_world
from ..errors import GankitError
from ..evaluation import build_metric_options, primary_metric
from ..fastpath import resolve_fast_path, to_channels_last
from ..limits import MAX_PARAMETERS_ENV, check_model_size
from ..penalties import has_batchnorm
from ..progress import Progress
from ..registry import Registry
from ..rundir import MetricsLog, NullLog, default_run_dir, prepare_run_dir, provenance, write_json_atomic
from .losses import AuxTerm, build_aux_terms
from .losslog import LossLog
from .optim import LRSchedule, build_optimizer
from .pretraining import Pretraining
from .previews import PreviewInputs, preview_inputs

RANK_SEED_STRIDE = 1_000_033
NOISE_SEED_OFFSET = 104729
GLOBAL_SEED_OFFSET = 7919


@dataclass
class Session:
    """The components and position of one run (see the module docstring)."""

    config: ResolvedConfig
    registry: Registry
    domain: Any
    model_spec: Any
    dataset_spec: Any
    objective: Any
    device: torch.device
    world: Any
    precision: Any
    fast_path: Any
    run_dir: Path
    dataset: Any
    info: Any
    stream: BatchStream
    generator: nn.Module
    discriminator: nn.Module
    generator_ema: nn.Module | None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    scaler_g: torch.amp.GradScaler
    scaler_d: torch.amp.GradScaler
    schedule: LRSchedule
    noise: torch.Generator
    aux_terms: list[AuxTerm]
    losses: LossLog
    pretraining: Pretraining | None
    notes: list[str] = field(default_factory=list)
    # The position, saved in every checkpoint.
    step: int = 0
    d_steps: int = 0
    elapsed_before: float = 0.0
    best: dict[str, Any] | None = None
    # Set when the run directory is opened.
    eval_spec: Any = None
    preview: PreviewInputs = PreviewInputs(None, None, None)
    metrics: Any = None
    events: Any = None
    progress: Any = None
    augment_hook: Any = None
    run_lock: Any = None
    started: float = field(default_factory=lambda: time.monotonic())  # read through the module: benchmarks patch it

    @property
    def cfg(self) -> Any:
        return self.config.train

    @property
    def sampling_generator(self) -> nn.Module:
        """The generator previews, evaluation and sampling use: the EMA when there is one."""
        return self.generator_ema if self.generator_ema is not None else self.generator

    def prepare_real(self, batch: torch.Tensor, info: Any) -> torch.Tensor:
        return self.domain.prepare_real(batch, info) if self.domain.prepare_real is not None else batch

    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.started

    def apply_schedules(self, step: int) -> None:
        """The generator's own schedules (a temperature) and the learning rates at ``step``,
        both over the run's horizon (the steps it was started with)."""
        self.generator.on_step(step, self.schedule.horizon)
        if not self.schedule.is_constant:
            base = self.config.effective["optimizers"]
            self.schedule.apply({self.opt_g: base["g"]["lr"], self.opt_d: base["d"]["lr"]}, step, self.stream.epoch)

    def state_dict(self) -> dict[str, Any]:
        """The checkpoint: plain tensors and plain data only (loaded with ``weights_only``)."""
        state = {
            "format_version": FORMAT_VERSION,
            "gankit_version": __version__,
            "config": self.config.to_dict(),
            "data_info": self.info.to_dict(),
            "step": self.step,
            "total_steps": self.cfg.steps,
            "horizon": self.schedule.horizon,
            "d_steps": self.d_steps,
            "elapsed": self.elapsed(),
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "generator_ema": self.generator_ema.state_dict() if self.generator_ema is not None else None,
            "optimizer_g": self.opt_g.state_dict(),
            "optimizer_d": self.opt_d.state_dict(),
            "scaler_g": self.scaler_g.state_dict(),
            "scaler_d": self.scaler_d.state_dict(),
            "aux_losses": {term.name: term.module.state_dict() for term in self.aux_terms if term.module is not None},
            "sampler": self.stream.state_dict(),
            "rng": capture_rng_state(self.noise),
            "best": self.best,
            "pretraining": self.pretraining.state_dict() if self.pretraining is not None else None,
        }
        state["rng_per_rank"] = self.world.gather_object(state["rng"]) if self.world.active else None
        return state

    def load_state_dict(self, state: dict[str, Any], *, with_stream: bool) -> None:
        """Every component's state from a checkpoint (resume, or a rollback after a non-finite
        loss, which keeps the stream position so the offending batches are skipped)."""
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        if self.generator_ema is not None and state.get("generator_ema") is not None:
            self.generator_ema.load_state_dict(state["generator_ema"])
        try:
            self.opt_g.load_state_dict(state["optimizer_g"])
            self.opt_d.load_state_dict(state["optimizer_d"])
        except ValueError as exc:  # torch: a parameter group of another size
            raise GankitError(f"the checkpoint's optimiser state does not fit this run's networks ({exc}): the model's "
                              f"parameters changed since the run was made; sample or evaluate it, or start a new run") from None
        self.scaler_g.load_state_dict(state["scaler_g"])
        self.scaler_d.load_state_dict(state["scaler_d"])
        for term in self.aux_terms:
            if term.module is not None and term.name in (state.get("aux_losses") or {}):
                term.module.load_state_dict(state["aux_losses"][term.name])
        if with_stream:
            self.stream.load_state_dict(state["sampler"])
        world, noise, seed = self.world, self.noise, self.cfg.seed
        per_rank = state.get("rng_per_rank") or [state["rng"]]
        rng = per_rank[world.rank] if len(per_rank) == world.size else state["rng"]
        restore_rng_state(rng, noise)
        if torch.device(rng["noise_device"]).type != noise.device.type or len(per_rank) != world.size:
            # A latent generator's state only fits its own device type and rank: resumed on
            # another device or world size, the run continues with a fresh stream from the step.
            noise.manual_seed(seed + NOISE_SEED_OFFSET + RANK_SEED_STRIDE * world.rank + int(state["step"]))
            if len(per_rank) != world.size:  # every rank was given rank 0's global state: its own stream instead
                seed_rank_streams(seed + int(state["step"]), world)
        self.step = int(state["step"])
        self.d_steps = int(state.get("d_steps", 0))


def open_session(config: ResolvedConfig, registry: Registry, *, resume_state: dict[str, Any] | None = None,
                 command_line: str | None = None) -> Session:
    """Build a run's components, restore ``resume_state`` if given, and open its directory
    (``config.json``, the metrics log, listeners, the progress display)."""
    session = _build(config, registry)
    if resume_state is not None:
        session.load_state_dict(resume_state, with_stream=True)
        session.elapsed_before = float(resume_state.get("elapsed", 0.0))
        session.best = resume_state.get("best")
        if session.pretraining is not None:
            session.pretraining.load_state_dict(resume_state.get("pretraining"))
        horizon = int(resume_state.get("horizon", resume_state.get("total_steps", session.cfg.steps)))
        if horizon != session.schedule.horizon:
            session.schedule = LRSchedule.from_settings(config.effective["lr_schedule"], horizon)
            session.notes.append(f"note: schedules keep the horizon of {horizon} steps the run was started with")
    if session.step >= session.cfg.steps:
        raise GankitError(f"the run is already at step {session.step}; pass a larger --steps to continue it")
    _open_run_dir(session, command_line, resumed=resume_state is not None)
    return session


def _build(config: ResolvedConfig, registry: Registry) -> Session:
    cfg, effective = config.train, config.effective
    domain = registry.domain(cfg.domain)
    model_spec = registry.model(cfg.domain, cfg.model or domain.default_model)
    dataset_spec = registry.dataset(cfg.domain, cfg.dataset or domain.default_dataset)
    if dataset_spec.needs_data and not cfg.data:
        raise GankitError(f"dataset {dataset_spec.name!r} needs --data PATH ({dataset_spec.description})")
    device = resolve_device(cfg.device)
    world = init_world(device)  # torchrun: one process per device; otherwise a world of one
    device = world.device(device)
    precision = resolve_precision(cfg.precision, device)

    # Seeds first, so weights, latents and data order all follow --seed.
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed % 2**32)
    random.seed(cfg.seed)
    dataset = dataset_spec.build(config.dataset_options, Path(cfg.data) if cfg.data else None)
    info = dataset.info
    with torch.random.fork_rng(devices=[]):  # measuring on the meta device leaves the seeded RNG as it was
        check_model_size(lambda: model_spec.build(config.model_options, info),
                         f"model {model_spec.name!r} with these options",
                         f"check its -o options (`gankit list {cfg.domain}` shows them); for a model this large, raise "
                         f"the limit with {MAX_PARAMETERS_ENV}")
    generator, discriminator = model_spec.build(config.model_options, info)
    generator.to(device)
    discriminator.to(device)
    world.broadcast_parameters(generator, discriminator)
    notes = [*config.notes, *_check_pairing(effective["penalty"], discriminator, model_spec.name)]
    if generator.num_classes > 0:
        _check_labels(dataset, generator.num_classes, dataset_spec.name)
    fast_path = resolve_fast_path(cfg, device, generator, discriminator, uses_scaler=precision.use_scaler,
                                  distributed=world.active)
    if fast_path.cuda_graphs and (cfg.accumulate > 1 or cfg.lr_schedule != "constant" or cfg.lr_warmup):
        raise GankitError("--cuda-graphs fixes learning rates and batch shapes at capture: use it without "
                          "--accumulate and with --lr-schedule constant and no --lr-warmup")
    if fast_path.channels_last:
        to_channels_last(generator, discriminator)
    generator_ema = _make_ema(generator) if cfg.ema_decay > 0 else None
    optimizers = effective["optimizers"]
    session = Session(
        config=config, registry=registry, domain=domain, model_spec=model_spec, dataset_spec=dataset_spec,
        objective=registry.objective(effective["objective"]), device=device, world=world, precision=precision,
        fast_path=fast_path, run_dir=Path(cfg.out) if cfg.out else default_run_dir(cfg.domain, model_spec.name),
        dataset=dataset, info=info,
        stream=BatchStream(dataset, cfg.batch_size, cfg.seed, device, cfg.num_workers, world.rank, world.size,
                           prefetch=cfg.prefetch),
        generator=generator, discriminator=discriminator, generator_ema=generator_ema,
        opt_g=build_optimizer(generator.parameters(), optimizers["g"], capturable=fast_path.cuda_graphs),
        opt_d=build_optimizer(discriminator.parameters(), optimizers["d"], capturable=fast_path.cuda_graphs),
        scaler_g=torch.amp.GradScaler(device.type, enabled=precision.use_scaler),
        scaler_d=torch.amp.GradScaler(device.type, enabled=precision.use_scaler),
        schedule=LRSchedule.from_settings(effective["lr_schedule"], cfg.steps),
        noise=torch.Generator(device=device).manual_seed(cfg.seed + NOISE_SEED_OFFSET + RANK_SEED_STRIDE * world.rank),
        aux_terms=build_aux_terms((*model_spec.aux_losses, *dataset_spec.aux_losses), effective["aux_losses"],
                                  config.model_options, config.dataset_options, info, device),
        losses=LossLog(world, device, skip_nonfinite=cfg.on_nan == "skip"),
        pretraining=Pretraining(generator, cfg, device, precision, world) if cfg.pretrain_steps else None,
        notes=notes,
    )
    seed_rank_streams(cfg.seed, world)  # after everything built with random weights, identical on every rank
    return session


def seed_rank_streams(seed: int, world: Any) -> None:
    """Under torchrun, give each process its own stream of torch's global RNG (and NumPy's
    and Python's): what a model draws there in training (Gumbel noise, dropout masks, phase
    shuffle) must differ between ranks as the latents do, or the ranks' samples are
    correlated. A single process keeps the stream its seeded weights left (nothing changes
    for a run without torchrun)."""
    if not world.active:
        return
    rank_seed = seed + GLOBAL_SEED_OFFSET + RANK_SEED_STRIDE * world.rank
    torch.manual_seed(rank_seed)
    np.random.seed(rank_seed % 2**32)
    random.seed(rank_seed)


def _open_run_dir(session: Session, command_line: str | None, *, resumed: bool) -> None:
    """Validate and lock the run directory, write ``config.json`` and open the logs."""
    cfg, world = session.cfg, session.world
    session.eval_spec = primary_metric(session.registry, cfg.domain) if cfg.eval_every else None
    if cfg.eval_options:  # a bad metric option fails before any file is written
        if session.eval_spec is None:
            raise GankitError("--eval-options sets the options of the --eval-every metric; give --eval-every N too")
        build_metric_options([session.eval_spec], eval_metric_options(cfg.eval_options))
    listeners = build_callbacks(session.registry, cfg)  # before any file is written: a missing package fails here
    if world.is_main:
        session.run_lock = prepare_run_dir(session.run_dir, resume=resumed, overwrite=cfg.overwrite,
                                           resume_step=session.step if resumed else None)
    session.run_dir = Path(world.broadcast_object(str(session.run_dir)))
    session.preview = preview_inputs(session.generator, cfg.num_preview, cfg.seed, session.device, session.dataset)
    if cfg.augment:
        session.augment_hook = _augment_discriminator(session)
    record = session.config.to_dict()
    record["data_info"] = session.info.to_dict()
    record["provenance"] = provenance(session.registry.plugins, command_line)
    if world.is_main:
        write_json_atomic(record, session.run_dir / "config.json")
        if session.domain.write_run_files is not None:  # files sampling needs besides the checkpoint (a tokenizer)
            session.domain.write_run_files(session.run_dir, session.info)
    # A fresh run starts a fresh log (a run killed before its first checkpoint may have left one).
    pretraining = session.pretraining
    log_from = pretraining.resume_log_step(session.step) if pretraining is not None else session.step
    session.metrics = MetricsLog(session.run_dir / "metrics.jsonl", resume_step=log_from) if world.is_main else NullLog()
    session.events = Events(listeners if world.is_main else [], session.device)  # listeners run on rank 0 only
    session.events.start(RunInfo(session.run_dir, record, session.step, cfg.steps, resumed=resumed))
    session.progress = Progress(cfg.steps, session.step, cfg.quiet or not world.is_main,
                                f"{cfg.domain}/{session.model_spec.name}", log_format=cfg.log_format)
    description = getattr(session.dataset, "description", None)
    if description and not resumed:
        session.progress.message(f"data: {description}")
    for note in (*session.notes, *session.stream.notes):
        session.progress.message(note)


def _check_pairing(penalty: str, discriminator: nn.Module, model: str) -> list[str]:
    """A gradient penalty needs per-sample outputs, which BatchNorm breaks; R1 with it is
    allowed but noted."""
    if penalty == "gp" and has_batchnorm(discriminator):
        raise GankitError(
            f"the gradient penalty needs per-sample discriminator outputs, but model {model!r} "
            f"has BatchNorm in its discriminator; use --penalty r1/none or a discriminator without BatchNorm"
        )
    if penalty == "r1" and has_batchnorm(discriminator):
        return [f"note: R1 with BatchNorm in {model!r}'s discriminator penalises batch statistics, "
                f"not each sample's gradient; a discriminator without BatchNorm is the usual pairing"]
    return []


def _check_labels(dataset: Any, num_classes: int, name: str) -> None:
    """A class-conditional model needs a label in [0, num_classes) for every sample; checked
    up front for in-memory datasets (a bad label would otherwise fail deep inside a step)."""
    tensors = getattr(dataset, "storage", None) or getattr(dataset, "tensors", None)  # storage: no decoding
    if tensors is None or not isinstance(tensors[1], torch.Tensor):
        return
    labels = tensors[1]
    bad = (labels < 0) | (labels >= num_classes)
    if bool(bad.any()):
        index = int(bad.nonzero()[0, 0])
        raise GankitError(f"a conditional model needs a label for every sample, but dataset {name!r} has "
                          f"{int(bad.sum())} samples without one (the first is #{index}, label {int(labels[index])}); "
                          f"label them (e.g. sub-folders) or train without -o conditional true")


def _augment_discriminator(session: Session) -> Any:
    """Route every input of D during training (D and G phases, penalties) through the
    domain's augmentation, drawn from the engine's latent generator; returns the hook
    handle, removed when training ends."""
    domain = session.domain
    if domain.make_augment is None:
        raise GankitError(f"domain {domain.name!r} has no augmentations; drop --augment")
    augment = domain.make_augment(session.cfg.augment, session.info)
    noise = session.noise
    return session.discriminator.register_forward_pre_hook(lambda _module, args: (augment(args[0], noise), *args[1:]))


def _make_ema(generator: nn.Module) -> nn.Module:
    ema = copy.deepcopy(generator).eval()
    ema.requires_grad_(False)
    return ema
