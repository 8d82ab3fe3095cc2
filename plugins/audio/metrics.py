"""The audio metrics of ``gankit evaluate`` and ``--eval-every``: ``fd``, ``is`` and
``spectral``.

``fd`` and ``is`` follow the protocol WaveGAN (Donahue et al. 2019) used on SC09: a small
classifier trained on the labelled dataset's log-mel spectrograms (:mod:`.classifier`,
trained once by gankit and cached, its held-out accuracy in every protocol) scores the
generated clips and real clips alike — the Fréchet distance between Gaussian fits of its
penultimate features, and the Inception Score of its class probabilities next to the real
clips' own. Unlabelled datasets fall back to the same network with fixed random weights,
as the image metrics do: ``fd`` still ranks runs of one dataset, ``is`` is skipped (its
protocol says why). ``spectral`` needs no network: clip RMS, silence fraction and
spectral centroid of fakes and reals.

Features are computed once per tensor (a small per-process memo), so the metrics, each
called separately, embed a sample set once. The maths is :mod:`gankit.featurestats`'.
"""

from __future__ import annotations

from typing import Any

import torch

from gankit.classifier import FeatureNet
from gankit.errors import GankitError
from gankit.featurestats import FeatureMemo, feature_frechet_distance, score_from_probs
from gankit.specs import EvalContext, MetricResult

from . import classifier

IS_SPLITS = 10
EMBED_BATCH = 256
SILENCE_DBFS = -40.0  # a 10 ms frame quieter than this (RMS re full scale) is silence
SILENCE_FRAME_S = 0.01
SPECTRAL_BATCH = 256

_FEATURES = FeatureMemo(size=4)


def clear_caches() -> None:
    """Forget networks and features held in this process (cached files stay on disk)."""
    _FEATURES.clear()
    classifier.clear_memory_cache()


def feature_network(context: EvalContext) -> FeatureNet:
    """The trained classifier of the run's dataset, or the random fallback."""
    return classifier.feature_net(context.dataset, context.dataset_key, context.cache_dir,
                                  _sample_rate(context), int(context.real.shape[-1]))


@torch.no_grad()
def _embed(found: FeatureNet, x: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    found.net.to(device)
    features, probs = [], []
    for start in range(0, len(x), EMBED_BATCH):
        f, logits = found.net.features_and_logits(x[start:start + EMBED_BATCH].to(device))
        features.append(f.double().cpu())
        if found.has_classes:
            probs.append(torch.softmax(logits.double(), dim=1).cpu())
    return torch.cat(features), (torch.cat(probs) if probs else None)


def embed(found: FeatureNet, x: torch.Tensor, context: EvalContext) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Features (N×128) and, for a trained classifier, class probabilities of clips ``x``,
    remembered for the tensor while it lives and is unchanged."""
    key = (found.protocol["name"], found.protocol.get("cache_key", context.dataset_key))
    return _FEATURES.get(key, x, lambda: _embed(found, x, torch.device(context.device)))


def _sample_rate(context: EvalContext) -> int:
    rate = context.info.sample_rate
    if not rate:
        raise GankitError("audio metrics need the data's sample rate, and the run's DataInfo has none; "
                          "the dataset must set DataInfo.sample_rate")
    return int(rate)


def _check(fake: torch.Tensor, context: EvalContext) -> dict[str, Any]:
    """Validate the clips and return the protocol entries every audio metric shares."""
    if fake.ndim != 3 or tuple(fake.shape[1:]) != tuple(context.real.shape[1:]):
        raise GankitError(f"audio metrics need fake clips shaped like the real ones {tuple(context.real.shape[1:])}, "
                          f"got {tuple(fake.shape)}")
    if len(fake) < 2 or len(context.real) < 2:
        raise GankitError("audio metrics need at least 2 real and 2 fake clips")
    if not torch.isfinite(fake).all():
        raise GankitError("the generator produced non-finite samples (NaN or inf), so audio metrics cannot score "
                          "it; the run has diverged: resume from an earlier checkpoint or lower the learning rates")
    reference: dict[str, Any] = {"source": "the run's training dataset, a seeded random subset",
                                 "dataset_key": context.dataset_key, "n": len(context.real), "seed": context.seed}
    description = getattr(context.dataset, "description", "")
    if description:
        reference["dataset"] = description
    return {"n_fake": len(fake), "n_real": len(context.real), "sample_rate": _sample_rate(context),
            "clip_samples": int(fake.shape[-1]), "reference": reference}


# FD --------------------------------------------------------------------------------------

def fd(fake: torch.Tensor, context: EvalContext) -> MetricResult:
    """Fréchet distance between Gaussians fitted to the classifier's penultimate features of
    real and fake clips (lower is better)."""
    protocol = _check(fake, context)
    found = feature_network(context)
    real_features, _ = embed(found, context.real, context)
    fake_features, _ = embed(found, fake, context)
    value = feature_frechet_distance(real_features, fake_features)
    protocol.update({"feature_network": found.protocol,
                     "covariance": "unbiased (n-1); matrix square root by symmetric eigendecomposition, float64"})
    return MetricResult({"fd": value}, protocol)


# IS --------------------------------------------------------------------------------------

def inception_score(fake: torch.Tensor, context: EvalContext) -> MetricResult:
    """Inception Score ``exp(E_x KL(p(y|x) || p(y)))`` in the classifier's class
    probabilities over splits (mean and std), and the real clips' own score."""
    protocol = _check(fake, context)
    found = feature_network(context)
    protocol["feature_network"] = found.protocol
    if not found.has_classes:
        protocol["skipped"] = ("the dataset has no labels, so gankit has no classifier to score with (fd uses "
                               "fixed random features instead); label the clips (sub-folders or -o label_pattern) "
                               "to get an Inception Score")
        return MetricResult({}, protocol)
    _, real_probs = embed(found, context.real, context)
    _, fake_probs = embed(found, fake, context)
    assert real_probs is not None and fake_probs is not None
    splits = max(1, min(IS_SPLITS, len(fake_probs) // 2, len(real_probs) // 2))
    mean, std = score_from_probs(fake_probs, splits)
    real_mean, real_std = score_from_probs(real_probs, splits)
    protocol.update({"splits": splits, "classes": int(fake_probs.shape[1]), "upper_bound": int(fake_probs.shape[1]),
                     "classifier_held_out_accuracy": found.protocol["held_out_accuracy"],
                     "logits": "the classifier's logits, bias included: its own trained p(y|x), gankit's protocol",
                     "note": "is_real scores the real reference clips the same way"})
    return MetricResult({"is": mean, "is_std": std, "is_real": real_mean, "is_real_std": real_std}, protocol)


# Spectral statistics -----------------------------------------------------------------------

def spectral(fake: torch.Tensor, context: EvalContext) -> MetricResult:
    """Mean clip RMS, silence fraction and spectral centroid of fakes and reals, and the
    absolute differences (0 when the generator matches the data on these statistics)."""
    protocol = _check(fake, context)
    rate = protocol["sample_rate"]
    fakes, reals = spectral_stats(fake, rate), spectral_stats(context.real, rate)
    values: dict[str, float] = {}
    for name in ("rms", "silence", "centroid_hz"):
        values[f"{name}_fake"], values[f"{name}_real"] = fakes[name], reals[name]
        values[f"{name}_diff"] = abs(fakes[name] - reals[name])
    n_fft = classifier.window_size(rate)
    protocol.update({
        "rms": "root mean square of each whole clip (a full-scale sine: 0.707), averaged over clips",
        "silence": f"share of {SILENCE_FRAME_S * 1000:g} ms frames whose RMS is below {SILENCE_DBFS:g} dBFS, "
                   "averaged over clips",
        "centroid_hz": f"magnitude-weighted mean frequency of each clip's STFT (Hann window {n_fft}, hop "
                       f"{n_fft // 2}; loud frames weigh more), averaged over clips that are not all zeros",
        "clips_without_centroid": {"fake": fakes["silent_clips"], "real": reals["silent_clips"]},
    })
    return MetricResult(values, protocol)


def spectral_stats(clips: torch.Tensor, sample_rate: int) -> dict[str, float]:
    """Means over clips (N×1×T) of the RMS, the silence fraction and the spectral centroid
    in Hz, and ``silent_clips``: how many clips are all zeros (no centroid; left out of its
    mean, which is 0 when every clip is silent)."""
    frame = max(1, int(round(SILENCE_FRAME_S * sample_rate)))
    n_fft = classifier.window_size(sample_rate)
    window = torch.hann_window(n_fft, dtype=torch.float64)
    frequencies = torch.fft.rfftfreq(n_fft, 1 / sample_rate, dtype=torch.float64)
    threshold = 10 ** (SILENCE_DBFS / 20)
    rms, silence, centroids = [], [], []
    for start in range(0, len(clips), SPECTRAL_BATCH):
        x = clips[start:start + SPECTRAL_BATCH].reshape(-1, clips.shape[-1]).double()
        rms.append(x.pow(2).mean(1).sqrt())
        count = max(1, x.shape[1] // frame)
        frames = x[:, :count * frame].reshape(len(x), count, -1) if x.shape[1] >= frame else x[:, None]
        silence.append((frames.pow(2).mean(2).sqrt() < threshold).double().mean(1))
        magnitude = torch.stft(x, n_fft, hop_length=n_fft // 2, window=window, center=True, pad_mode="constant",
                               return_complex=True).abs()  # N×bins×frames
        weight = magnitude.sum((1, 2))
        centre = (magnitude.sum(2) * frequencies).sum(1) / weight.clamp_min(1e-300)
        centroids.append(centre[weight > 0])
    centroid = torch.cat(centroids)
    return {"rms": float(torch.cat(rms).mean()), "silence": float(torch.cat(silence).mean()),
            "centroid_hz": float(centroid.mean()) if len(centroid) else 0.0,
            "silent_clips": int(len(clips) - len(centroid))}
