"""A run: train, checkpoint, resume, samples, metrics, through ``gankit.train``,
``gankit.load`` and ``gankit evaluate``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..registry import get_registry
from .base import ConformanceError, _require
from .networks import _conditioned_on_tensors, _rows


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
    from ..evaluation import evaluate

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
