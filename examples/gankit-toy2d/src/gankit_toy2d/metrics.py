"""Mode metrics for 2-D mixtures, as in VEEGAN (Srivastava et al. 2017) and PacGAN
(Lin et al. 2018).

A sample is *high quality* when it lies within 3σ of some mode (σ the data's std; a real
sample does so with probability 1 − e^(−9/2) ≈ 0.989 in 2-D). A mode is *covered* when at
least ``min_fraction`` of all samples are high-quality samples of that mode; the default,
a quarter of a mode's fair share (0.25 / modes: 20 of 2000 samples on the 25-mode grid),
follows VEEGAN's "20 of 2500". ``kl`` is KL(fake ‖ real) between the histograms of
samples over their nearest modes (0 for a perfect balance, log(modes) for one mode).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from gankit.specs import DataInfo, EvalContext, MetricResult


def mode_stats(points: Any, modes: Any, std: float, min_fraction: float | None = None) -> dict[str, float]:
    """``covered``, ``total``, ``high_quality`` and ``kl`` for ``points`` (N×2)."""
    points = np.asarray(points, dtype=np.float64).reshape(len(points), -1)
    modes = np.asarray(modes, dtype=np.float64)
    total = len(modes)
    if min_fraction is None:
        min_fraction = 0.25 / total
    distances = np.linalg.norm(points[:, None, :] - modes[None, :, :], axis=2)
    nearest = distances.argmin(axis=1)
    good = distances[np.arange(len(points)), nearest] <= 3 * std
    hits = np.bincount(nearest[good], minlength=total)
    needed = max(1, math.ceil(min_fraction * len(points)))
    share = np.bincount(nearest, minlength=total) / len(points)
    kl = float(np.sum(share[share > 0] * np.log(share[share > 0] * total)))
    return {"covered": float((hits >= needed).sum()), "total": float(total),
            "high_quality": float(good.mean()), "kl": kl}


def _mixture(info: DataInfo) -> tuple[list, float]:
    extra: Mapping[str, Any] = info.extra
    if "modes" not in extra or "std" not in extra:
        raise ValueError("toy2d's metrics need DataInfo.extra['modes'] and ['std'] (a toy2d dataset)")
    return extra["modes"], float(extra["std"])


def _protocol(n: int, info: DataInfo) -> dict[str, Any]:
    modes, std = _mixture(info)
    return {"n": n, "mixture": info.extra.get("mixture"), "modes": len(modes), "std": std, "radius": "3 std",
            "min_fraction": 0.25 / len(modes), "reference": "the mixture's mode centres (DataInfo.extra)"}


def modes_metric(fake: Any, context: EvalContext) -> MetricResult:
    """``MetricSpec.compute`` of ``modes``: covered, total, kl."""
    modes, std = _mixture(context.info)
    stats = mode_stats(fake.numpy(), modes, std)
    return MetricResult({k: stats[k] for k in ("covered", "total", "kl")}, _protocol(len(fake), context.info))


def quality_metric(fake: Any, context: EvalContext) -> MetricResult:
    """``MetricSpec.compute`` of ``quality``: the fraction of high-quality samples."""
    modes, std = _mixture(context.info)
    stats = mode_stats(fake.numpy(), modes, std)
    return MetricResult({"high_quality": stats["high_quality"]}, _protocol(len(fake), context.info))
