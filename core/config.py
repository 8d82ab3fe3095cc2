"""The training configuration and how it is resolved from its layers.

Precedence, lowest first: the engine's defaults (``TrainConfig``) < the model's defaults <
``--preset`` < ``--config`` file < explicit CLI options / API keywords. Every layer is a
flat mapping whose keys are either ``TrainConfig`` fields or options of the chosen model or
dataset (``-o KEY VALUE``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping

from .errors import GankitError
from .options import build_options, coerce, field_types, fields_of, options_to_dict
from .registry import Registry
from .specs import DatasetSpec, ModelSpec


def _opt(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class TrainConfig:
    """Everything the engine needs to know about a run (model and dataset options aside)."""

    domain: str = _opt("", "the domain to train (image, audio, text, or a plugin's)")
    model: str | None = _opt(None, "model name; default: the domain's default model")
    dataset: str | None = _opt(None, "dataset name; default: the domain's default dataset")
    data: str | None = _opt(None, "path the dataset reads (a folder or file)")
    objective: str = _opt("non-saturating", "adversarial objective (see `gankit list`)")
    penalty: Literal["auto", "none", "gp", "r1"] = _opt("auto", "D regulariser; auto: what the objective implies")
    penalty_weight: float | None = _opt(None, "penalty weight (gp: lambda 10, r1: gamma 10)")
    penalty_every: int = _opt(1, "apply the penalty every N discriminator steps (lazy regularisation)")
    steps: int = _opt(1000, "generator updates (each with n_critic discriminator updates)")
    batch_size: int = _opt(64, "samples per batch (per process)")
    lr_g: float = _opt(2e-4, "generator learning rate (Adam)")
    lr_d: float = _opt(2e-4, "discriminator learning rate (Adam)")
    betas_g: tuple[float, float] = _opt((0.5, 0.999), "generator Adam betas")
    betas_d: tuple[float, float] = _opt((0.5, 0.999), "discriminator Adam betas")
    n_critic: int = _opt(1, "discriminator updates per generator update")
    pretrain_steps: int = _opt(0, "MLE pre-training steps of the generator before the adversarial steps "
                                  "(models with pretrain_loss: text); 0: none")
    pretrain_lr: float = _opt(1e-3, "generator learning rate (Adam) during MLE pre-training")
    augment: str = _opt("", "differentiable augmentation of D's inputs, real and fake alike (DiffAugment; "
                             "image: comma-separated color,translation,cutout); empty: off")
    ema_decay: float = _opt(0.999, "generator EMA decay; 0 turns the EMA off")
    grad_clip: float = _opt(0.0, "clip each network's gradient norm to this; 0: off")
    device: str = _opt("auto", "auto|cpu|cuda|cuda:N|mps")
    precision: Literal["32", "bf16", "16"] = _opt("32", "32, bf16 (autocast) or 16 (autocast + GradScaler)")
    seed: int = _opt(0, "random seed (weights, latents, data order)")
    out: str | None = _opt(None, "run directory; default: runs/DOMAIN-MODEL-TIME")
    resume: bool = _opt(False, "continue the run in --out from its last checkpoint")
    log_every: int = _opt(50, "read losses and write metrics.jsonl every N steps")
    sample_every: int = _opt(500, "write a preview every N steps; 0: only at the end")
    checkpoint_every: int = _opt(1000, "write a checkpoint every N steps (and at the end)")
    keep_last: int = _opt(3, "keep the N newest step checkpoints besides last.pt; 0: keep all")
    max_minutes: float | None = _opt(
        None, "stop cleanly (with a checkpoint) after this wall-clock budget; 0: no budget (turns a preset's off)")
    eval_every: int = _opt(0, "score the run with the domain's primary metric every N steps and keep best.pt; 0: off")
    eval_samples: int = _opt(1000, "samples per evaluation during training")
    preset: str | None = _opt(None, "a named recipe of the model (see `gankit list`)")
    num_preview: int = _opt(64, "samples in each preview (conditional models with up to 16 classes: one row of "
                                "each class instead)")
    num_workers: int = _opt(0, "DataLoader workers for datasets not held in memory (kept alive for the whole run)")
    prefetch: int = _opt(2, "CUDA: batches copied to the device ahead of the one being trained on (data not on the GPU)")
    channels_last: Literal["auto", "on", "off"] = _opt(
        "auto", "channels-last memory format for images and convolutions; auto: on for CUDA with a 2-D convolutional model"
    )
    compile: bool = _opt(False, "torch.compile the forward passes and losses of both phases (penalty passes stay eager)")
    cuda_graphs: bool = _opt(False, "CUDA: capture each phase (forward, backward, optimiser step) in a CUDA graph and replay it")
    on_nan: Literal["stop", "skip", "rollback"] = _opt(
        "stop", "on a non-finite loss: stop (default), skip the update (on the device, no sync), or roll back to the last checkpoint"
    )
    quiet: bool = _opt(False, "no progress bar, messages or warnings: only the result line and errors")
    log_format: Literal["text", "json"] = _opt(
        "text", "console log: text (a progress bar or plain lines on stderr) or json (one JSON object a line on stdout)"
    )
    callbacks: tuple[str, ...] = _opt((), "listeners on training events to turn on, by name, comma-separated (see `gankit list`)")
    tensorboard: bool = _opt(False, "write TensorBoard event files to RUN/tensorboard (pip install 'gankit[tensorboard]')")

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
            (all(0 <= b < 1 for b in self.betas_g + self.betas_d), "betas", "must be in [0, 1)"),
        ]
        for ok, name, message in checks:
            if not ok:
                raise GankitError(f"option {name!r} {message}; got {getattr(self, name, None)!r}")


ENGINE_KEYS = frozenset(fields_of(TrainConfig))

# Options that may differ when a run is resumed: they change how it runs, not what it trains.
RESUMABLE_KEYS = frozenset(
    {"steps", "max_minutes", "device", "log_every", "sample_every", "checkpoint_every", "keep_last",
     "num_workers", "quiet", "out", "resume", "num_preview", "eval_every", "eval_samples", "on_nan",
     "log_format", "callbacks", "tensorboard", "prefetch", "channels_last", "compile", "cuda_graphs"}
)


@dataclass(frozen=True)
class ResolvedConfig:
    """A run's full configuration: engine options plus the model's and dataset's options."""

    train: TrainConfig
    model_options: Any
    dataset_options: Any

    def to_dict(self) -> dict[str, Any]:
        data = options_to_dict(self.train)
        data["model_options"] = options_to_dict(self.model_options)
        data["dataset_options"] = options_to_dict(self.dataset_options)
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
    preset_layer: Mapping[str, Any] = {}
    if preset_name:
        if preset_name not in model.presets:
            valid = ", ".join(sorted(model.presets)) or "(this model has none)"
            raise GankitError(f"model {model.name!r} has no preset {preset_name!r}; its presets are: {valid}")
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
    return split_options(merged, model, dataset)


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
            raise GankitError(
                f"unknown option {key!r} for model {model.name!r} and dataset {dataset.name!r}; "
                f"model/dataset options are: {', '.join(valid) or '(none)'} "
                f"(engine options: see `gankit train {model.domain} --help`)"
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
    text = path.read_text(encoding="utf-8")
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
        elif key in ("provenance", "data_info", "resume"):
            continue  # a file describes a run; continuing one is --resume's job
        else:
            flat[key.replace("-", "_")] = value
    return flat


def config_from_dict(registry: Registry, data: Mapping[str, Any]) -> ResolvedConfig:
    """Rebuild a resolved configuration stored in a checkpoint or ``config.json``."""
    flat = {key: value for key, value in data.items() if key not in ("model_options", "dataset_options", "provenance", "data_info")}
    flat.update(data.get("model_options", {}))
    flat.update(data.get("dataset_options", {}))
    model = registry.model(flat["domain"], flat["model"])
    dataset = registry.dataset(flat["domain"], flat["dataset"])
    return split_options(flat, model, dataset)

