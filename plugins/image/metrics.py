"""The image metrics of ``gankit evaluate`` and ``--eval-every``: ``fid``, ``kid``, ``is``
and ``prdc``, computed in the feature space of one network:

- ``GANKIT_FID_WEIGHTS`` set: the FID Inception-v3 (:mod:`.inception`; 2048-d pool
  features, 1008-class softmax), so the numbers compare with papers' (up to sample counts
  and the reference set);
- otherwise, offline: a small CNN classifier gankit trains on the run's labelled dataset
  and caches (:mod:`.classifier`), or, for unlabelled data, the same CNN with fixed random
  weights. These numbers compare only with each other under gankit's protocol.

Every result carries a ``protocol`` naming the network, its accuracy and cache key, the
resize (for Inception, the ``resize`` metric option: pytorch-fid's, torch-fidelity's or
clean-fid's convention, :data:`.inception.RESIZE_MODES`), the sample counts and the
reference set. Features are computed once per tensor:
each metric is called separately, so a small per-process cache keyed by the tensor
(checked through a weak reference and its version counter) serves the others. The maths
lives in :mod:`gankit.featurestats`, shared with the other domains, and is re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from gankit.errors import GankitError
from gankit.featurestats import (
    PRDC_K,
    FeatureMemo,
    frechet_distance,
    gaussian,
    kernel_distance,
    precision_recall,
    score_from_probs,
)
from gankit.specs import EvalContext, MetricResult

from . import classifier, inception

__all__ = ["fid", "kid", "inception_score", "prdc", "backbone", "embed", "clear_caches", "frechet_distance",
           "gaussian", "kernel_distance", "score_from_probs", "precision_recall"]

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
IS_SPLITS = 10
# Which logits the Inception Score's softmax takes (docs/metrics.md, "Inception Score and the fc bias").
IS_LOGITS = {
    "inception": "the fc logits without the bias (the original Inception Score code; torch-fidelity's "
                 "logits_unbiased)",
    "classifier": "gankit's classifier's logits, bias included: its own trained p(y|x), gankit's protocol",
}


# Feature networks ------------------------------------------------------------------------

@dataclass
class Backbone:
    """A feature network ready to embed images: features (N×D) and, when it has classes,
    class probabilities (N×K)."""

    key: str
    kind: str  # "inception", "classifier" or "random"
    net: nn.Module
    protocol: dict[str, Any]
    batch: int

    @property
    def has_classes(self) -> bool:
        return self.kind != "random"

    @torch.no_grad()
    def embed(self, x: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
        self.net.to(device)
        features, probs = [], []
        for start in range(0, len(x), self.batch):
            chunk = x[start:start + self.batch].to(device)
            if self.kind == "inception":  # the Inception Score's convention: no fc bias
                f, _ = self.net(chunk)
                logits = self.net.logits_unbiased(f)
            else:
                f, logits = self.net.features_and_logits(chunk)
                logits = logits if self.kind == "classifier" else None
            features.append(f.double().cpu())
            if logits is not None:
                probs.append(torch.softmax(logits.double(), dim=1).cpu())
        return torch.cat(features), (torch.cat(probs) if probs else None)


_INCEPTION: dict[tuple[str, int, int, str], inception.FIDInceptionV3] = {}
_FEATURES = FeatureMemo(size=4)


def clear_caches() -> None:
    """Forget networks and features held in this process (cached files stay on disk)."""
    _INCEPTION.clear()
    _FEATURES.clear()
    classifier.clear_memory_cache()


def backbone(context: EvalContext) -> Backbone:
    """The feature network for this evaluation (see the module docstring for the choice)."""
    path = inception.weights_path()
    chosen = getattr(context.options, "resize", None)
    if path is not None:
        resize = chosen or inception.DEFAULT_RESIZE
        stat = path.stat() if path.is_file() else None
        memo = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, resize) if stat else None
        net = _INCEPTION.get(memo) if memo else None
        if net is None:
            net = inception.load_fid_inception(path, resize)
            _INCEPTION[memo] = net  # type: ignore[index]
        steps, reproduces = inception.RESIZE_MODES[resize]
        protocol = {
            "name": "inception-v3-fid",
            "kind": "FID Inception-v3 (TensorFlow 2015-12-05 graph as ported by pytorch-fid)",
            "weights": str(path),
            "feature_dim": inception.FEATURE_DIM,
            "features": "2048-d final average pool",
            "classes": f"{inception.NUM_CLASSES} (softmax of the fc logits without the fc bias, as the original "
                       f"Inception Score code and torch-fidelity's logits_unbiased)",
            "resize": f"{resize}: 8-bit pixels (round((x+1)*127.5)), grayscale repeated to RGB, {steps}",
            "resize_mode": resize,
            "reproduces": reproduces,
            "comparable": "with papers using the standard FID Inception weights, at equal sample counts and "
                          "reference set",
        }
        return Backbone(f"inception:{path}:{resize}", "inception", net, protocol, batch=50)
    if chosen is not None:
        raise GankitError(f"--metric-option resize {chosen} sets how images reach the FID Inception-v3, but "
                          f"{inception.WEIGHTS_ENV} is not set, so gankit's offline classifier scores them (with its "
                          f"own 32x32 bilinear resize); set {inception.WEIGHTS_ENV} or leave resize out")
    channels = int(context.info.shape[0])
    found = classifier.feature_net(context.dataset, context.dataset_key, context.cache_dir, channels)
    kind = "classifier" if found.has_classes else "random"
    return Backbone(f"{found.protocol['name']}:{found.protocol.get('cache_key', channels)}", kind, found.net,
                    dict(found.protocol), batch=256)


def embed(net: Backbone, x: torch.Tensor, context: EvalContext) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``net.embed(x)``, remembered for the tensor ``x`` while it lives and is unchanged."""
    return _FEATURES.get(net.key, x, lambda: net.embed(x, torch.device(context.device)))


def _setup(fake: torch.Tensor, context: EvalContext) -> tuple[Backbone, dict[str, Any]]:
    if fake.ndim != 4 or tuple(fake.shape[1:]) != tuple(context.real.shape[1:]):
        raise GankitError(f"image metrics need fake images shaped like the real ones {tuple(context.real.shape[1:])}, "
                          f"got {tuple(fake.shape)}")
    if len(fake) < 2 or len(context.real) < 2:
        raise GankitError("image metrics need at least 2 real and 2 fake samples")
    if not torch.isfinite(fake).all():
        raise GankitError("the generator produced non-finite pixels (NaN or inf), so image metrics cannot score "
                          "it; the run has diverged: resume from an earlier checkpoint or lower the learning rates")
    net = backbone(context)
    reference: dict[str, Any] = {"source": "the run's training dataset, a seeded random subset",
                                 "dataset_key": context.dataset_key, "n": len(context.real), "seed": context.seed}
    description = getattr(context.dataset, "description", "")
    if description:
        reference["dataset"] = description
    protocol = {"feature_network": net.protocol, "resize": net.protocol["resize"], "n_fake": len(fake),
                "n_real": len(context.real), "reference": reference}
    return net, protocol


# FID -------------------------------------------------------------------------------------

def fid(fake: torch.Tensor, context: EvalContext) -> MetricResult:
    """Fréchet distance between Gaussians fitted to real and fake features (lower is better)."""
    net, protocol = _setup(fake, context)
    real_features, _ = embed(net, context.real, context)
    fake_features, _ = embed(net, fake, context)
    value = frechet_distance(*gaussian(real_features), *gaussian(fake_features))
    protocol["covariance"] = "unbiased (n-1); matrix square root by symmetric eigendecomposition, float64"
    return MetricResult({"fid": value}, protocol)


# KID -------------------------------------------------------------------------------------

def kid(fake: torch.Tensor, context: EvalContext) -> MetricResult:
    """Kernel Inception Distance: unbiased MMD² with the kernel ``(x·y/d + 1)³``, averaged
    over random subsets (Bińkowski et al. 2018); mean and standard deviation."""
    net, protocol = _setup(fake, context)
    real_features, _ = embed(net, context.real, context)
    fake_features, _ = embed(net, fake, context)
    # Subsets of at most half of each side, so that they differ and their spread means something.
    size = max(2, min(KID_SUBSET_SIZE, len(real_features) // 2, len(fake_features) // 2))
    mean, std = kernel_distance(real_features, fake_features, subsets=KID_SUBSETS, subset_size=size,
                                seed=context.seed)
    protocol.update({"kernel": "(x.y/d + 1)^3", "subsets": KID_SUBSETS, "subset_size": size,
                     "estimator": "unbiased MMD^2"})
    return MetricResult({"kid": mean, "kid_std": std}, protocol)


# IS --------------------------------------------------------------------------------------

def inception_score(fake: torch.Tensor, context: EvalContext) -> MetricResult:
    """Inception-Score-style ``exp(E_x KL(p(y|x) || p(y)))`` in the feature network's class
    probabilities, over splits (mean and std), and the real subset's own score."""
    net, protocol = _setup(fake, context)
    if not net.has_classes:
        protocol["skipped"] = ("the dataset has no labels, so gankit's feature network has no classes; set "
                               f"{inception.WEIGHTS_ENV} to score with Inception-v3's classes")
        return MetricResult({}, protocol)
    _, real_probs = embed(net, context.real, context)
    _, fake_probs = embed(net, fake, context)
    assert real_probs is not None and fake_probs is not None
    splits = max(1, min(IS_SPLITS, len(fake_probs) // 2, len(real_probs) // 2))
    mean, std = score_from_probs(fake_probs, splits)
    real_mean, real_std = score_from_probs(real_probs, splits)
    protocol.update({"splits": splits, "classes": int(fake_probs.shape[1]),
                     "upper_bound": int(fake_probs.shape[1]),
                     "logits": IS_LOGITS[net.kind],
                     "note": "is_real scores the real reference subset the same way"})
    return MetricResult({"is": mean, "is_std": std, "is_real": real_mean, "is_real_std": real_std}, protocol)


# Precision, recall, density, coverage ------------------------------------------------------

def prdc(fake: torch.Tensor, context: EvalContext) -> MetricResult:
    """k-NN manifold precision and recall (Kynkäänniemi et al. 2019, k=3) with density and
    coverage (Naeem et al. 2020), all in [0, 1] except density (whose mean is about 1 for
    matching distributions)."""
    net, protocol = _setup(fake, context)
    real_features, _ = embed(net, context.real, context)
    fake_features, _ = embed(net, fake, context)
    k = min(PRDC_K, len(real_features) - 1, len(fake_features) - 1)
    values = precision_recall(real_features, fake_features, k=k)
    protocol.update({"k": k, "distance": "euclidean in feature space",
                     "membership": "inside the ball to the k-th nearest neighbour (distance <= radius)"})
    return MetricResult(values, protocol)
