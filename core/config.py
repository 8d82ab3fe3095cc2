"""The training configuration and how it is resolved from its layers.

Precedence, lowest first: the engine's defaults (``TrainConfig``) < the model's defaults <
``--preset`` < ``--config`` file < explicit CLI options / API keywords. Every layer is a
flat mapping whose keys are either ``TrainConfig`` fields or options of the chosen model or
dataset (``-o KEY VALUE``).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

from .errors import GankitError
from .options import build_options, coerce, field_types, fields_of, option, options_to_dict
from .registry import Registry
from .specs import DatasetSpec, ModelSpec


@dataclass(frozen=True)
class TrainConfig:
    """Everything the engine needs to know about a run (model and dataset options aside)."""

    domain: str = option("", "the domain to train (image, audio, text, or a plugin's)")
    model: str | None = option(None, "model name; default: the domain's default model")
    dataset: str | None = option(None, "dataset name; default: the domain's default dataset")
    data: str | None = option(None, "path the dataset reads (a folder or file)")
    objective: str = option("non-saturating", "adversarial objective (see `gankit list`)")
    penalty: Literal["auto", "none", "gp", "r1"] = option("auto", "D regulariser; auto: what the objective implies")
    penalty_weight: float | None = option(None, "penalty weight (gp: lambda 10, r1: gamma 10)")
    penalty_every: int = option(1, "apply the penalty every N discriminator steps (lazy regularisation)")
    steps: int = option(1000, "generator updates (each with n_critic discriminator updates)")
    batch_size: int = option(64, "samples per batch (per process)")
    lr_g: float = option(2e-4, "generator learning rate (Adam)")
    lr_d: float = option(2e-4, "discriminator learning rate (Adam)")
    betas_g: tuple[float, float] = option((0.5, 0.999), "generator Adam betas")
    betas_d: tuple[float, float] = option((0.5, 0.999), "discriminator Adam betas")
    optimizer_g: Literal["adam", "adamw", "rmsprop"] = option(
        "adam", "generator optimiser: adam, adamw (decoupled weight decay) or rmsprop (the WGAN paper's; betas unused)")
    optimizer_d: Literal["adam", "adamw", "rmsprop"] = option(
        "adam", "discriminator optimiser: adam, adamw (decoupled weight decay) or rmsprop (the WGAN paper's; betas unused)")
    weight_decay_g: float | None = option(None, "generator weight decay; default: 0 for adam, 0.01 (torch's) for adamw")
    weight_decay_d: float | None = option(None, "discriminator weight decay; default: 0 for adam, 0.01 (torch's) for adamw")
    lr_schedule: Literal["constant", "exponential", "cosine", "linear"] = option(
        "constant", "learning-rate schedule of both networks: constant; exponential (x lr_decay every step or epoch, "
                    "HiFi-GAN); cosine or linear decay to 0 at the run's horizon (the steps it was started with)")
    lr_decay: float = option(0.999, "exponential schedule: the factor per --lr-decay-unit")
    lr_decay_unit: Literal["step", "epoch"] = option("step", "exponential schedule: decay every step or every epoch of the data")
    lr_warmup: int = option(0, "linear learning-rate warm-up over the first N steps (any schedule); 0: none")
    accumulate: int = option(1, "split each batch into N micro-batches whose gradients are summed before each update "
                              "(same effective batch, less memory); must divide --batch-size")
    n_critic: int = option(1, "discriminator updates per generator update")
    feature_matching: float = option(0.0, "weight of the feature-matching loss (L1 between the discriminator's feature "
                                        "maps of real and fake); needs a discriminator that returns features; 0: off")
    aux_weights: tuple[str, ...] = option((), "NAME=WEIGHT,... for the model's or dataset's auxiliary generator losses "
                                            "(see `gankit list`); 0 turns one off")
    pretrain_steps: int = option(0, "MLE pre-training steps of the generator before the adversarial steps "
                                  "(models with pretrain_loss: text); 0: none")
    pretrain_lr: float = option(1e-3, "generator learning rate (Adam) during MLE pre-training")
    augment: str = option("", "differentiable augmentation of D's inputs, real and fake alike (DiffAugment; "
                             "image: comma-separated color,translation,cutout); empty: off")
    ema_decay: float = option(0.999, "generator EMA decay; 0 turns the EMA off")
    grad_clip: float = option(0.0, "clip each network's gradient norm to this; 0: off")
    weight_clip: float = option(0.0, "clip every discriminator weight to [-c, c] after each D update (WGAN: 0.01); 0: off")
    device: str = option("auto", "auto|cpu|cuda|cuda:N|mps")
    precision: Literal["32", "bf16", "16"] = option("32", "32, bf16 (autocast) or 16 (autocast + GradScaler)")
    seed: int = option(0, "random seed (weights, latents, data order)")
    out: str | None = option(None, "run directory; default: runs/DOMAIN-MODEL-TIME")
    resume: bool = option(False, "continue the run in --out from its last checkpoint")
    overwrite: bool = option(False, "replace the gankit run already in --out (never a folder that is not a gankit run)")
    log_every: int = option(50, "read losses and write metrics.jsonl every N steps")
    sample_every: int = option(500, "write a preview every N steps; 0: only at the end")
    checkpoint_every: int = option(1000, "write a checkpoint every N steps (and at the end)")
    keep_last: int = option(3, "keep the N newest step checkpoints besides last.pt; 0: keep all")
    max_minutes: float | None = option(
        None, "stop cleanly (with a checkpoint) after this wall-clock budget; 0: no budget (turns a preset's off)")
    eval_every: int = option(0, "score the run with the domain's primary metric every N steps and keep best.pt; 0: off")
    eval_samples: int = option(1000, "samples per evaluation during training")
    eval_options: tuple[str, ...] = option((), "KEY=VALUE,... options of the --eval-every metric, as `gankit evaluate "
                                               "--metric-option KEY VALUE` takes them (e.g. resize=clean)")
    preset: str | None = option(None, "a named recipe of the model (see `gankit list`); on a CPU, the model's CPU "
                                      "preset if it declares one; none: the model's defaults")
    num_preview: int = option(64, "samples in each preview (conditional models with up to 16 classes: one row of "
                                "each class instead)")
    num_workers: int = option(0, "DataLoader workers for datasets not held in memory (kept alive for the whole run)")
    prefetch: int = option(2, "CUDA: batches copied to the device ahead of the one being trained on (data not on the GPU)")
    channels_last: Literal["auto", "on", "off"] = option(
        "auto", "channels-last memory format for images and convolutions; auto: on for CUDA with a 2-D convolutional model"
    )
    compile: bool = option(False, "torch.compile the forward passes and losses of both phases (penalty passes stay eager)")
    cuda_graphs: bool = option(False, "CUDA: capture each phase (forward, backward, optimiser step) in a CUDA graph and replay it")
    on_nan: Literal["stop", "skip", "rollback"] = option(
        "stop", "on a non-finite loss: stop (default), skip the update (on the device, no sync), or roll back to the last checkpoint"
    )
    quiet: bool = option(False, "no progress bar, messages or warnings: only the result line and errors")
    log_format: Literal["text", "json"] = option(
        "text", "console log: text (a progress bar or plain lines on stderr) or json (one JSON object a line on stdout)"
    )
    callbacks: tuple[str, ...] = option((), "listeners on training events to turn on, by name, comma-separated (see `gankit list`)")
    tensorboard: bool = option(False, "write TensorBoard event files to RUN/tensorboard (pip install 'gankit[tensorboard]')")

    def __post_init__(self) -> None:
        checks = [
            (self.steps >= 1, "steps", "must be at least 1"),
            (self.batch_size >= 1, "batch_size", "must be at least 1"),
            (self.n_critic >= 1, "n_critic", "must be at least 1"),
            (self.pretrain_steps >= 0, "pretrain_steps", "must be 0 (none) or positive"),
            (0 < self.pretrain_lr < math.inf, "pretrain_lr", "must be a positive number"),
            (0 < self.lr_g < math.inf, "lr_g", "must be a positive number"),
            (0 < self.lr_d < math.inf, "lr_d", "must be a positive number"),
            (0 <= self.ema_decay < 1, "ema_decay", "must be in [0, 1)"),
            (self.grad_clip >= 0, "grad_clip", "must be 0 (off) or positive"),
            (0 <= self.weight_clip < math.inf, "weight_clip", "must be 0 (off) or positive"),
            (self.penalty_every >= 1, "penalty_every", "must be at least 1"),
            (self.penalty_weight is None or self.penalty_weight >= 0, "penalty_weight", "must be non-negative"),
            (self.log_every >= 1, "log_every", "must be at least 1"),
            (self.sample_every >= 0, "sample_every", "must be 0 or positive"),
            (self.checkpoint_every >= 1, "checkpoint_every", "must be at least 1"),
            (self.keep_last >= 0, "keep_last", "must be 0 (keep all) or positive"),
            (self.max_minutes is None or self.max_minutes >= 0, "max_minutes", "must be 0 (no budget) or positive"),
            (self.num_preview >= 1, "num_preview", "must be at least 1"),
            (self.eval_every >= 0, "eval_every", "must be 0 (off) or positive"),
            (self.eval_samples >= 2, "eval_samples", "must be at least 2"),
            (self.num_workers >= 0, "num_workers", "must be 0 or positive"),
            (self.prefetch >= 0, "prefetch", "must be 0 or positive"),
            (all(0 <= b < 1 for b in self.betas_g), "betas_g", "must be two numbers in [0, 1)"),
            (all(0 <= b < 1 for b in self.betas_d), "betas_d", "must be two numbers in [0, 1)"),
            (self.weight_decay_g is None or 0 <= self.weight_decay_g < math.inf, "weight_decay_g", "must be non-negative"),
            (self.weight_decay_d is None or 0 <= self.weight_decay_d < math.inf, "weight_decay_d", "must be non-negative"),
            (0 < self.lr_decay <= 1, "lr_decay", "must be in (0, 1]"),
            (self.lr_warmup >= 0, "lr_warmup", "must be 0 (none) or positive"),
            (self.accumulate >= 1, "accumulate", "must be at least 1"),
            (self.batch_size % max(self.accumulate, 1) == 0, "accumulate",
             f"must divide --batch-size {self.batch_size} into equal micro-batches"),
            (0 <= self.feature_matching < math.inf, "feature_matching", "must be 0 (off) or positive"),
        ]
        for ok, name, message in checks:
            if not ok:
                raise GankitError(f"option {name!r} {message}; got {getattr(self, name, None)!r}")


ENGINE_KEYS = frozenset(fields_of(TrainConfig))

# Options that may differ when a run is resumed: they change how it runs, not what it trains.
RESUMABLE_KEYS = frozenset(
    {"steps", "max_minutes", "device", "log_every", "sample_every", "checkpoint_every", "keep_last",
     "num_workers", "quiet", "out", "resume", "overwrite", "num_preview", "eval_every", "eval_samples", "eval_options",
     "on_nan",
     "log_format", "callbacks", "tensorboard", "prefetch", "channels_last", "compile", "cuda_graphs"}
)


# Keys of a stored configuration that describe a run rather than set an option.
RECORD_KEYS = frozenset({"model_options", "dataset_options", "provenance", "data_info", "effective"})


@dataclass(frozen=True)
class ResolvedConfig:
    """A run's full configuration: engine options plus the model's and dataset's options,
    and ``effective``: the values the engine will use where an option leaves a choice
    (``--penalty auto``, default weights, the auxiliary losses and their weights).
    ``notes`` are lines for the user about choices made for them (a CPU preset), printed
    when the run starts and not stored."""

    train: TrainConfig
    model_options: Any
    dataset_options: Any
    effective: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = options_to_dict(self.train)
        data["model_options"] = options_to_dict(self.model_options)
        data["dataset_options"] = options_to_dict(self.dataset_options)
        data["effective"] = dict(self.effective)
        return data


def resolve_config(
    registry: Registry,
    explicit: Mapping[str, Any],
    config_file: str | Path | None = None,
) -> ResolvedConfig:
    """Merge the layers (see module docstring) and validate every value."""
    file_layer = read_config_file(config_file) if config_file else {}
    domain_name = explicit.get("domain") or file_layer.get("domain")
    if not domain_name:
        raise GankitError(f"no domain given; choose one of: {', '.join(sorted(registry.domains))}")
    domain = registry.domain(domain_name)
    model_name = explicit.get("model") or file_layer.get("model") or domain.default_model
    dataset_name = explicit.get("dataset") or file_layer.get("dataset") or domain.default_dataset
    model = registry.model(domain.name, model_name)
    dataset = registry.dataset(domain.name, dataset_name)

    preset_name = explicit.get("preset") or file_layer.get("preset")
    notes: list[str] = []
    device = explicit.get("device") or file_layer.get("device") or model.defaults.get("device") or "auto"
    # A config file that names a preset, even null (a run's config.json), has made the choice.
    if not preset_name and "preset" not in file_layer and model.cpu_preset and _runs_on_cpu(str(device)):
        preset_name = model.cpu_preset
        if preset_name not in model.presets:
            raise GankitError(f"model {model.name!r} declares {preset_name!r} as its CPU preset but defines no such "
                              f"preset; choose one with --preset ({', '.join(sorted(model.presets)) or 'none'})")
        notes.append(f"note: on the CPU, model {model.name!r} uses its preset {preset_name!r} "
                     f"({model.presets[preset_name].description}); --preset {NO_PRESET} for its defaults")
    preset_layer: Mapping[str, Any] = {}
    if preset_name and preset_name != NO_PRESET:
        if preset_name not in model.presets:
            valid = ", ".join(sorted(model.presets)) or "(this model has none)"
            raise GankitError(f"model {model.name!r} has no preset {preset_name!r}; its presets are: {valid} "
                              f"(or {NO_PRESET})")
        preset_layer = model.presets[preset_name].options

    # A model's defaults and presets are written for its usual datasets: their dataset options
    # apply where the chosen dataset has them and are skipped where it does not.
    known = ENGINE_KEYS | set(fields_of(model.options)) | set(fields_of(dataset.options))
    model_layers = [{k: v for k, v in layer.items() if k.replace("-", "_") in known}
                    for layer in (model.defaults, preset_layer)]
    merged: dict[str, Any] = {}
    for layer in (*model_layers, file_layer, explicit):
        merged.update({key.replace("-", "_"): value for key, value in layer.items() if value is not None})
    merged.update(domain=domain.name, model=model.name, dataset=dataset.name)
    if preset_name:
        merged["preset"] = preset_name  # config.json records the CPU preset chosen for the user
    return dataclasses.replace(_resolved(registry, merged, model, dataset), notes=tuple(notes))


NO_PRESET = "none"  # --preset none: the model's defaults, not even its CPU preset


def _runs_on_cpu(device: str) -> bool:
    """Whether ``--device`` means the CPU here (``auto`` on a machine without CUDA or MPS).
    An accelerator named explicitly is not checked here: the engine says if it is missing."""
    name = device.strip().lower()
    if name != "auto":
        return name == "cpu"
    from .devices import resolve_device  # imports torch: only when a model has a CPU preset

    return resolve_device("auto").type == "cpu"


def _resolved(registry: Registry, merged: Mapping[str, Any], model: ModelSpec, dataset: DatasetSpec, *,
              stored: bool = False) -> ResolvedConfig:
    config = split_options(merged, model, dataset)
    return dataclasses.replace(config, effective=effective_settings(registry, config.train, model, dataset,
                                                                    stored=stored))


def effective_settings(registry: Registry, train: TrainConfig, model: ModelSpec, dataset: DatasetSpec, *,
                       stored: bool = False) -> dict[str, Any]:
    """What the engine will do where an option leaves a choice, validated: the penalty
    ``auto`` implies and its weight, the auxiliary losses with their weights, the optimisers'
    weight decay, the learning-rate schedule and the micro-batch size. Stored in
    ``config.json`` and printed by ``--dry-run``.

    ``stored``: the configuration of an existing run, rebuilt to sample, evaluate or resume
    it; a run made before a check existed (an unconstrained critic) still opens."""
    from .penalties import PENALTIES

    objective = registry.objective(train.objective)
    penalty = (objective.penalty or "none") if train.penalty == "auto" else train.penalty
    if penalty != "none" and penalty not in PENALTIES:
        raise GankitError(f"unknown penalty {penalty!r}; choose one of: none, {', '.join(PENALTIES)}")
    if objective.lipschitz and penalty == "none" and not train.weight_clip and not stored:
        raise GankitError(f"objective {objective.name!r} needs a Lipschitz-constrained discriminator, and this run has "
                          f"none (its critic would be unbounded): add --weight-clip 0.01 (the WGAN paper, with "
                          f"--optimizer-d rmsprop), --penalty gp (WGAN-GP) or --penalty r1")
    weight = train.penalty_weight if train.penalty_weight is not None else (
        PENALTIES[penalty].default_weight if penalty != "none" else 0.0)
    if train.on_nan == "skip" and "rmsprop" in (train.optimizer_g, train.optimizer_d):
        raise GankitError("--on-nan skip needs adam or adamw (fused optimisers skip an update on the device); "
                          "with rmsprop use --on-nan stop or rollback")
    optimizers = {
        net: _optimizer_settings(kind, lr, betas, decay)
        for net, kind, lr, betas, decay in (("g", train.optimizer_g, train.lr_g, train.betas_g, train.weight_decay_g),
                                            ("d", train.optimizer_d, train.lr_d, train.betas_d, train.weight_decay_d))
    }
    schedule: dict[str, Any] = {"type": train.lr_schedule, "warmup": train.lr_warmup}
    if train.lr_schedule == "exponential":
        schedule.update(decay=train.lr_decay, unit=train.lr_decay_unit)
    return {
        "objective": objective.name,
        "penalty": penalty,
        "penalty_weight": weight,
        "penalty_every": train.penalty_every if penalty != "none" else None,
        "feature_matching": train.feature_matching,
        "aux_losses": aux_loss_weights(train.aux_weights, model, dataset),
        "optimizers": optimizers,
        "lr_schedule": schedule,
        "micro_batch": train.batch_size // train.accumulate,
        "weight_clip": train.weight_clip,
    }


RMSPROP_ALPHA = 0.99  # torch's default smoothing constant, as the WGAN reference code uses


def _optimizer_settings(kind: str, lr: float, betas: tuple[float, float], decay: float | None) -> dict[str, Any]:
    """One network's optimiser as ``build_optimizer`` reads it (rmsprop has no betas)."""
    settings: dict[str, Any] = {"type": kind, "lr": lr}
    if kind == "rmsprop":
        settings["alpha"] = RMSPROP_ALPHA
    else:
        settings["betas"] = list(betas)
    settings["weight_decay"] = decay if decay is not None else (0.01 if kind == "adamw" else 0.0)
    return settings


def aux_loss_weights(overrides: Sequence[str], model: ModelSpec, dataset: DatasetSpec) -> dict[str, float]:
    """Each auxiliary loss the model and dataset declare, with its weight after
    ``--aux-weights NAME=W,...``."""
    weights = {spec.name: float(spec.weight) for spec in (*model.aux_losses, *dataset.aux_losses)}
    for entry in overrides:
        name, sep, value = entry.partition("=")
        name = name.strip()
        if not sep:
            raise GankitError(f"option 'aux_weights' expects NAME=WEIGHT entries (--aux-weights l1=45), got {entry!r}")
        if name not in weights:
            known = ", ".join(sorted(weights)) or "(this model and dataset declare none)"
            raise GankitError(f"option 'aux_weights': model {model.name!r} and dataset {dataset.name!r} have no auxiliary "
                              f"loss {name!r}; theirs are: {known}")
        try:
            weight = float(value)
        except ValueError:
            weight = math.nan
        if not 0 <= weight < math.inf:
            raise GankitError(f"option 'aux_weights': the weight of {name!r} must be a non-negative number, got {value!r}")
        weights[name] = weight
    return weights


def eval_metric_options(entries: Sequence[str]) -> dict[str, str]:
    """``--eval-options KEY=VALUE,...`` as the ``metric_options`` mapping scoring takes."""
    values = {}
    for entry in entries:
        key, sep, value = entry.partition("=")
        if not sep or not key.strip():
            raise GankitError(f"option 'eval_options' expects KEY=VALUE entries (--eval-options resize=clean), "
                              f"got {entry!r}")
        values[key.strip()] = value.strip()
    return values


def split_options(merged: Mapping[str, Any], model: ModelSpec, dataset: DatasetSpec) -> ResolvedConfig:
    """Sort a flat mapping into engine, model and dataset options; an unknown key is an
    error that lists what is valid."""
    model_keys = set(fields_of(model.options))
    dataset_keys = set(fields_of(dataset.options))
    engine_values: dict[str, Any] = {}
    model_values: dict[str, Any] = {}
    dataset_values: dict[str, Any] = {}
    for key, value in merged.items():
        key = key.replace("-", "_")
        matched = False
        if key in ENGINE_KEYS:  # engine options are never passed on to the model or dataset
            engine_values[key] = value
            continue
        if key in model_keys:
            model_values[key] = value
            matched = True
        if key in dataset_keys:
            dataset_values[key] = value
            matched = True
        if not matched:
            valid = sorted(model_keys | dataset_keys)
            close = difflib.get_close_matches(key, [*ENGINE_KEYS, *valid], n=1)
            raise GankitError(
                f"unknown option {key!r}: not an engine option, nor one of model {model.name!r} or dataset "
                f"{dataset.name!r}{f' (did you mean {close[0]!r}?)' if close else ''}; model/dataset options are: "
                f"{', '.join(valid) or '(none)'}; engine options are listed by `gankit train {model.domain} --help`"
            )
    types_by_name = field_types(TrainConfig)
    converted = {key: coerce(key, types_by_name[key], value) for key, value in engine_values.items()}
    train = TrainConfig(**converted)
    return ResolvedConfig(
        train=train,
        model_options=build_options(model.options, model_values, what=f"model {model.name!r}"),
        dataset_options=build_options(dataset.options, dataset_values, what=f"dataset {dataset.name!r}"),
    )


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A flat mapping from a TOML or JSON file. A run's ``config.json`` works too: its
    ``model_options``/``dataset_options`` tables are flattened and provenance ignored."""
    path = Path(path)
    if not path.is_file():
        raise GankitError(f"config file {str(path)!r} does not exist")
    if path.suffix.lower() in (".yaml", ".yml"):
        raise GankitError(f"config file {str(path)!r}: YAML is not supported; write the options as TOML (.toml) "
                          f"or JSON (.json)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GankitError(f"cannot read config file {str(path)!r}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        if path.suffix.lower() == ".toml":
            import tomllib

            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except ValueError as exc:
        raise GankitError(f"config file {str(path)!r} is not valid {path.suffix.lstrip('.').upper() or 'JSON'}: {exc}") from None
    if not isinstance(data, dict):
        raise GankitError(f"config file {str(path)!r} must hold a table of options")
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("model_options", "dataset_options", "options") and isinstance(value, dict):
            flat.update(value)
        elif key in RECORD_KEYS or key in ("resume", "overwrite"):
            continue  # a file describes a run; continuing one is --resume's job
        else:
            flat[key.replace("-", "_")] = value
    return flat


def config_from_dict(registry: Registry, data: Mapping[str, Any]) -> ResolvedConfig:
    """Rebuild a resolved configuration stored in a checkpoint or ``config.json``."""
    flat = {key: value for key, value in data.items() if key not in RECORD_KEYS}
    flat.update(data.get("model_options", {}))
    flat.update(data.get("dataset_options", {}))
    model = registry.model(flat["domain"], flat["model"])
    dataset = registry.dataset(flat["domain"], flat["dataset"])
    return _resolved(registry, flat, model, dataset, stored=True)

