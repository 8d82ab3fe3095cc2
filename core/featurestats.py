"""Statistics that compare real and generated samples in a feature space, for any domain.

A domain maps both sets into features (an N×D tensor each; class probabilities N×K when
its feature network has classes) and scores them here:

- :func:`gaussian` and :func:`frechet_distance`: the Fréchet distance between Gaussian fits
  (FID for images, FD for audio);
- :func:`kernel_distance`: the unbiased MMD² with KID's cubic kernel, over subsets;
- :func:`score_from_probs`: the Inception-Score-style ``exp(E KL(p(y|x) || p(y)))``;
- :func:`precision_recall`: k-NN precision, recall, density and coverage;
- :class:`FeatureMemo`: features remembered per tensor, so a domain's metrics, each called
  separately, embed one sample set once.

Everything is computed in float64 on the CPU.
"""

from __future__ import annotations

import math
import weakref
from collections import OrderedDict
from typing import Any, Callable, Hashable, TypeVar

import torch

from .errors import GankitError

KID_FULL_KERNEL_MAX = 4096  # up to this many samples per side, kernel matrices are computed once
PRDC_K = 3
CHUNK = 1024

T = TypeVar("T")


# Fréchet distance ----------------------------------------------------------------------

def gaussian(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and unbiased covariance of N×D features, in float64."""
    features = features.double()
    return features.mean(0), torch.cov(features.T, correction=1).reshape(features.shape[1], features.shape[1])


def frechet_distance(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor) -> float:
    """``|mu1 - mu2|² + tr(S1) + tr(S2) - 2 tr((S1 S2)^½)``.

    ``tr((S1 S2)^½)`` is the sum of the square roots of the eigenvalues of the symmetric
    PSD matrix ``S1^½ S2 S1^½`` (similar to ``S1 S2``), so only symmetric eigen-
    decompositions are needed; eigenvalues below zero (rounding) are clipped."""
    mu1, mu2, sigma1, sigma2 = (t.double() for t in (mu1, mu2, sigma1, sigma2))
    w, v = torch.linalg.eigh((sigma1 + sigma1.T) / 2)
    root1 = (v * w.clamp(min=0).sqrt()) @ v.T
    middle = root1 @ sigma2 @ root1
    trace_root = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    diff = mu1 - mu2
    value = diff @ diff + sigma1.trace() + sigma2.trace() - 2 * trace_root
    return max(float(value), 0.0)


def feature_frechet_distance(real: torch.Tensor, fake: torch.Tensor) -> float:
    """The Fréchet distance between Gaussians fitted to two N×D feature sets."""
    return frechet_distance(*gaussian(real), *gaussian(fake))


# Kernel distance -----------------------------------------------------------------------

def kernel_distance(x: torch.Tensor, y: torch.Tensor, *, subsets: int, subset_size: int,
                    seed: int = 0) -> tuple[float, float]:
    """Mean and std over ``subsets`` seeded subsets (drawn without replacement) of the
    unbiased MMD² between features ``x`` and ``y`` with the cubic polynomial kernel
    ``(x·y/d + 1)³`` (Bińkowski et al. 2018)."""
    x, y = x.double(), y.double()
    m, d = subset_size, x.shape[1]
    if m < 2:
        raise GankitError("KID needs subsets of at least 2 samples")
    rng = torch.Generator().manual_seed(seed)

    def kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a @ b.T / d + 1) ** 3

    full = max(len(x), len(y)) <= KID_FULL_KERNEL_MAX
    if full:
        kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    values = []
    for _ in range(subsets):
        i = torch.randperm(len(x), generator=rng)[:m]
        j = torch.randperm(len(y), generator=rng)[:m]
        if full:
            a, b, c = kxx[i][:, i], kyy[j][:, j], kxy[i][:, j]
        else:
            a, b, c = kernel(x[i], x[i]), kernel(y[j], y[j]), kernel(x[i], y[j])
        within = (a.sum() - a.diagonal().sum() + b.sum() - b.diagonal().sum()) / (m * (m - 1))
        values.append(float(within - 2 * c.sum() / (m * m)))
    result = torch.tensor(values, dtype=torch.float64)
    return float(result.mean()), float(result.std(correction=0)) if len(values) > 1 else 0.0


# Inception Score -----------------------------------------------------------------------

def score_from_probs(probs: torch.Tensor, splits: int) -> tuple[float, float]:
    """Mean and std over ``splits`` consecutive chunks of ``exp(mean KL(p(y|x) || p(y)))``
    of N×K class probabilities: 1 when every sample gets the same distribution, K when
    each is confidently one class and the classes are evenly used."""
    scores = []
    for part in torch.tensor_split(probs.double(), splits):
        marginal = part.mean(0, keepdim=True)
        kl = (torch.special.xlogy(part, part) - torch.special.xlogy(part, marginal)).sum(1).mean()
        scores.append(math.exp(float(kl)))
    result = torch.tensor(scores, dtype=torch.float64)
    return float(result.mean()), float(result.std(correction=0)) if len(scores) > 1 else 0.0


# Precision, recall, density, coverage ----------------------------------------------------

def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = PRDC_K) -> dict[str, float]:
    """k-NN manifold precision and recall (Kynkäänniemi et al. 2019) with density and
    coverage (Naeem et al. 2020). precision: share of fakes inside the real k-NN manifold;
    recall: share of reals inside the fake k-NN manifold; density: mean count of real balls
    holding each fake, divided by k; coverage: share of real balls holding at least one fake."""
    real, fake = real.double(), fake.double()
    real_radii = _kth_neighbour_distance(real, k)
    fake_radii = _kth_neighbour_distance(fake, k)
    inside_count = torch.zeros(len(fake), dtype=torch.float64)  # per fake: real balls holding it
    covered = torch.zeros(len(real), dtype=torch.bool)  # per real ball: holds a fake
    recalled = torch.zeros(len(real), dtype=torch.bool)  # per real: inside some fake ball
    for start in range(0, len(real), CHUNK):
        distances = torch.cdist(real[start:start + CHUNK], fake)  # reals × fakes
        inside = distances <= real_radii[start:start + CHUNK, None]
        inside_count += inside.double().sum(0)
        covered[start:start + CHUNK] = inside.any(1)
        recalled[start:start + CHUNK] = (distances <= fake_radii[None, :]).any(1)
    return {
        "precision": float((inside_count > 0).double().mean()),
        "recall": float(recalled.double().mean()),
        "density": float(inside_count.mean() / k),
        "coverage": float(covered.double().mean()),
    }


def _kth_neighbour_distance(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row to its k-th nearest other row (the row itself excluded)."""
    radii = []
    for start in range(0, len(x), CHUNK):
        distances = torch.cdist(x[start:start + CHUNK], x)
        radii.append(distances.kthvalue(k + 1, dim=1).values)  # k+1: the row itself is at distance 0
    return torch.cat(radii)


# Features once per tensor ----------------------------------------------------------------

class FeatureMemo:
    """What a feature network computed for a tensor, kept while that tensor lives and is
    unchanged (checked through a weak reference and its in-place version counter), for the
    ``size`` most recent (network, tensor) pairs."""

    def __init__(self, size: int = 4):
        self.size = size
        self._entries: OrderedDict[tuple[Hashable, int], tuple[Any, int, Any]] = OrderedDict()

    def get(self, network_key: Hashable, x: torch.Tensor, compute: Callable[[], T]) -> T:
        """``compute()``, or its remembered result for this network and tensor."""
        key = (network_key, id(x))
        hit = self._entries.get(key)
        if hit is not None and hit[0]() is x and hit[1] == x._version:
            self._entries.move_to_end(key)
            return hit[2]
        result = compute()
        self._entries[key] = (weakref.ref(x), x._version, result)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return result

    def clear(self) -> None:
        self._entries.clear()
