"""A conformance kit for plugin authors: call it from your own tests.

    from gankit.testing import check_domain

    def test_my_domain(tmp_path):
        check_domain("toy2d", tmp_path=tmp_path)

:func:`check_domain` runs every check below on one domain/model/dataset, through the same
code paths users hit (the registry, ``gankit.train``, ``gankit.load``, the CLI), and raises
:class:`ConformanceError` (an ``AssertionError``) naming the check and what to fix; it stops
at the first failure. Each check is also a function of its own. :func:`check_objective` does
the same for an objective.

With pytest, :func:`parametrize_with_checks` makes one test per check instead (as
scikit-learn's ``parametrize_with_checks`` does for estimators), so one failing check hides
none of the others; the checks that need a trained run share one, trained once per domain
and options::

    from gankit.testing import parametrize_with_checks

    @parametrize_with_checks(domains=[("toy2d", "mlp", "ring8", {"count": 64})])
    def test_toy2d(check, tmp_path_factory):
        check(tmp_path_factory)

The ``gankit_check`` fixture is ``check_domain`` bound to the test's ``tmp_path``; gankit
registers it with pytest through a ``pytest11`` entry point (:mod:`gankit.pytest_plugin`),
so every project with gankit installed has it.

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
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import torch

from .conditions import condition_size, map_condition, stack_conditions
from .errors import GankitError
from .models import DiscriminatorOutput, logit_sum
from .options import coerce, field_types
from .registry import get_registry, plugin_manager
from .samples import canonical_cpu
from .specs import DataInfo

if TYPE_CHECKING:  # pragma: no cover
    import pytest

# Modules a plugin must not import when it is loaded (``gankit --help`` loads every plugin).
HEAVY_MODULES = ("torch", "torchaudio", "torchvision", "transformers", "tensorflow", "jax", "matplotlib",
                 "scipy", "sklearn")

CHECKS = ("registration", "options", "dataset", "model", "train", "checkpoint", "resume", "samples", "metrics")
RUN_CHECKS = ("checkpoint", "resume", "samples", "metrics")  # the checks that need the train check's run
DOMAIN_KEYWORDS = ("data", "steps", "batch_size", "skip", "heavy")  # check_domain's keywords besides options


class ConformanceError(AssertionError):
    """A plugin breaks gankit's contract; the message names the check and what to fix."""


class _Unmet(Exception):
    """A check cannot run: one it needs failed (or was left out). :func:`check_domain` stops
    at the first failure, so it only sees this when the caller skipped a check another needs;
    a parametrised check turns it into a pytest skip (the failing check is its own test)."""


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


def _describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, ConformanceError) else f"raised {type(exc).__name__}: {exc}"


@contextlib.contextmanager
def _check(name: str, subject: str) -> Iterator[None]:
    """Prefix failures (and unexpected exceptions) with the check and the subject."""
    try:
        yield
    except _Unmet:
        raise
    except Exception as exc:
        raise ConformanceError(f"[{name}] {subject}: {_describe(exc)}") from (
            None if isinstance(exc, ConformanceError) else exc)


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

class _Subject:
    """One domain/model/dataset with its options, and what its checks share: the built
    dataset and the trained run (each made once, its failure kept). :func:`check_domain`
    makes one per call; the parametrised checks keep one per domain, options and pytest
    temporary folder in :data:`_SUBJECTS`, so the run is trained once for all of them."""

    def __init__(self, domain: str, model: str | None, dataset: str | None, *, tmp: Path,
                 data: str | Path | None = None, steps: int = 2, batch_size: int = 8,
                 heavy: Sequence[str] = HEAVY_MODULES, skip: Sequence[str] = (), options: Mapping[str, Any]):
        registry = get_registry()
        if domain not in registry.domains:
            failures = "; ".join(f"{f.plugin}: {f.error}" for f in registry.failures()) or "none"
            raise ConformanceError(
                f"domain {domain!r} is not registered (domains: {', '.join(sorted(registry.domains))}; plugin "
                f"failures: {failures}; GANKIT_LOAD_PLUGINS={os.environ.get('GANKIT_LOAD_PLUGINS')!r})")
        spec = registry.domain(domain)
        self.domain = domain
        self.model, self.dataset_name = model or spec.default_model, dataset or spec.default_dataset
        self.title = f"{domain}/{self.model} on {self.dataset_name}"
        if registry.dataset(domain, self.dataset_name).needs_data and not data:
            raise ConformanceError(f"dataset {self.dataset_name!r} needs data: pass data=PATH to check_domain")
        self.tmp, self.data, self.steps, self.batch_size = Path(tmp), data, steps, batch_size
        self.heavy, self.skip, self.options = tuple(heavy), tuple(skip), dict(options)
        self.run_options = {"model": self.model, "dataset": self.dataset_name,
                            "data": str(data) if data else None, **self.options}
        self.run_dir = _fresh(self.tmp / f"conformance-{domain}-{self.model}-{self.dataset_name}")
        self._resolved: Any = None
        self._built: tuple[bool, Any] | None = None  # (ok, dataset or the exception building it raised)
        self._trained: tuple[bool, Any] | None = None  # (ok, Run or the exception training raised)

    # What the checks share -------------------------------------------------------------

    def resolved(self) -> Any:
        if self._resolved is None:
            from .config import resolve_config

            explicit = {k: v for k, v in self.run_options.items() if v is not None}
            self._resolved = resolve_config(get_registry(), {"domain": self.domain, **explicit})
        return self._resolved

    def built(self) -> Any:
        """The dataset, built once; a failure to build it is the dataset check's."""
        if self._built is None:
            try:
                spec = get_registry().dataset(self.domain, self.dataset_name)
                data = Path(self.data) if self.data else None
                self._built = (True, spec.build(self.resolved().dataset_options, data))
            except Exception as exc:
                self._built = (False, exc)
        ok, value = self._built
        if not ok:
            raise _Unmet(f"needs the dataset, and building it failed: {_describe(value)}")
        return value

    def trained(self) -> Any:
        """The run of the train check, trained once; dependent checks need it."""
        if "train" in self.skip:
            raise _Unmet("needs the train check")
        ok, value = self._train_once()
        if not ok:
            raise _Unmet(f"needs the train check, which failed: {_describe(value)}")
        return value

    def _train_once(self) -> tuple[bool, Any]:
        if self._trained is None:
            options = self.train_options()  # outside the try: a dataset that did not build is not train's failure
            try:
                self._trained = (True, check_train_step(self.domain, self.run_dir, **options))
            except Exception as exc:
                self._trained = (False, exc)
        return self._trained

    def train_options(self) -> dict[str, Any]:
        built = self.built()
        steps = self.steps
        options = {"steps": steps, "batch_size": min(self.batch_size, len(built)), "device": "cpu", "quiet": True,
                   "sample_every": 0, "checkpoint_every": steps, "log_every": 1, "eval_every": 0, **self.run_options}
        has_metric = any(m.primary for m in get_registry().metrics_for(self.domain).values())
        if has_metric and "eval_every" not in self.options and "metrics" not in self.skip:
            options.update(eval_every=steps, eval_samples=max(2, min(64, len(built))))
        return options

    def conditions(self) -> Any:
        """Conditions of real items, for sampling a generator conditioned on tensors; None
        when the items do not stack (the dataset check says why)."""
        built = self.built()
        try:
            return _real_batch(built, 8)[1]
        except Exception:
            return None

    # The checks ------------------------------------------------------------------------

    def not_applicable(self, name: str) -> str | None:
        """Why check ``name`` does not run here, or None."""
        if name in self.skip:
            return "skipped by the caller"
        if name in RUN_CHECKS and "train" in self.skip:
            return "needs the train check"
        if name == "metrics" and not get_registry().metrics_for(self.domain):
            return f"domain {self.domain!r} has no metrics"
        return None

    def run(self, name: str) -> None:
        with _check(name, self.title):
            getattr(self, f"check_{name}")()

    def check_registration(self) -> None:
        registry = get_registry()
        spec = registry.domain(self.domain)
        _require(spec.default_model in registry.models_for(self.domain),
                 f"the domain's default_model {spec.default_model!r} is not registered for it")
        _require(spec.default_dataset in registry.datasets_for(self.domain),
                 f"the domain's default_dataset {spec.default_dataset!r} is not registered for it")
        keys = [("domains", self.domain), ("models", (self.domain, self.model)),
                ("datasets", (self.domain, self.dataset_name))]
        keys += [("metrics", (self.domain, name)) for name in registry.metrics_for(self.domain)]
        for module in dict.fromkeys(_plugin_module(registry.owner_of(kind, key)) for kind, key in keys):
            if module:
                check_registration_is_light(module, heavy=self.heavy)

    def check_options(self) -> None:
        check_options(self.domain, self.model, self.dataset_name)

    def check_dataset(self) -> None:
        try:
            built = self.built()
        except _Unmet:
            raise self._built[1] from None  # type: ignore[index]  # building it is this check's business
        check_dataset(built)

    def check_model(self) -> None:
        registry = get_registry()
        built, resolved = self.built(), self.resolved()
        info = built.info
        model_spec = registry.model(self.domain, self.model)
        dataset_spec = registry.dataset(self.domain, self.dataset_name)
        try:
            real, real_cond = _real_batch(built, 8)
        except Exception as exc:
            raise ConformanceError(f"the dataset's items do not stack into a batch (see the dataset check): "
                                   f"{_describe(exc)}") from None
        generator, discriminator = model_spec.build(resolved.model_options, info)
        weights = resolved.effective.get("aux_losses", {})
        aux_losses = {}
        for spec in (*model_spec.aux_losses, *dataset_spec.aux_losses):
            if weights.get(spec.name, spec.weight) == 0:
                continue  # the engine does not build a loss whose weight is 0
            try:
                aux_losses[spec.name] = spec.build(resolved.model_options, resolved.dataset_options, info)
            except Exception as exc:
                raise ConformanceError(f"building the auxiliary loss {spec.name!r} (AuxLossSpec.build) "
                                       f"{_describe(exc)}") from exc
        check_model(generator, discriminator, info, prepare_real=registry.domain(self.domain).prepare_real,
                    real=real, real_cond=real_cond, aux_losses=aux_losses,
                    feature_matching=float(resolved.effective.get("feature_matching", 0)))

    def check_train(self) -> None:
        ok, value = self._train_once()
        if not ok:
            raise value

    def check_checkpoint(self) -> None:
        self.trained()
        check_checkpoint(self.run_dir, cond=self.conditions())

    def check_resume(self) -> None:
        """On a copy of the run, so the other checks see the run as trained whatever the
        order the checks run in."""
        self.trained()
        copy = _fresh(self.tmp / f"{self.run_dir.name}-resumed")
        shutil.copytree(self.run_dir, copy)
        check_resume(self.domain, copy, self.steps + 1, device="cpu")

    def check_samples(self) -> None:
        self.trained()
        check_samples(self.run_dir, _fresh(self.tmp / f"{self.run_dir.name}-samples"), cond=self.conditions())

    def check_metrics(self) -> None:
        self.trained()
        check_metrics(self.run_dir, data=self.data)


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
    """Check a domain with one of its models and datasets (default: the domain's defaults),
    stopping at the first failure.

    ``options`` are model/dataset options (``-o KEY VALUE``) or training options passed to
    every ``gankit.train`` call (keep data small: ``count=64``); ``data`` is ``--data``.
    ``skip`` names checks to leave out (see :data:`CHECKS`). Returns a :class:`Report`.
    """
    _known_checks(skip)
    subject = _Subject(domain, model, dataset, tmp=Path(tmp_path), data=data, steps=steps, batch_size=batch_size,
                       heavy=heavy, skip=skip, options=options)
    report = Report(domain, subject.model, subject.dataset_name)
    for name in CHECKS:
        reason = subject.not_applicable(name)
        if reason:
            report.skipped[name] = reason
            continue
        try:
            subject.run(name)
        except _Unmet as exc:  # only when the caller skipped a check this one needs
            raise ConformanceError(f"[{name}] {subject.title}: {exc}") from None
        report.passed.append(name)
    return report


def _known_checks(names: Iterable[str]) -> None:
    unknown = sorted(set(names) - set(CHECKS))
    if unknown:
        raise ValueError(f"unknown check {unknown[0]!r}; the checks are: {', '.join(CHECKS)}")


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


def _real_batch(dataset: Any, n: int) -> tuple[torch.Tensor, Any]:
    """``n`` real items stacked into a batch ``(x, cond)`` (items repeat when the dataset is
    smaller); class conditions become an int64 ``(n,)`` tensor, as the engine batches them."""
    items = [dataset[i % len(dataset)] for i in range(n)]
    return torch.stack([x for x, _ in items]), stack_conditions([cond for _, cond in items])


# One test per check (pytest) ---------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class DomainCheck:
    """One check of one domain/model/dataset, as :func:`parametrize_with_checks` hands it to
    a test: call it with pytest's ``tmp_path_factory``. Checks of the same domain, model,
    dataset and options share one dataset and one trained run (the first check that needs
    the run trains it); a check whose prerequisite failed is skipped (that failure is the
    other check's test), as is one the caller skipped or one that does not apply."""

    domain: str
    model: str | None
    dataset: str | None
    check: str
    options: Mapping[str, Any] = field(default_factory=dict)
    id: str = ""

    def __call__(self, tmp: Any) -> None:
        """Run the check. ``tmp`` is pytest's ``tmp_path_factory`` (the run is shared by every
        check of the session) or a folder (shared by the checks given the same folder)."""
        import pytest

        subject = _subject_for(self, tmp)
        reason = subject.not_applicable(self.check)
        if reason:
            pytest.skip(reason)
        try:
            subject.run(self.check)
        except _Unmet as exc:
            pytest.skip(str(exc))

    def __repr__(self) -> str:
        return f"DomainCheck({self.id or self.check!r})"


_SUBJECTS: dict[tuple[Any, ...], _Subject] = {}


def _subject_for(check: DomainCheck, tmp: Any) -> _Subject:
    keywords = {k: v for k, v in check.options.items() if k in DOMAIN_KEYWORDS}
    options = {k: v for k, v in check.options.items() if k not in DOMAIN_KEYWORDS}
    factory = hasattr(tmp, "mktemp") and hasattr(tmp, "getbasetemp")
    base = Path(tmp.getbasetemp() if factory else tmp)
    key = (str(base), check.domain, check.model, check.dataset, repr(sorted(check.options.items(), key=str)))
    subject = _SUBJECTS.get(key)
    if subject is None:
        folder = tmp.mktemp(f"gankit-{check.domain}") if factory else base
        subject = _Subject(check.domain, check.model, check.dataset, tmp=folder, options=options, **keywords)
        _SUBJECTS[key] = subject
    return subject


def domain_checks(
    domains: Iterable[str | Sequence[Any]],
    *,
    skip: Sequence[str] = (),
    ids: Sequence[str] | None = None,
) -> list[DomainCheck]:
    """Every check of every domain, one :class:`DomainCheck` each, in the order of
    :data:`CHECKS`. An entry of ``domains`` is a domain name or a tuple
    ``(domain, model, dataset, options)`` (trailing items optional, None for the domain's
    default); ``options`` holds what :func:`check_domain` takes besides ``tmp_path``:
    model, dataset and training options, and ``data``, ``steps``, ``batch_size``, ``skip``,
    ``heavy``. ``skip`` names checks left out for every domain. A check's id is
    ``DOMAIN-MODEL-DATASET::CHECK``, or ``ID::CHECK`` with ``ids`` (one per entry); a
    repeated ``DOMAIN-MODEL-DATASET`` gets ``-2``, ``-3``, ..."""
    _known_checks(skip)
    entries = [(entry,) if isinstance(entry, str) else tuple(entry) for entry in domains]
    if ids is not None and len(ids) != len(entries):
        raise ValueError(f"ids names {len(ids)} entries, but domains has {len(entries)}")
    checks, seen = [], {}
    for index, entry in enumerate(entries):
        if not 1 <= len(entry) <= 4:
            raise ValueError(f"a domains entry is DOMAIN or (DOMAIN, MODEL, DATASET, OPTIONS), got {entry!r}")
        domain, model, dataset, options = (*entry, *(None,) * (4 - len(entry)))
        options = dict(options or {})
        skips = set(options.get("skip", ())) | set(skip)
        _known_checks(skips)
        if skips:
            options["skip"] = tuple(name for name in CHECKS if name in skips)
        if ids is not None:
            base = ids[index]
        else:
            base = f"{domain}-{_default_name(domain, 'model', model)}-{_default_name(domain, 'dataset', dataset)}"
        seen[base] = seen.get(base, 0) + 1
        if seen[base] > 1:
            base = f"{base}-{seen[base]}"
        checks += [DomainCheck(domain, model, dataset, name, options, f"{base}::{name}") for name in CHECKS]
    return checks


def _default_name(domain: str, kind: str, name: str | None) -> str:
    """``name``, or the domain's default model/dataset when it is registered already (when
    tests are collected), else ``default``."""
    if name:
        return name
    try:
        spec = get_registry().domains.get(domain)
    except Exception:  # a broken environment fails in the checks, with a message; not while collecting
        spec = None
    return getattr(spec, f"default_{kind}") if spec is not None else "default"


def parametrize_with_checks(
    domains: Iterable[str | Sequence[Any]],
    *,
    skip: Sequence[str] = (),
    ids: Sequence[str] | None = None,
) -> "pytest.MarkDecorator":
    """A ``pytest.mark.parametrize`` decorator giving the test one case per check of each
    entry of ``domains`` (see :func:`domain_checks`), as the argument ``check``; the test
    calls ``check(tmp_path_factory)``::

        @parametrize_with_checks(domains=[("toy2d", "mlp", "ring8", {"count": 64})])
        def test_toy2d(check, tmp_path_factory):
            check(tmp_path_factory)

    The ids read ``toy2d-mlp-ring8::dataset``, so ``-k "toy2d and model"`` picks one.
    """
    import pytest

    checks = domain_checks(domains, skip=skip, ids=ids)
    return pytest.mark.parametrize("check", checks, ids=[check.id for check in checks])


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


def _condition_form(cond: Any, info: DataInfo, what: str) -> tuple[Any, ...]:
    """What kind of condition one item carries, as a comparable value: ``("class",)``,
    ``("tensor", shape, dtype)`` or ``("dict", ((key, shape, dtype), ...))``; checks a class
    against ``info.num_classes`` and a tensor's values on the way."""
    if isinstance(cond, bool) or (isinstance(cond, torch.Tensor) and cond.dtype == torch.bool):
        raise ConformanceError(f"{what} is a bool; a condition is an integer class (-1: unlabelled), a float or "
                               f"integer tensor, or a dict of such tensors")
    if isinstance(cond, numbers.Integral) or (isinstance(cond, torch.Tensor) and cond.dim() == 0
                                              and not cond.is_floating_point() and not cond.is_complex()):
        _check_label(int(cond), info, what)
        return ("class",)
    if isinstance(cond, torch.Tensor):
        return ("tensor", *_tensor_form(cond, what))
    if isinstance(cond, Mapping):
        _require(cond and all(isinstance(key, str) for key in cond),
                 f"{what} is a dict; a dict condition needs at least one entry, each keyed by a string")
        return ("dict", tuple((key, *_tensor_form(cond[key], f"{what}[{key!r}]")) for key in sorted(cond)))
    raise ConformanceError(f"{what} must be an integer class (-1: unlabelled), a tensor or a dict of tensors, got "
                           f"{type(cond).__name__} {cond!r:.80}")


def _tensor_form(tensor: Any, what: str) -> tuple[tuple[int, ...], torch.dtype]:
    _require(isinstance(tensor, torch.Tensor), f"{what} must be a tensor, got {type(tensor).__name__}")
    _require(not tensor.is_complex() and tensor.dtype != torch.bool,
             f"{what} has dtype {tensor.dtype}; a condition tensor holds floats or integers")
    _require(not tensor.is_floating_point() or bool(torch.isfinite(tensor).all()), f"{what} has NaN or infinite values")
    return tuple(tensor.shape), tensor.dtype


def _form_text(form: tuple[Any, ...]) -> str:
    if form[0] == "class":
        return "an integer class"
    if form[0] == "tensor":
        return f"a tensor of shape {form[1]} and dtype {form[2]}"
    return "a dict {" + ", ".join(f"{key!r}: {shape} {dtype}" for key, shape, dtype in form[1]) + "}"


def _same_condition(a: Any, b: Any) -> bool:
    if isinstance(a, Mapping):
        return isinstance(b, Mapping) and set(a) == set(b) and all(_same_condition(a[k], b[k]) for k in a)
    return bool(torch.equal(torch.as_tensor(a), torch.as_tensor(b)))


def check_dataset(dataset: Any, *, samples: int = 4) -> None:
    """The dataset describes itself in a JSON-serialisable ``info`` (:class:`DataInfo`) and
    its items are ``(x, cond)``: ``x`` of ``info.shape``/``info.dtype``, finite, within
    ``info.value_range``; ``cond`` an integer class in ``[0, num_classes)`` or -1, a float or
    integer tensor, or a dict of such tensors, of the same form (keys, shapes, dtypes) for
    every item, since the engine stacks them into batches. An in-memory ``tensors =
    (x_all, cond_all)``, and a compact ``storage`` with its ``decode``, agree with the items."""
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
    items: dict[int, tuple[torch.Tensor, Any]] = {}
    first: tuple[int, tuple[Any, ...]] | None = None
    for i in indices:
        item = dataset[i]
        _require(isinstance(item, (tuple, list)) and len(item) == 2, f"dataset[{i}] must be a pair (x, cond), got "
                                                                     f"{type(item).__name__}")
        x, cond = item
        _require(isinstance(x, torch.Tensor), f"dataset[{i}][0] must be a tensor, got {type(x).__name__}")
        _require(tuple(x.shape) == shape, f"dataset[{i}][0] has shape {tuple(x.shape)}, but DataInfo.shape is {shape}")
        _require(x.dtype == dtype, f"dataset[{i}][0] has dtype {x.dtype}, but DataInfo.dtype is {info.dtype!r}")
        _check_values(x, info, f"dataset[{i}][0]")
        form = _condition_form(cond, info, f"dataset[{i}][1]")
        if first is None:
            first = (i, form)
        _require(form == first[1], f"dataset[{i}][1] is {_form_text(form)}, but dataset[{first[0]}][1] is "
                                   f"{_form_text(first[1])}: every item's condition must have the same form (keys, "
                                   f"shapes, dtypes), since the engine stacks them into batches")
        items[i] = (x, cond)
    assert first is not None
    tensors = getattr(dataset, "tensors", None)
    if tensors is not None:
        _check_all(tensors, "tensors", items, first[1], size, shape, info)
        _check_values(tensors[0], info, "dataset.tensors[0]")
    storage = getattr(dataset, "storage", None)
    if storage is not None:
        _require(callable(getattr(dataset, "decode", None)),
                 "a dataset with `storage` needs `decode(stored_rows)`, which turns stored rows into canonical ones")
        _require(isinstance(storage, (tuple, list)) and len(storage) == 2,
                 "dataset.storage must be (stored_x, cond_all)")
        stored = storage[0]
        _require(isinstance(stored, torch.Tensor) and stored.shape[0] == size,
                 f"dataset.storage[0] must be a tensor of {size} stored rows")
        chosen = torch.as_tensor(indices)
        decoded = dataset.decode(stored[chosen])
        expected = torch.stack([items[i][0] for i in indices])
        _require(isinstance(decoded, torch.Tensor) and decoded.shape == expected.shape and decoded.dtype == dtype,
                 f"dataset.decode(storage[0][rows]) must give canonical rows of shape {tuple(expected.shape)} and "
                 f"dtype {dtype}, got {getattr(decoded, 'dtype', type(decoded).__name__)} "
                 f"{tuple(getattr(decoded, 'shape', ()))}")
        _require(torch.allclose(decoded.float(), expected.float(), atol=1e-6),
                 "dataset.decode(storage[0][rows]) differs from the items dataset[row][0]")
        _check_all((decoded, storage[1]), "storage", {}, first[1], size, shape, info, check_x=False)
        for i in indices:
            _require(_same_condition(_rows_of(storage[1], i), items[i][1]),
                     f"dataset.storage[1] row {i} differs from dataset[{i}][1]")


def _rows_of(cond_all: Any, i: int) -> Any:
    return map_condition(lambda t: t[i], cond_all)


def _check_all(pair: Any, name: str, items: Mapping[int, tuple[torch.Tensor, Any]], form: tuple[Any, ...], size: int,
               shape: tuple[int, ...], info: DataInfo, *, check_x: bool = True) -> None:
    """``dataset.tensors`` (or ``storage``): every sample and condition at once, agreeing
    with the items' form and (for ``items``) values."""
    _require(isinstance(pair, (tuple, list)) and len(pair) == 2, f"dataset.{name} must be (x_all, cond_all)")
    x_all, cond_all = pair
    if check_x:
        _require(isinstance(x_all, torch.Tensor) and tuple(x_all.shape) == (size, *shape),
                 f"dataset.{name}[0] has shape {tuple(getattr(x_all, 'shape', ()))}, expected {(size, *shape)}")
    what = f"dataset.{name}[1]"
    if form[0] == "class":
        _require(isinstance(cond_all, torch.Tensor) and tuple(cond_all.shape) == (size,)
                 and not cond_all.is_floating_point() and cond_all.dtype != torch.bool,
                 f"{what} must hold {size} integer labels, got {getattr(cond_all, 'dtype', type(cond_all).__name__)} "
                 f"of shape {tuple(getattr(cond_all, 'shape', ()))}")
        _check_label(int(cond_all.min()), info, what)
        _check_label(int(cond_all.max()), info, what)
    elif form[0] == "tensor":
        _require(isinstance(cond_all, torch.Tensor) and tuple(cond_all.shape) == (size, *form[1])
                 and cond_all.dtype == form[2],
                 f"{what} must be a {form[2]} tensor of shape {(size, *form[1])} (the items' conditions stacked), "
                 f"got {getattr(cond_all, 'dtype', type(cond_all).__name__)} {tuple(getattr(cond_all, 'shape', ()))}")
    else:
        keys = [key for key, _, _ in form[1]]
        _require(isinstance(cond_all, Mapping) and sorted(cond_all) == keys,
                 f"{what} must be a dict with the items' keys {keys}, got "
                 f"{sorted(cond_all) if isinstance(cond_all, Mapping) else type(cond_all).__name__}")
        for key, key_shape, key_dtype in form[1]:
            value = cond_all[key]
            _require(isinstance(value, torch.Tensor) and tuple(value.shape) == (size, *key_shape)
                     and value.dtype == key_dtype,
                     f"{what}[{key!r}] must be a {key_dtype} tensor of shape {(size, *key_shape)}, got "
                     f"{getattr(value, 'dtype', type(value).__name__)} {tuple(getattr(value, 'shape', ()))}")
    for i, (x, cond) in items.items():
        _require(torch.equal(x_all[i], x), f"dataset.{name}[0][{i}] differs from dataset[{i}][0]")
        _require(_same_condition(_rows_of(cond_all, i), cond),
                 f"dataset.{name}[1] row {i} differs from dataset[{i}][1]")


def _check_label(y: int, info: DataInfo, what: str) -> None:
    if info.num_classes == 0:
        _require(y == -1, f"{what} is {y}, but unlabelled data (DataInfo.num_classes 0) must use -1")
    else:
        _require(y == -1 or 0 <= y < info.num_classes, f"{what} is {y}, outside [0, {info.num_classes}) and not -1")


def _conditioned_on_tensors(generator: Any) -> bool:
    return bool(getattr(generator, "conditional", False)) and not getattr(generator, "num_classes", 0)


def _rows(cond: Any, n: int) -> Any:
    """The first ``n`` rows of a batched condition, repeating rows when it has fewer."""
    if cond is None:
        return None
    index = torch.arange(n) % condition_size(cond)
    return map_condition(lambda t: t[index], cond)


def _call(what: str, function: Callable[..., Any], *args: Any, hint: str = "") -> Any:
    """``function(*args)``, with an exception turned into a ConformanceError naming ``what``."""
    try:
        return function(*args)
    except ConformanceError:
        raise
    except Exception as exc:
        raise ConformanceError(f"{what} raised {type(exc).__name__}: {exc}{hint}") from exc


def check_model(
    generator: Any,
    discriminator: Any,
    info: DataInfo,
    *,
    prepare_real: Callable[[torch.Tensor, DataInfo], torch.Tensor] | None = None,
    real: torch.Tensor | None = None,
    real_cond: Any = None,
    real_labels: torch.Tensor | None = None,
    feature_matching: float = 0.0,
    aux_losses: Mapping[str, Callable[..., torch.Tensor]] | None = None,
) -> None:
    """The networks follow the contract of :mod:`gankit.models`, called as the engine calls
    them, with conditions from real items (``real_cond``, the dataset's conditions of
    ``real`` stacked; ``real_labels`` is its old name).

    The generator: ``sample_latent`` gives ``n`` rows, or None when ``latent_dim`` is 0 (and
    then ``forward``/``generate`` take ``z=None``); a conditional one (``conditional``) is
    given ``sample_condition(real_cond)``; ``generate`` matches ``info``; ``log_values()``
    and ``pretrain_loss(real)``, when defined, give finite numbers. The discriminator
    returns one logit per sample, or a :class:`~gankit.models.DiscriminatorOutput` whose
    logits and features are batch-first and finite, with the same heads and features for
    real and fake batches (of two sizes); with ``feature_matching`` above 0 it returns
    features. G gets gradients through D; each of ``aux_losses`` (name: the built loss)
    passes :func:`check_aux_loss`; state dicts hold tensors only."""
    from torch import nn

    _require(isinstance(generator, nn.Module) and isinstance(discriminator, nn.Module),
             "build() must return (generator, discriminator), both torch.nn.Module")
    for attribute in ("latent_dim", "num_classes", "conditional", "sample_latent", "sample_condition", "generate",
                      "on_step"):
        _require(hasattr(generator, attribute), f"the generator has no {attribute!r}; subclass gankit.models.Generator")
    classes, latent_dim = int(generator.num_classes), int(generator.latent_dim)
    conditional = bool(generator.conditional)
    _require(classes == 0 or classes == info.num_classes,
             f"a conditional generator's num_classes ({classes}) must equal DataInfo.num_classes ({info.num_classes})")
    _require(latent_dim > 0 or conditional,
             "latent_dim is 0 (a deterministic generator) but the generator is not conditional: it could only make "
             "one sample; give it a latent or a condition (conditional = True)")
    real_cond = real_cond if real_cond is not None else real_labels
    if conditional:
        if real_cond is None and classes:
            real_cond = torch.arange(8) % classes
        _require(real_cond is not None, "the generator is conditional: check_model needs real_cond, the conditions "
                                        "of real items (check_domain passes the dataset's)")
        if classes:
            _require(isinstance(real_cond, torch.Tensor) and real_cond.dim() == 1 and not real_cond.is_floating_point(),
                     f"a class-conditional generator (num_classes {classes}) needs integer class conditions, but the "
                     f"dataset's items carry {type(real_cond).__name__} conditions; set num_classes = 0 and "
                     f"conditional = True for a generator conditioned on tensors")
    dtype = _torch_dtype(info.dtype)
    fake_aux: tuple[torch.Tensor, torch.Tensor, Any] | None = None
    for n in (3, 5):  # two batch sizes, so a discriminator that reduces over the batch is caught
        noise = torch.Generator().manual_seed(n)
        z = _call(f"sample_latent({n})", lambda: generator.sample_latent(n, device="cpu", generator=noise))
        if latent_dim == 0:
            _require(z is None, f"latent_dim is 0, so sample_latent({n}) must return None (the engine then calls the "
                                f"generator with z=None), got {type(z).__name__}")
        else:
            _require(isinstance(z, torch.Tensor) and z.shape[0] == n, f"sample_latent({n}) must return a tensor of {n} "
                                                                     f"rows")
        cond = None
        real_n = _rows(real, n) if real is not None else None
        real_cond_n = _rows(real_cond, n) if conditional else None
        if conditional:
            cond = _call("sample_condition(real_cond)",
                         lambda: generator.sample_condition(real_cond_n, generator=torch.Generator().manual_seed(n)))
            _require(condition_size(cond) == n, f"sample_condition(real_cond) for {n} real items must return "
                                                f"conditions for {n} samples, got {condition_size(cond)}")
        given = "z=None" if z is None else f"{n} latents"
        hint = ("; latent_dim is 0, so the engine passes z=None: make the sample from the condition alone"
                if z is None else "")
        generator.eval()
        try:
            with torch.no_grad():
                sample = _call(f"generate({given}, cond)", generator.generate, z, cond, hint=hint)
        finally:
            generator.train()
        _require(isinstance(sample, torch.Tensor) and tuple(sample.shape) == (n, *info.shape),
                 f"generate() returned shape {tuple(getattr(sample, 'shape', ()))} for {given}, expected "
                 f"{(n, *info.shape)} (DataInfo.shape)")
        _require(sample.dtype == dtype, f"generate() returned {sample.dtype}, but DataInfo.dtype is {info.dtype!r}")
        _check_values(sample, info, "generate()'s output")
        fake = _call(f"the generator's forward({given}, cond)", generator, z, cond, hint=hint)
        _require(isinstance(fake, torch.Tensor) and fake.shape[0] == n,
                 f"generator({given}) must return {n} samples, got {tuple(getattr(fake, 'shape', ()))}")
        fake_out = _check_logits(_call("the discriminator on a fake batch", discriminator, fake, cond), n,
                                 "a fake batch")
        if real_n is not None:
            batch = _call("prepare_real", prepare_real, real_n, info) if prepare_real is not None else real_n
            real_out = _check_logits(_call("the discriminator on a real batch", discriminator, batch, real_cond_n), n,
                                     "a real batch (after the domain's prepare_real)")
            _check_same_heads(real_out, fake_out, n)
        if feature_matching:
            _require(fake_out.features,
                     f"feature_matching is {feature_matching:g} (the model's defaults or the options set it), but the "
                     f"discriminator returns no features: return DiscriminatorOutput(logits=..., features=...) or "
                     f"set feature_matching to 0")
        if n == 3:
            generator.zero_grad(set_to_none=True)
            logit_sum(fake_out).backward(retain_graph=True)
            grads = [p.grad for p in generator.parameters() if p.requires_grad]
            _require(grads and any(g is not None and bool(g.abs().sum() > 0) for g in grads),
                     "the generator gets no gradient through the discriminator (is forward()'s output detached, or "
                     "made by argmax? forward() returns what D consumes, generate() the canonical samples)")
            generator.zero_grad(set_to_none=True)
            discriminator.zero_grad(set_to_none=True)
            if real_n is not None:
                fake_aux = (batch, fake, cond)
    for name, loss in (aux_losses or {}).items():
        _require(fake_aux is not None, "check_model needs a real batch (real=...) to check the auxiliary losses")
        assert fake_aux is not None
        check_aux_loss(name, loss, *fake_aux)
    _check_optional_methods(generator, real)
    for name, net in (("generator", generator), ("discriminator", discriminator)):
        bad = [k for k, v in net.state_dict().items() if not isinstance(v, torch.Tensor)]
        _require(not bad, f"the {name}'s state_dict holds non-tensors ({', '.join(bad)}): checkpoints load with "
                          f"weights_only=True")


def _check_optional_methods(generator: Any, real: torch.Tensor | None) -> None:
    log_values = getattr(generator, "log_values", None)
    if callable(log_values):
        values = _call("log_values()", log_values)
        _require(isinstance(values, Mapping) and all(isinstance(k, str) for k in values)
                 and all(isinstance(v, numbers.Real) and math.isfinite(v) for v in values.values()),
                 f"log_values() must return a dict of names to finite numbers (added to metrics.jsonl), got {values!r}")
    pretrain_loss = getattr(generator, "pretrain_loss", None)
    if callable(pretrain_loss) and real is not None:
        loss = _call("pretrain_loss(real)", pretrain_loss, _rows(real, 3))
        _require(isinstance(loss, torch.Tensor) and loss.dim() == 0 and loss.is_floating_point()
                 and bool(torch.isfinite(loss)) and loss.requires_grad,
                 f"pretrain_loss(real) must return a finite scalar tensor that gives the generator gradients, got "
                 f"{loss!r:.200}")
        generator.zero_grad(set_to_none=True)


def check_aux_loss(name: str, loss: Callable[..., torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                   cond: Any = None) -> None:
    """An auxiliary generator loss (:class:`~gankit.specs.AuxLossSpec`), built, called as
    the engine calls it: ``loss(real, fake, cond)`` returns a finite scalar tensor with a
    gradient for ``fake`` (the generator's output, which must require grad)."""
    what = f"the auxiliary loss {name!r}"
    value = _call(f"{what} (loss(real, fake, cond))", loss, real, fake, cond)
    _require(isinstance(value, torch.Tensor), f"{what} must return a scalar tensor, got {type(value).__name__}")
    _require(value.dim() == 0, f"{what} must return a scalar tensor (reduce it, e.g. .mean()), got shape "
                               f"{tuple(value.shape)}")
    _require(value.is_floating_point() and bool(torch.isfinite(value)),
             f"{what} must return a finite float, got {value.item()!r} for a real and a fake batch")
    grad = None
    if value.requires_grad:
        grad = torch.autograd.grad(value, fake, allow_unused=True, retain_graph=True)[0]
    _require(grad is not None, f"{what} does not depend differentiably on the fake batch (is `fake` detached or "
                               f"converted to numpy?); it must give the generator gradients")


def _check_logits(result: Any, n: int, what: str) -> DiscriminatorOutput:
    """A discriminator's return value for a batch of ``n``, checked and in structured form."""
    if isinstance(result, DiscriminatorOutput):
        logits, features = result.logits, result.features
        _require(isinstance(logits, (tuple, list)) and logits,
                 f"the discriminator's DiscriminatorOutput.logits must be a non-empty tuple of tensors, one per head, "
                 f"got {type(logits).__name__} for {what}")
        _require(isinstance(features, (tuple, list)),
                 f"the discriminator's DiscriminatorOutput.features must be a tuple of tensors, got "
                 f"{type(features).__name__} for {what}")
        for kind, tensors in (("logit", logits), ("feature", features)):
            for index, tensor in enumerate(tensors, start=1):
                label = f"the discriminator's {kind} tensor #{index} (of {len(tensors)}) for {what} of {n}"
                _require(isinstance(tensor, torch.Tensor), f"{label} is a {type(tensor).__name__}, not a tensor")
                shape = tuple(tensor.shape)
                _require(tensor.dim() >= 1 and shape[0] == n,
                         f"{label} has shape {shape}: the batch must be its first dimension ({n}, ...)")
                _require(tensor.is_floating_point() and bool(torch.isfinite(tensor).all()),
                         f"{label} must hold finite floats")
        return DiscriminatorOutput(tuple(logits), tuple(features))
    shape = tuple(getattr(result, "shape", ()))
    _require(isinstance(result, torch.Tensor) and shape in ((n,), (n, 1)),
             f"the discriminator must return one logit per sample, shape ({n},) or ({n}, 1), for {what} of {n} "
             f"(or a gankit.models.DiscriminatorOutput); got "
             f"{shape if isinstance(result, torch.Tensor) else type(result).__name__}")
    _require(result.is_floating_point() and torch.isfinite(result).all(), f"the discriminator's logits for {what} "
                                                                          f"must be finite floats")
    return DiscriminatorOutput((result,))


def _check_same_heads(real: DiscriminatorOutput, fake: DiscriminatorOutput, n: int) -> None:
    """The engine pairs real and fake heads (relativistic objectives) and feature maps
    (feature matching) one to one."""
    for kind, a, b in (("logit tensors (heads)", real.logits, fake.logits), ("feature maps", real.features,
                                                                               fake.features)):
        _require(len(a) == len(b), f"the discriminator returned {len(a)} {kind} for a real batch of {n} and {len(b)} "
                                   f"for a fake batch; it must return the same heads and features for both")
        for index, (x, y) in enumerate(zip(a, b), start=1):
            _require(x.shape == y.shape, f"the discriminator's {kind} #{index} has shape {tuple(x.shape)} for a real "
                                         f"batch of {n} and {tuple(y.shape)} for a fake one; they must match")


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


def check_checkpoint(run_dir: str | Path, *, cond: Any = None) -> None:
    """The checkpoint opens with ``torch.load(weights_only=True)``; loading the run (as a
    directory and as a file) gives the stored generator weights and, for one seed, the same
    samples. A generator conditioned on tensors samples for ``cond`` (conditions of real
    items, batched; :func:`check_domain` passes the dataset's)."""
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
    a, b = _draw(first, 4, 1, cond), _draw(second, 4, 1, cond)
    _require(torch.equal(a, b), "two loads of one checkpoint give different samples for the same seed: draw random "
                                "numbers only from the latents (sample_latent's generator), and none in eval mode")


def _draw(run: Any, n: int, seed: int, cond: Any) -> torch.Tensor:
    """``run.sample(n, seed=seed)``; a generator conditioned on tensors samples for the
    first ``n`` rows of ``cond``."""
    if not _conditioned_on_tensors(run.generator):
        return run.sample(n, seed=seed)
    _require(cond is not None, "the generator is conditioned on tensors: pass cond=..., conditions of real items")
    return run.sample(n, seed=seed, conditions=_rows(cond, n))


def _save(run: Any, out: Path, n: int, format: str, cond: Any) -> list[Path]:
    """``run.save_samples(out, n, format=format)``, for the first ``n`` rows of ``cond`` when
    the generator is conditioned on tensors."""
    if not _conditioned_on_tensors(run.generator):
        return run.save_samples(out, n, format=format)
    return run.save_samples(out, n, format=format, conditions=_rows(cond, n))


def check_resume(domain: str, run_dir: str | Path, steps: int, **options: Any) -> None:
    """``resume=True`` continues the run to ``steps``."""
    import gankit

    run = gankit.train(domain, out=str(run_dir), resume=True, steps=steps, quiet=True, **options)
    _require(run.step == steps, f"the resumed run stopped at step {run.step}, not {steps}")


def check_samples(run_dir: str | Path, out: str | Path, n: int = 3, *, cond: Any = None) -> None:
    """``save_samples`` writes ``n`` samples in the domain's native format and a
    ``samples.npy`` of ``n`` rows; ``write_preview`` writes one file beside the path it is
    given. A domain writes either one file per sample, named ``sample-{start+i:05d}.<ext>``
    (honouring ``start``), or one file holding every sample (text: one a line), which a
    later call with ``start > 0`` extends. A generator conditioned on tensors samples for
    ``cond``, as in :func:`check_checkpoint`."""
    import gankit

    run = gankit.load(run_dir)
    out = Path(out)
    paths = [Path(p) for p in _save(run, out / "native", n, "native", cond)]
    _require(len(paths) in (1, n) and all(p.is_file() and p.stat().st_size > 0 for p in paths),
             f"write_samples must write and return {n} non-empty files (or one holding all {n}), returned {paths!r}")
    batch = _draw(run, 2, 3, cond)
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
    _save(run, out / "npy", n, "npy", cond)
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


__all__ = ["CHECKS", "HEAVY_MODULES", "ConformanceError", "DomainCheck", "Report", "check_aux_loss", "check_checkpoint",
           "check_dataset", "check_domain", "check_metrics", "check_model", "check_objective", "check_options",
           "check_registration_is_light", "check_resume", "check_samples", "check_train_step", "domain_checks",
           "parametrize_with_checks", "plugin_registered"]
