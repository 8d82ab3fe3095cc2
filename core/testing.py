"""A conformance kit for plugin authors: call it from your own tests.

    from gankit.testing import check_domain

    def test_my_domain(tmp_path):
        check_domain("toy2d", tmp_path=tmp_path)

:func:`check_domain` runs every check below on one domain/model/dataset, through the same
code paths users hit (the registry, ``gankit.train``, ``gankit.load``, the CLI), and raises
:class:`ConformanceError` (an ``AssertionError``) naming the check and what to fix. Each
check is also a function of its own. :func:`check_objective` does the same for an
objective. With pytest, the ``gankit_check`` fixture is ``check_domain`` bound to the
test's ``tmp_path`` (``from gankit.testing import gankit_check`` in a test module or
conftest, or ``pytest_plugins = ["gankit.testing"]`` in the root conftest).

The kit checks what this process sees (:func:`gankit.registry.get_registry`): installed
entry points allowed by ``GANKIT_LOAD_PLUGINS`` plus plugins registered at run time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import numbers
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from .errors import GankitError
from .options import coerce, field_types
from .registry import get_registry, plugin_manager
from .specs import DataInfo

# Modules a plugin must not import when it is loaded (``gankit --help`` loads every plugin).
HEAVY_MODULES = ("torch", "torchaudio", "torchvision", "transformers", "tensorflow", "jax", "matplotlib",
                 "scipy", "sklearn")

CHECKS = ("registration", "options", "dataset", "model", "train", "checkpoint", "resume", "samples", "metrics")


class ConformanceError(AssertionError):
    """A plugin breaks gankit's contract; the message names the check and what to fix."""


@dataclass
class Report:
    """What :func:`check_domain` checked: ``passed`` in order, ``skipped`` with the reason."""

    domain: str
    model: str
    dataset: str
    passed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def _require(ok: Any, message: str) -> None:
    if not ok:
        raise ConformanceError(message)


@contextlib.contextmanager
def _check(name: str, subject: str) -> Iterator[None]:
    """Prefix failures (and unexpected exceptions) with the check and the subject."""
    try:
        yield
    except ConformanceError as exc:
        raise ConformanceError(f"[{name}] {subject}: {exc}") from None
    except Exception as exc:
        raise ConformanceError(f"[{name}] {subject}: raised {type(exc).__name__}: {exc}") from exc


@contextlib.contextmanager
def plugin_registered(plugin: Any, name: str | None = None) -> Iterator[Any]:
    """Register ``plugin`` (a module or any object with ``@hookimpl`` functions) with the
    process-wide plugin manager for the ``with`` block, and unregister it afterwards."""
    from . import registry

    name = name or getattr(plugin, "__name__", None) or f"plugin-{id(plugin)}"
    plugin_manager().register(plugin, name=name)
    registry._registry = None  # the cache is keyed by plugin names: another object may have had this one
    try:
        yield plugin
    finally:
        plugin_manager().unregister(name=name)
        registry._registry = None


# The whole domain ------------------------------------------------------------------------

def check_domain(
    domain: str,
    model: str | None = None,
    dataset: str | None = None,
    *,
    tmp_path: str | Path,
    data: str | Path | None = None,
    steps: int = 2,
    batch_size: int = 8,
    skip: Sequence[str] = (),
    heavy: Sequence[str] = HEAVY_MODULES,
    **options: Any,
) -> Report:
    """Check a domain with one of its models and datasets (default: the domain's defaults).

    ``options`` are model/dataset options (``-o KEY VALUE``) or training options passed to
    every ``gankit.train`` call (keep data small: ``count=64``); ``data`` is ``--data``.
    ``skip`` names checks to leave out (see :data:`CHECKS`). Returns a :class:`Report`.
    """
    unknown = sorted(set(skip) - set(CHECKS))
    if unknown:
        raise ValueError(f"unknown check {unknown[0]!r}; the checks are: {', '.join(CHECKS)}")
    registry = get_registry()
    if domain not in registry.domains:
        failures = "; ".join(f"{f.plugin}: {f.error}" for f in registry.failures()) or "none"
        raise ConformanceError(
            f"domain {domain!r} is not registered (domains: {', '.join(sorted(registry.domains))}; plugin failures: "
            f"{failures}; GANKIT_LOAD_PLUGINS={os.environ.get('GANKIT_LOAD_PLUGINS')!r})")
    spec = registry.domain(domain)
    model = model or spec.default_model
    dataset = dataset or spec.default_dataset
    report = Report(domain, model, dataset)
    subject = f"{domain}/{model} on {dataset}"
    tmp = Path(tmp_path)
    run_options = {"model": model, "dataset": dataset, "data": str(data) if data else None, **options}

    def run(name: str, check: Callable[[], Any], reason: str | None = None) -> Any:
        if name in skip or reason:
            report.skipped[name] = reason or "skipped by the caller"
            return None
        with _check(name, subject):
            result = check()
        report.passed.append(name)
        return result

    def registration() -> None:
        _require(spec.default_model in registry.models_for(domain),
                 f"the domain's default_model {spec.default_model!r} is not registered for it")
        _require(spec.default_dataset in registry.datasets_for(domain),
                 f"the domain's default_dataset {spec.default_dataset!r} is not registered for it")
        keys = [("domains", domain), ("models", (domain, model)), ("datasets", (domain, dataset))]
        keys += [("metrics", (domain, name)) for name in registry.metrics_for(domain)]
        for module in dict.fromkeys(_plugin_module(registry.owner_of(kind, key)) for kind, key in keys):
            if module:
                check_registration_is_light(module, heavy=heavy)

    run("registration", registration)
    run("options", lambda: check_options(domain, model, dataset))
    from .config import resolve_config

    resolved = resolve_config(registry, {"domain": domain, **{k: v for k, v in run_options.items() if v is not None}})
    dataset_spec = registry.dataset(domain, dataset)
    if dataset_spec.needs_data and not data:
        raise ConformanceError(f"dataset {dataset!r} needs data: pass data=PATH to check_domain")
    built = run("dataset", lambda: _built_dataset(dataset_spec, resolved.dataset_options, data))
    if built is None:
        built = dataset_spec.build(resolved.dataset_options, Path(data) if data else None)
    info = built.info
    real, real_labels = _real_batch(built, 4)

    def model_check() -> None:
        generator, discriminator = registry.model(domain, model).build(resolved.model_options, info)
        check_model(generator, discriminator, info, prepare_real=spec.prepare_real, real=real, real_labels=real_labels)

    run("model", model_check)
    batch = min(batch_size, len(built))
    train_options = {"steps": steps, "batch_size": batch, "device": "cpu", "quiet": True, "sample_every": 0,
                     "checkpoint_every": steps, "log_every": 1, "eval_every": 0, **run_options}
    has_metric = any(m.primary for m in registry.metrics_for(domain).values())
    if has_metric and "eval_every" not in options and "metrics" not in skip:
        train_options.update(eval_every=steps, eval_samples=max(2, min(64, len(built))))
    run_dir = _fresh(tmp / f"conformance-{domain}-{model}-{dataset}")
    trained = run("train", lambda: check_train_step(domain, run_dir, **train_options))
    no_run = "needs the train check" if trained is None else None
    run("checkpoint", lambda: check_checkpoint(run_dir), no_run)
    run("resume", lambda: check_resume(domain, run_dir, steps + 1, device=train_options["device"]), no_run)
    run("samples", lambda: check_samples(run_dir, run_dir / "conformance-samples"), no_run)
    run("metrics", lambda: check_metrics(run_dir, data=data), no_run or (
        None if registry.metrics_for(domain) else f"domain {domain!r} has no metrics"))
    return report


def _fresh(path: Path) -> Path:
    """``path``, or ``path-2``, ``path-3``, ... when it exists (check_domain twice in one test)."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.name}-{number}")
    return candidate


def _plugin_module(plugin_name: str) -> str | None:
    """The importable module a registered plugin is, or None (an object registered at run
    time, a module defined in ``__main__``)."""
    plugin = plugin_manager().get_plugin(plugin_name)
    name = getattr(plugin, "__name__", None) if isinstance(plugin, type(sys)) else None
    if not name or name == "__main__" or getattr(plugin, "__file__", None) is None:
        return None
    return name


def _built_dataset(spec: Any, options: Any, data: Any) -> Any:
    built = spec.build(options, Path(data) if data else None)
    check_dataset(built)
    return built


def _real_batch(dataset: Any, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    items = [dataset[i] for i in range(min(n, len(dataset)))]
    return torch.stack([x for x, _ in items]), torch.as_tensor([int(y) for _, y in items], dtype=torch.long)


# Registration ------------------------------------------------------------------------------

_LIGHT_PROBE = """
import importlib, json, sys
heavy = {heavy!r}
before = {{m for m in heavy if m in sys.modules}}
from gankit.registry import Registry, get_plugin_manager
pm, infos = get_plugin_manager(load_entry_points=False)
module = importlib.import_module({module!r})
if not pm.is_registered(module):
    pm.register(module, name={module!r})
registry = Registry(pm, infos)
from gankit.cli import cli
for impl in pm.hook.register_commands.get_hookimpls():
    if impl.plugin is module:
        impl.function(cli=cli)
print(json.dumps({{"heavy": sorted({{m for m in heavy if m in sys.modules}} - before),
                  "failures": [[f.plugin, f.error] for f in registry.failures()]}}))
"""


def check_registration_is_light(module: str, *, heavy: Sequence[str] = HEAVY_MODULES) -> None:
    """Import the plugin ``module`` in a fresh interpreter, register it beside the built-in
    plugins and let it add its commands; none of ``heavy`` may be imported on the way
    (``gankit --help`` loads every plugin), and registering must not fail."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    probe = _LIGHT_PROBE.format(heavy=tuple(heavy), module=module)
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    _require(result.returncode == 0, f"importing and registering plugin module {module!r} failed:\n{result.stderr[-2000:]}")
    found = json.loads(result.stdout.strip().splitlines()[-1])
    _require(not found["failures"], f"registering plugin module {module!r} failed: {found['failures']}")
    _require(not found["heavy"],
             f"loading plugin module {module!r} imports {', '.join(found['heavy'])}; every gankit command loads "
             f"every plugin, so import heavy modules inside your factories (or name them with gankit.specs.lazy)")


# Options ----------------------------------------------------------------------------------

def _cli_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return ",".join(_cli_text(v) for v in value)
    return repr(value) if isinstance(value, float) else str(value)


def check_options(domain: str, model: str, dataset: str) -> None:
    """Every option of the model and the dataset is a field of a frozen dataclass with a
    default and a help text, parses from its ``-o KEY VALUE`` text back to its default, has
    a name no engine option shadows, and is listed by ``gankit train DOMAIN --help``."""
    from click.testing import CliRunner

    from .cli import cli
    from .config import ENGINE_KEYS, resolve_config

    registry = get_registry()
    specs = {"model": registry.model(domain, model), "dataset": registry.dataset(domain, dataset)}
    result = CliRunner().invoke(cli, ["train", domain, "--help"], catch_exceptions=False)
    _require(result.exit_code == 0, f"`gankit train {domain} --help` failed:\n{result.output}")
    for kind, spec in specs.items():
        what = f"{kind} {spec.name!r}"
        options_type = spec.options
        _require(dataclasses.is_dataclass(options_type), f"{what}: options must be a dataclass, got {options_type!r}")
        _require(options_type.__dataclass_params__.frozen,
                 f"{what}: make the options dataclass frozen (@dataclass(frozen=True))")
        types_by_name = field_types(options_type)
        try:
            defaults = options_type()
        except (TypeError, ValueError) as exc:
            raise ConformanceError(f"{what}: the options must build from their defaults alone (every field needs a "
                                   f"valid default; users set only what they change): {exc}") from None
        _require(spec.name in result.output, f"{what} is not listed by `gankit train {domain} --help`")
        for f in dataclasses.fields(options_type):
            option = f"{what} option {f.name!r}"
            _require(f.name not in ENGINE_KEYS, f"{option} has the name of an engine option, so it can never be set; "
                                                f"rename it (e.g. data_{f.name})")
            _require(str(f.metadata.get("help", "")).strip(), f"{option} has no help text: "
                                                              f"field(default=..., metadata={{'help': '...'}})")
            default = getattr(defaults, f.name)
            text = _cli_text(default)
            try:
                parsed = coerce(f.name, types_by_name[f.name], text)
                resolved = resolve_config(registry, {"domain": domain, "model": model, "dataset": dataset, f.name: text})
            except GankitError as exc:
                raise ConformanceError(f"{option}: its default {default!r} given as `-o {f.name} {text}` does not "
                                       f"parse: {exc}") from None
            value = getattr(resolved.model_options if kind == "model" else resolved.dataset_options, f.name)
            _require(parsed == default and value == default,
                     f"{option}: `-o {f.name} {text}` gives {value!r}, not the default {default!r}")
            _require(f"-o {f.name} " in result.output, f"{option} is not shown by `gankit train {domain} --help`")


# Data and networks -------------------------------------------------------------------------

def _torch_dtype(name: str) -> torch.dtype:
    dtype = getattr(torch, str(name), None)
    _require(isinstance(dtype, torch.dtype), f"DataInfo.dtype {name!r} is not a torch dtype name (float32, int64, ...)")
    return dtype


def _check_values(x: torch.Tensor, info: DataInfo, what: str) -> None:
    if x.is_floating_point():
        _require(torch.isfinite(x).all(), f"{what} has NaN or infinite values")
    if info.value_range is not None and x.numel():
        low, high = info.value_range
        tol = 1e-4 * max(1.0, high - low)
        _require(float(x.min()) >= low - tol and float(x.max()) <= high + tol,
                 f"{what} has values in [{float(x.min()):.4g}, {float(x.max()):.4g}], outside "
                 f"DataInfo.value_range {tuple(info.value_range)}")


def check_dataset(dataset: Any, *, samples: int = 4) -> None:
    """The dataset describes itself in a JSON-serialisable ``info`` (:class:`DataInfo`) and
    its items are ``(x, y)`` with ``x`` of ``info.shape``/``info.dtype`` within
    ``info.value_range`` and ``y`` an integer label in ``[0, num_classes)`` or -1; an
    in-memory ``tensors = (x_all, y_all)`` agrees with the items."""
    info = getattr(dataset, "info", None)
    _require(isinstance(info, DataInfo), f"the dataset needs an `info` attribute holding a gankit.specs.DataInfo, "
                                         f"got {type(info).__name__}")
    shape = tuple(info.shape)
    _require(shape and all(isinstance(s, int) and s > 0 for s in shape), f"DataInfo.shape {shape} must be positive ints")
    dtype = _torch_dtype(info.dtype)
    _require(info.value_range is None or (len(info.value_range) == 2 and info.value_range[0] < info.value_range[1]),
             f"DataInfo.value_range must be None or (low, high) with low < high, got {info.value_range!r}")
    _require(isinstance(info.num_classes, int) and info.num_classes >= 0, "DataInfo.num_classes must be an int >= 0")
    try:
        json.dumps(info.to_dict())
    except (TypeError, ValueError) as exc:
        raise ConformanceError(f"DataInfo must be JSON-serialisable (it goes into config.json and checkpoints): {exc}")
    size = len(dataset)
    _require(size >= 1, "the dataset is empty")
    description = getattr(dataset, "description", None)
    _require(description is None or isinstance(description, str), "the dataset's `description` must be a string")
    indices = sorted(set(np.linspace(0, size - 1, num=min(max(samples, 2), size)).round().astype(int).tolist()))
    tensors = getattr(dataset, "tensors", None)
    for i in indices:
        item = dataset[i]
        _require(isinstance(item, (tuple, list)) and len(item) == 2, f"dataset[{i}] must be a pair (x, y), got "
                                                                     f"{type(item).__name__}")
        x, y = item
        _require(isinstance(x, torch.Tensor), f"dataset[{i}][0] must be a tensor, got {type(x).__name__}")
        _require(tuple(x.shape) == shape, f"dataset[{i}][0] has shape {tuple(x.shape)}, but DataInfo.shape is {shape}")
        _require(x.dtype == dtype, f"dataset[{i}][0] has dtype {x.dtype}, but DataInfo.dtype is {info.dtype!r}")
        _check_values(x, info, f"dataset[{i}][0]")
        is_int = isinstance(y, numbers.Integral) or (
            isinstance(y, torch.Tensor) and y.dim() == 0 and not y.is_floating_point())
        _require(is_int and not isinstance(y, bool), f"dataset[{i}][1] must be an integer label, got {y!r}")
        _check_label(int(y), info, f"dataset[{i}][1]")
        if tensors is not None:
            _require(torch.equal(tensors[0][i], x), f"dataset.tensors[0][{i}] differs from dataset[{i}][0]")
    if tensors is not None:
        _require(isinstance(tensors, (tuple, list)) and len(tensors) == 2, "dataset.tensors must be (x_all, y_all)")
        x_all, y_all = tensors
        _require(tuple(x_all.shape) == (size, *shape), f"dataset.tensors[0] has shape {tuple(x_all.shape)}, "
                                                       f"expected {(size, *shape)}")
        _require(tuple(y_all.shape) == (size,) and not y_all.is_floating_point(),
                 f"dataset.tensors[1] must hold {size} integer labels, got {y_all.dtype} of shape {tuple(y_all.shape)}")
        _check_values(x_all, info, "dataset.tensors[0]")
        _check_label(int(y_all.min()), info, "dataset.tensors[1]")
        _check_label(int(y_all.max()), info, "dataset.tensors[1]")


def _check_label(y: int, info: DataInfo, what: str) -> None:
    if info.num_classes == 0:
        _require(y == -1, f"{what} is {y}, but unlabelled data (DataInfo.num_classes 0) must use -1")
    else:
        _require(y == -1 or 0 <= y < info.num_classes, f"{what} is {y}, outside [0, {info.num_classes}) and not -1")


def check_model(
    generator: Any,
    discriminator: Any,
    info: DataInfo,
    *,
    prepare_real: Callable[[torch.Tensor, DataInfo], torch.Tensor] | None = None,
    real: torch.Tensor | None = None,
    real_labels: torch.Tensor | None = None,
) -> None:
    """The generator follows :class:`gankit.models.Generator` and samples match ``info``;
    the discriminator returns one logit per sample for fake and (prepared) real batches;
    the generator gets gradients through the discriminator; state dicts hold tensors only."""
    from torch import nn

    _require(isinstance(generator, nn.Module) and isinstance(discriminator, nn.Module),
             "build() must return (generator, discriminator), both torch.nn.Module")
    for attribute in ("latent_dim", "num_classes", "sample_latent", "generate", "on_step"):
        _require(hasattr(generator, attribute), f"the generator has no {attribute!r}; subclass gankit.models.Generator")
    classes = int(generator.num_classes)
    _require(classes == 0 or classes == info.num_classes,
             f"a conditional generator's num_classes ({classes}) must equal DataInfo.num_classes ({info.num_classes})")
    dtype = _torch_dtype(info.dtype)
    for n in (3, 5):  # two batch sizes, so a discriminator that reduces over the batch is caught
        z = generator.sample_latent(n, device="cpu", generator=torch.Generator().manual_seed(n))
        _require(isinstance(z, torch.Tensor) and z.shape[0] == n, f"sample_latent({n}) must return a tensor of {n} rows")
        labels = torch.arange(n) % classes if classes else None
        generator.eval()
        with torch.no_grad():
            sample = generator.generate(z, labels)
        generator.train()
        _require(isinstance(sample, torch.Tensor) and tuple(sample.shape) == (n, *info.shape),
                 f"generate() returned shape {tuple(getattr(sample, 'shape', ()))} for {n} latents, expected "
                 f"{(n, *info.shape)} (DataInfo.shape)")
        _require(sample.dtype == dtype, f"generate() returned {sample.dtype}, but DataInfo.dtype is {info.dtype!r}")
        _check_values(sample, info, "generate()'s output")
        fake = generator(z, labels)
        _require(isinstance(fake, torch.Tensor) and fake.shape[0] == n, f"generator({n} latents) must return {n} samples")
        _check_logits(discriminator(fake, labels), n, "a fake batch")
        if n == 3:
            generator.zero_grad(set_to_none=True)
            discriminator(fake, labels).float().sum().backward()
            grads = [p.grad for p in generator.parameters() if p.requires_grad]
            _require(grads and any(g is not None and bool(g.abs().sum() > 0) for g in grads),
                     "the generator gets no gradient through the discriminator (is forward()'s output detached, or "
                     "made by argmax? forward() returns what D consumes, generate() the canonical samples)")
            generator.zero_grad(set_to_none=True)
            discriminator.zero_grad(set_to_none=True)
    if real is not None:
        batch = prepare_real(real, info) if prepare_real is not None else real
        labels = real_labels if classes and real_labels is not None else None
        _check_logits(discriminator(batch, labels), len(real), "a real batch (after the domain's prepare_real)")
    for name, net in (("generator", generator), ("discriminator", discriminator)):
        bad = [k for k, v in net.state_dict().items() if not isinstance(v, torch.Tensor)]
        _require(not bad, f"the {name}'s state_dict holds non-tensors ({', '.join(bad)}): checkpoints load with "
                          f"weights_only=True")


def _check_logits(logits: Any, n: int, what: str) -> None:
    shape = tuple(getattr(logits, "shape", ()))
    _require(isinstance(logits, torch.Tensor) and shape in ((n,), (n, 1)),
             f"the discriminator must return one logit per sample, shape ({n},) or ({n}, 1), for {what} of {n}; "
             f"got {shape if isinstance(logits, torch.Tensor) else type(logits).__name__}")
    _require(logits.is_floating_point() and torch.isfinite(logits).all(), f"the discriminator's logits for {what} "
                                                                          f"must be finite floats")


# A run: train, checkpoint, resume, samples, metrics ---------------------------------------

def check_train_step(domain: str, out: str | Path, **options: Any) -> Any:
    """Train through :func:`gankit.train` (``options`` as its keywords) into ``out``; the
    run reaches its step count with finite losses, a checkpoint, ``config.json`` and a
    preview. Returns the :class:`gankit.Run`."""
    import gankit

    out = Path(out)
    run = gankit.train(domain, out=str(out), **options)
    steps = options.get("steps", run.total_steps)
    _require(run.step == steps, f"the run stopped at step {run.step}, not {steps}")
    for path in (out / "config.json", out / "checkpoints" / "last.pt"):
        _require(path.is_file(), f"training wrote no {path.relative_to(out)}")
    records = [r for r in run.metrics if "d_loss" in r]
    _require(records and all(math.isfinite(r["d_loss"]) and math.isfinite(r["g_loss"]) for r in records),
             f"metrics.jsonl has no finite losses: {records[-3:]}")
    previews = list((out / "samples").glob(f"step-{steps:07d}.*"))
    _require(previews and previews[0].stat().st_size > 0, "the domain's write_preview wrote no preview for the last step")
    return run


def check_checkpoint(run_dir: str | Path) -> None:
    """The checkpoint opens with ``torch.load(weights_only=True)``; loading the run (as a
    directory and as a file) gives the stored generator weights and, for one seed, the same
    samples."""
    import gankit

    path = Path(run_dir) / "checkpoints" / "last.pt"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ConformanceError(f"the checkpoint does not load with weights_only=True ({exc}); keep tensors and plain "
                               f"data only in state_dict() and DataInfo.extra") from None
    stored = state["generator_ema"] if state.get("generator_ema") is not None else state["generator"]
    first, second = gankit.load(run_dir), gankit.load(path)
    for key, value in first.generator.state_dict().items():
        _require(key in stored and torch.equal(value.cpu(), stored[key]),
                 f"the loaded generator's {key!r} differs from the checkpoint's")
    a, b = first.sample(4, seed=1), second.sample(4, seed=1)
    _require(torch.equal(a, b), "two loads of one checkpoint give different samples for the same seed: draw random "
                                "numbers only from the latents (sample_latent's generator), and none in eval mode")


def check_resume(domain: str, run_dir: str | Path, steps: int, **options: Any) -> None:
    """``resume=True`` continues the run to ``steps``."""
    import gankit

    run = gankit.train(domain, out=str(run_dir), resume=True, steps=steps, quiet=True, **options)
    _require(run.step == steps, f"the resumed run stopped at step {run.step}, not {steps}")


def check_samples(run_dir: str | Path, out: str | Path, n: int = 3) -> None:
    """``save_samples`` writes ``n`` samples in the domain's native format and a
    ``samples.npy`` of ``n`` rows; ``write_preview`` writes one file beside the path it is
    given. A domain writes either one file per sample, named ``sample-{start+i:05d}.<ext>``
    (honouring ``start``), or one file holding every sample (text: one a line), which a
    later call with ``start > 0`` extends."""
    import gankit

    run = gankit.load(run_dir)
    out = Path(out)
    paths = [Path(p) for p in run.save_samples(out / "native", n, format="native")]
    _require(len(paths) in (1, n) and all(p.is_file() and p.stat().st_size > 0 for p in paths),
             f"write_samples must write and return {n} non-empty files (or one holding all {n}), returned {paths!r}")
    batch = run.sample(2, seed=3)
    if len(paths) == n and n > 1:
        names = [p.stem for p in paths]
        _require(names == [f"sample-{i:05d}" for i in range(n)],
                 f"write_samples must name files sample-00000.<ext>, ...; got {names}")
        (out / "offset").mkdir(parents=True, exist_ok=True)
        later = run.domain.write_samples(batch, out / "offset", run.info, 7)
        _require([Path(p).stem for p in later] == ["sample-00007", "sample-00008"],
                 f"write_samples(batch, out, info, start=7) must name files from sample-00007, got {later!r}")
    else:
        size = paths[0].stat().st_size
        later = [Path(p) for p in run.domain.write_samples(batch, out / "native", run.info, n)]
        _require(later == paths and paths[0].stat().st_size > size,
                 f"write_samples(batch, out, info, start={n}) must add to the one file {paths[0]}, returned {later!r}")
    run.save_samples(out / "npy", n, format="npy")
    array = np.load(out / "npy" / "samples.npy", allow_pickle=False)
    _require(array.shape[0] == n, f"to_numpy must return one row per sample; samples.npy has shape {array.shape}")
    _require(not np.issubdtype(array.dtype, np.floating) or np.isfinite(array).all(), "samples.npy has NaN or inf")
    (out / "preview").mkdir(parents=True, exist_ok=True)
    preview = Path(run.domain.write_preview(batch, out / "preview" / "step-0000001", run.info))
    _require(preview.is_file() and preview.name.startswith("step-0000001"),
             f"write_preview(batch, path, info) must write one file named after path, returned {preview}")


def check_metrics(run_dir: str | Path, *, n: int = 64, data: str | Path | None = None) -> dict[str, Any]:
    """``gankit evaluate`` scores the run with every metric of its domain: finite values, the
    primary value present, and the same numbers for the same seed."""
    from .evaluation import evaluate

    registry = get_registry()
    result = evaluate(run_dir, n=n, data=str(data) if data else None, seed=0)
    again = evaluate(run_dir, n=n, data=str(data) if data else None, seed=0)
    domain = json.loads((Path(run_dir) / "config.json").read_text())["domain"]
    for name, spec in registry.metrics_for(domain).items():
        values = result["metrics"][name]["values"]
        skipped = result["metrics"][name]["protocol"].get("skipped")
        _require((values or skipped) and all(math.isfinite(v) for v in values.values()),
                 f"metric {name!r} gave no or non-finite values: {values} (a metric that does not apply to this "
                 f"data returns no values and says why in protocol['skipped'])")
        if skipped:
            continue
        _require(not spec.primary or spec.primary in values, f"metric {name!r} has no value for its primary "
                                                             f"{spec.primary!r}: {sorted(values)}")
        try:
            json.dumps(result["metrics"][name]["protocol"])
        except (TypeError, ValueError) as exc:
            raise ConformanceError(f"metric {name!r}: its protocol must be JSON-serialisable: {exc}") from None
        _require(again["metrics"][name]["values"] == values,
                 f"metric {name!r} gave different values for the same seed; seed what it draws from context.seed")
    return result


# Objectives -------------------------------------------------------------------------------

def check_objective(name: str, *, tmp_path: str | Path | None = None, domain: str = "image", **options: Any) -> None:
    """The losses are finite scalars for logits of shape ``(N,)`` and ``(N, 1)``, give
    gradients, reward D for calling real real and G for fooling D, and (with ``tmp_path``)
    train a model of ``domain`` for two steps (``options`` go to ``gankit.train``)."""
    from .penalties import PENALTIES

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


__all__ = ["CHECKS", "HEAVY_MODULES", "ConformanceError", "Report", "check_checkpoint", "check_dataset", "check_domain",
           "check_metrics", "check_model", "check_objective", "check_options", "check_registration_is_light",
           "check_resume", "check_samples", "check_train_step", "plugin_registered"]

# The pytest fixture ------------------------------------------------------------------------

try:
    import pytest
except ImportError:  # pragma: no cover - the functions above work without pytest
    pass
else:
    @pytest.fixture
    def gankit_check(tmp_path: Path) -> Callable[..., Report]:
        """:func:`check_domain` bound to the test's ``tmp_path``:
        ``gankit_check("toy2d", dataset="grid25", count=64)``."""

        def run(domain: str, model: str | None = None, dataset: str | None = None, **options: Any) -> Report:
            return check_domain(domain, model, dataset, tmp_path=tmp_path, **options)

        return run

    __all__.append("gankit_check")
