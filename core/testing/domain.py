"""The whole domain: :func:`check_domain` and :class:`_Subject`, one domain/model/dataset
with what its checks share (the built dataset, the trained run)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import torch

from ..conditions import stack_conditions
from ..registry import get_registry, plugin_manager
from .base import (CHECKS, HEAVY_MODULES, RUN_CHECKS, ConformanceError, Report, _check, _describe, _require,
                   _Unmet)
from .data import check_dataset
from .networks import check_model
from .options import check_options
from .registration import check_registration_is_light
from .run import check_checkpoint, check_metrics, check_resume, check_samples, check_train_step


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
            from ..config import resolve_config

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
