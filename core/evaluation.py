"""Scoring a generator with its domain's metrics: ``gankit evaluate`` and ``--eval-every``.

Real and fake samples are drawn from their own seeded generators, so evaluating never
changes a training run's RNG and the same seed gives the same numbers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import random
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from .cache import cache_dir
from .conditions import map_condition, stack_conditions
from .errors import GankitError
from .options import build_options, fields_of, options_to_dict
from .registry import Registry, get_registry
from .samples import canonical_cpu
from .specs import DataInfo, EvalContext, MetricSpec

CHUNK = 256
logger = logging.getLogger("gankit")


def metric_specs(registry: Registry, domain: str, names: Sequence[str] | None = None) -> list[MetricSpec]:
    available = registry.metrics_for(domain)
    if not available:
        raise GankitError(f"domain {domain!r} has no metrics installed; nothing to evaluate")
    if not names:
        return list(available.values())
    unknown = [name for name in names if name not in available]
    if unknown:
        raise GankitError(f"unknown metric {unknown[0]!r} for domain {domain!r}; choose one of: {', '.join(available)}")
    return [available[name] for name in names]


def build_metric_options(specs: Sequence[MetricSpec], values: Mapping[str, Any] | None) -> dict[str, Any]:
    """Each metric's options instance, by metric name, from ``--metric-option`` values: a key
    goes to every metric in ``specs`` that declares it (the image metrics share ``resize``);
    a key that none declares is an error naming the keys they do take."""
    values = {str(key).replace("-", "_"): value for key, value in (values or {}).items()}
    declared = {name for spec in specs if spec.options is not None for name in fields_of(spec.options)}
    unknown = sorted(set(values) - set(declared))
    if unknown:
        offered = f"they take: {', '.join(sorted(declared))}" if declared else "they take none"
        raise GankitError(f"no metric here ({', '.join(spec.name for spec in specs)}) takes the option "
                          f"{unknown[0]!r}; {offered}")
    return {spec.name: build_options(spec.options, {k: v for k, v in values.items() if k in fields_of(spec.options)},
                                     what=f"metric {spec.name!r}")
            for spec in specs if spec.options is not None}


def primary_metric(registry: Registry, domain: str) -> MetricSpec:
    """The domain's first registered metric that names a primary value."""
    for spec in registry.metrics_for(domain).values():
        if spec.primary:
            return spec
    raise GankitError(f"domain {domain!r} has no metric with a primary value, so --eval-every cannot score it")


def dataset_key(dataset_name: str, dataset_options: Any, data: str | None) -> str:
    """A stable identity of a dataset, for caching what metrics fit to it."""
    return json.dumps({"dataset": dataset_name, "options": options_to_dict(dataset_options),
                       "data": str(Path(data).resolve()) if data else None}, sort_keys=True)


def real_subset(dataset: Any, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` samples (all of them if the dataset is smaller) chosen by a seeded permutation."""
    size = len(dataset)
    indices = torch.randperm(size, generator=torch.Generator().manual_seed(seed))[:n]
    if callable(getattr(dataset, "rows", None)):  # gankit.data.InMemoryDataset: decodes only these
        x, y = dataset.rows(indices)
        return canonical_cpu(x), _conditions_cpu(y)
    tensors = getattr(dataset, "tensors", None)
    if tensors is not None:
        return canonical_cpu(tensors[0][indices]), _conditions_cpu(map_condition(lambda t: t[indices], tensors[1]))
    items = [dataset[int(i)] for i in indices]
    return canonical_cpu(torch.stack([x for x, _ in items])), _conditions_cpu(stack_conditions([y for _, y in items]))


def _conditions_cpu(cond: Any) -> Any:
    """Conditions on the CPU; class ids as int64 (what the metrics compare labels in)."""
    return map_condition(lambda t: t.cpu().float() if t.is_floating_point() else t.cpu().long(), cond)


@torch.no_grad()
def generate(generator: nn.Module, n: int, seed: int, device: torch.device,
             labels: torch.Tensor | None = None) -> torch.Tensor:
    """``n`` samples in canonical form on the CPU, from latents of a seeded CPU generator."""
    was_training = generator.training
    generator.eval()
    latent_rng = torch.Generator().manual_seed(seed)
    chunks = []
    for start in range(0, n, CHUNK):
        size = min(CHUNK, n - start)
        z = generator.sample_latent(size, device="cpu", generator=latent_rng)
        z = z.to(device) if z is not None else None
        chunk_labels = map_condition(lambda t: t[start:start + size].to(device), labels)
        chunks.append(canonical_cpu(generator.generate(z, chunk_labels)))
    generator.train(was_training)
    return torch.cat(chunks)


def score(
    generator: nn.Module,
    dataset: Any,
    info: DataInfo,
    specs: Sequence[MetricSpec],
    *,
    n: int,
    seed: int,
    device: torch.device,
    key: str,
    metric_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Score ``generator`` against ``dataset`` with each metric in ``specs``: ``n`` samples
    (latent seed ``seed + 1``; a conditional generator draws the real subset's labels)
    against ``n`` real samples chosen with ``seed``, the metrics set by ``metric_options``
    (:func:`build_metric_options`)."""
    if n < 2:
        raise GankitError(f"evaluation needs at least 2 samples, got {n}")
    build_metric_options(specs, metric_options)  # a bad option fails before any sample is drawn
    real, real_labels = real_subset(dataset, n, seed)
    n = len(real)
    fake_labels = None
    if getattr(generator, "num_classes", 0) > 0:
        labelled = real_labels >= 0
        fake_labels = torch.where(labelled, real_labels, torch.arange(n) % generator.num_classes)
    elif getattr(generator, "conditional", False):  # conditioned on tensors: the real subset's conditions
        fake_labels = real_labels
    fake = generate(generator, n, seed + 1, device, fake_labels)
    was_training = generator.training
    generator.eval()  # metrics that use the generator itself (context.generator) see it in eval mode
    try:
        return score_samples(fake, dataset, info, specs, seed=seed, device=device, key=key, fake_labels=fake_labels,
                             real=(real, real_labels), generator=generator, metric_options=metric_options)
    finally:
        generator.train(was_training)


def score_samples(
    fake: torch.Tensor,
    dataset: Any,
    info: DataInfo,
    specs: Sequence[MetricSpec],
    *,
    seed: int,
    device: torch.device,
    key: str,
    fake_labels: torch.Tensor | None = None,
    real: tuple[torch.Tensor, torch.Tensor] | None = None,
    generator: nn.Module | None = None,
    metric_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Score samples in canonical form (however they were made) against as many real
    samples, chosen with ``seed`` exactly as :func:`score` chooses them."""
    if len(fake) < 2:
        raise GankitError(f"evaluation needs at least 2 samples, got {len(fake)}")
    built = build_metric_options(specs, metric_options)
    real, real_labels = real if real is not None else real_subset(dataset, len(fake), seed)
    fake = fake[:len(real)]
    context = EvalContext(real=real, real_labels=real_labels, fake_labels=fake_labels, info=info, dataset=dataset,
                          dataset_key=key, cache_dir=cache_dir("metrics"), device=device, seed=seed,
                          generator=generator)
    results: dict[str, Any] = {}
    for spec in specs:
        with _preserved_rng(device):
            result = spec.compute(fake, dataclasses.replace(context, options=built.get(spec.name)))
        results[spec.name] = {"values": {k: float(v) for k, v in result.values.items()},
                              "protocol": dict(result.protocol)}
    return {"n": len(real), "seed": seed, "metrics": results}


@contextlib.contextmanager
def _preserved_rng(device: torch.device) -> Iterator[None]:
    """Metrics may draw random numbers (fitting a feature network, say); the caller's RNG
    streams come out untouched, so evaluating during training never changes training."""
    numpy_state, python_state = np.random.get_state(), random.getstate()
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        yield
    np.random.set_state(numpy_state)
    random.setstate(python_state)


def evaluate(
    run_or_checkpoint: str | Path,
    *,
    n: int = 2000,
    data: str | None = None,
    metrics: Sequence[str] | None = None,
    seed: int = 0,
    device: str = "cpu",
    registry: Registry | None = None,
    metric_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Score a saved run (its EMA generator when it has one) with its domain's metrics.
    ``data`` overrides the run's ``--data`` (the same dataset read from another place);
    ``metric_options`` sets the metrics' options (``{"resize": "clean"}``)."""
    from .run import load

    _check_count(n)
    registry = registry or get_registry()
    run = load(run_or_checkpoint, device=device, registry=registry)
    cfg = run.config.train
    specs = metric_specs(registry, cfg.domain, metrics)
    data_path = data if data is not None else cfg.data
    dataset = registry.dataset(cfg.domain, cfg.dataset).build(run.config.dataset_options,
                                                              Path(data_path) if data_path else None)
    result = score(run.generator, dataset, run.info, specs, n=n, seed=seed, device=run.device,
                   key=dataset_key(cfg.dataset, run.config.dataset_options, data_path),
                   metric_options=metric_options)
    _note_sample_count(result, n, f"the dataset has {len(dataset)}")
    return {"run": str(run.dir), "step": run.step, "uses_ema": run.uses_ema, **result}


def evaluate_samples(
    samples: Any,
    *,
    run: str | Path | None = None,
    domain: str | None = None,
    dataset: str | None = None,
    data: str | None = None,
    options: Mapping[str, Any] | None = None,
    n: int = 2000,
    metrics: Sequence[str] | None = None,
    seed: int = 0,
    device: str = "cpu",
    registry: Registry | None = None,
    metric_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Score samples made anywhere (another toolkit, a hand-written loop) with the same
    protocol as :func:`evaluate`. ``samples`` is an array in the format ``gankit sample
    --format npy`` writes (or a path to a ``.npy`` file); the reference data is ``run``'s
    dataset, or ``domain``/``dataset``/``data``/``options`` (dataset options);
    ``metric_options`` sets the metrics' options, as for :func:`evaluate`."""
    from .devices import resolve_device
    from .options import build_options

    _check_count(n)
    registry = registry or get_registry()
    if run is not None:
        from .run import load

        loaded = load(run, device="cpu", registry=registry)
        cfg = loaded.config.train
        domain_name, dataset_name, dataset_options = cfg.domain, cfg.dataset, loaded.config.dataset_options
        data = data if data is not None else cfg.data
    else:
        if not domain:
            raise GankitError("scoring samples needs the reference data: a run (RUN) or --domain and --dataset")
        domain_spec = registry.domain(domain)
        domain_name, dataset_name = domain_spec.name, dataset or domain_spec.default_dataset
        dataset_options = build_options(registry.dataset(domain_name, dataset_name).options,
                                        {k.replace("-", "_"): v for k, v in (options or {}).items()},
                                        what=f"dataset {dataset_name!r}")
    dataset_spec = registry.dataset(domain_name, dataset_name)
    if dataset_spec.needs_data and not data:
        raise GankitError(f"dataset {dataset_name!r} needs --data PATH ({dataset_spec.description})")
    built = dataset_spec.build(dataset_options, Path(data) if data else None)
    from_numpy = registry.domain(domain_name).from_numpy
    if from_numpy is None:
        raise GankitError(f"domain {domain_name!r} cannot read samples from an array (its plugin gives no from_numpy)")
    if isinstance(samples, (str, Path)):
        path = Path(samples)
        if path.suffix != ".npy" or not path.is_file():
            raise GankitError(f"--samples must be an existing .npy file (as `gankit sample --format npy` writes); "
                              f"got {str(path)!r}")
        try:
            samples = np.load(path, allow_pickle=False, mmap_mode="r")  # only the first n rows are read
        except (OSError, ValueError) as exc:
            raise GankitError(f"cannot read --samples {str(path)!r} as a .npy array: {exc}") from None
    available = len(samples)
    fake = from_numpy(np.array(samples[:n]), built.info)  # a copy: the rows read, writable
    result = score_samples(fake, built, built.info, metric_specs(registry, domain_name, metrics), seed=seed,
                           device=resolve_device(device), key=dataset_key(dataset_name, dataset_options, data),
                           metric_options=metric_options)
    _note_sample_count(result, n, f"only {available} samples were given" if available < n
                       else f"the dataset has {len(built)}")
    return {"samples": len(fake), "domain": domain_name, "dataset": dataset_name, **result}


MIN_RELIABLE_SAMPLES = 100  # fewer, and a metric's value moves more between seeds than between most models


def _check_count(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise GankitError(f"evaluation needs at least 2 samples (-n), got {n!r}; use 2000 or more for numbers to "
                          f"compare")


def _note_sample_count(result: dict[str, Any], requested: int, why_fewer: str) -> None:
    """Say when fewer samples were scored than asked for (``n_requested``), and when too
    few were scored for a metric to mean much: fewer than :data:`MIN_RELIABLE_SAMPLES`, or,
    for a metric that fits Gaussians to features (its protocol records a ``covariance``, as
    FID and FD do), no more than their dimension (the covariance is then singular). The
    notes go to the result's ``warnings`` and to the log."""
    notes = []
    n = result["n"]
    if n < requested:
        result["n_requested"] = requested
        notes.append(f"scored {n} samples, not the {requested} asked for: {why_fewer}")
    minimums = {name: max(MIN_RELIABLE_SAMPLES, _gaussian_dim(scored["protocol"]) + 1)
                for name, scored in result["metrics"].items() if scored["values"]}
    short = {name: minimum for name, minimum in minimums.items() if n < minimum}
    if short:
        notes.append(f"{n} samples are too few for {', '.join(f'{k} (needs {v}+)' for k, v in short.items())}: the "
                     f"scores vary widely and are not comparable; use -n {max(2000, *short.values())} or more")
    if notes:
        result["warnings"] = notes
        for note in notes:
            logger.warning("%s", note)


def _gaussian_dim(protocol: Mapping[str, Any]) -> int:
    """The dimension of the features a metric fits Gaussians to, or 0."""
    network = protocol.get("feature_network")
    dim = network.get("feature_dim") if isinstance(network, Mapping) else None
    return dim if "covariance" in protocol and isinstance(dim, int) else 0
