"""The feature network of the audio metrics: a small log-mel CNN that gankit trains on the
run's own labelled dataset, once, and caches — the protocol WaveGAN (Donahue et al. 2019)
used on SC09, where a digit classifier trained on the data scores samples and real clips
alike.

Input clips (N×1×T in [-1, 1], at the data's sample rate, any length) become log-mel
spectrograms with torchaudio's ``MelSpectrogram``: a Hann window of about 32 ms
(``2^round(log2(0.032·rate))`` samples), half-window hop, 64 HTK mel bands from 0 Hz to
Nyquist, power in dB relative to a full-scale sine (as the previews draw them), floored at
-80 dB and mapped to [-1, 1]. The mel bands are the channels of three 1-D convolutions over
time (32-64-128 channels, BatchNorm, ReLU, 2× max-pool after the first two; frequency as
channels keeps every band's detail at little cost, as in keyword-spotting CNNs), then an
average over 4 equal time segments (so any clip length gives the same size, while the
order of onset and decay still counts) and a 128-unit hidden layer. Features are that
hidden layer (penultimate, after its ReLU, scaled so the training data's mean squared
feature is 1); class probabilities the softmax of the logits.

Training and caching are :mod:`gankit.classifier`'s (:data:`RECIPE`: a seeded 10 % held
out, ``max(min(300, 50 epochs), 3 epochs)`` Adam steps of 64 clips capped at 1000, on the
CPU); the cache is ``<cache>/audio-classifier/<sha256 of the dataset key>.pt``. Datasets
without labels get :func:`random_features_net`: the same network untrained, from a fixed
seed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gankit import classifier as shared
from gankit.classifier import FeatureNet
from gankit.errors import GankitError

VERSION = 1  # bump when the architecture or the training recipe changes: old caches retrain
N_MELS = 64
WIDTHS = (32, 64, 128)
SEGMENTS = 4
FEATURE_DIM = 128
FLOOR_DB = -80.0
SEED = 0
RECIPE = shared.Recipe(folder="audio-classifier", version=VERSION, seed=SEED, holdout=0.1, batch=64, epochs=3,
                       min_steps=300, max_epochs=50, max_steps=1000, lr=2e-3, max_train=20_000, min_labelled=20)


def window_size(sample_rate: int, milliseconds: float = 32) -> int:
    """The FFT size: the power of two nearest to ``milliseconds`` (32 ms), at least 64 samples."""
    return 1 << max(6, round(math.log2(milliseconds / 1000 * sample_rate)))


class LogMelCNN(nn.Module):
    """The feature network: ``features_and_logits(x)`` (N×128 penultimate features, class
    logits) and ``forward(x)`` (logits), for clips N×1×T in [-1, 1] at ``sample_rate``."""

    def __init__(self, sample_rate: int, num_classes: int):
        super().__init__()
        import torchaudio

        n_fft = window_size(sample_rate)
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate, n_fft=n_fft, hop_length=n_fft // 2, n_mels=N_MELS, f_min=0.0,
            f_max=sample_rate / 2, power=2.0, norm=None, mel_scale="htk", pad_mode="constant")
        self.reference = (n_fft / 4) ** 2  # a full-scale sine's power in its bin (Hann window)
        layers: list[nn.Module] = []
        previous = N_MELS
        for i, width in enumerate(WIDTHS):
            kernel = 5 if i < len(WIDTHS) - 1 else 3
            layers += [nn.Conv1d(previous, width, kernel, padding=kernel // 2), nn.BatchNorm1d(width), nn.ReLU()]
            if i < len(WIDTHS) - 1:
                layers.append(nn.MaxPool1d(2, ceil_mode=True))
            previous = width
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool1d(SEGMENTS), nn.Flatten(),
                                  nn.Linear(previous * SEGMENTS, FEATURE_DIM), nn.ReLU())
        self.head = nn.Linear(FEATURE_DIM, num_classes)
        self.register_buffer("feature_scale", torch.ones(()))  # fixed after training
        self.sample_rate = sample_rate
        self.num_classes = num_classes

    def log_mel(self, x: torch.Tensor) -> torch.Tensor:
        """N×64×frames log-mel power, -80..0 dB mapped to [-1, 1]."""
        if x.ndim != 3 or x.shape[1] != 1:
            raise GankitError(f"the audio feature network expects clips N×1×T, got {tuple(x.shape)}")
        power = self.mel(x[:, 0].float().clamp(-1, 1))
        db = 10 * torch.log10(power.clamp_min(1e-12) / self.reference)
        return (db.clamp(FLOOR_DB, 0.0) - FLOOR_DB / 2) / (-FLOOR_DB / 2)

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.body(self.log_mel(x))
        return hidden * self.feature_scale, self.head(hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.log_mel(x)))


def clear_memory_cache() -> None:
    """Forget the networks loaded in this process (the files on disk stay)."""
    shared.clear_memory_cache()


def cache_path(cache_dir: Path, dataset_key: str) -> Path:
    return shared.cache_path(cache_dir, RECIPE, dataset_key)


def feature_net(dataset: Any, dataset_key: str, cache_dir: Path, sample_rate: int, length: int) -> FeatureNet:
    """The classifier for a labelled dataset (trained on first use, then cached), else the
    fixed random network."""
    found = shared.feature_net(RECIPE, dataset, dataset_key, cache_dir,
                               fit=lambda x, y: train_classifier(x, y, dataset_key, sample_rate), restore=_restore,
                               fallback=lambda: random_features_net(sample_rate, length),
                               what="the audio metrics' classifier")
    if found.net.sample_rate != sample_rate:
        raise GankitError(f"the cached audio classifier {cache_path(cache_dir, dataset_key)} expects clips at "
                          f"{found.net.sample_rate} Hz, the samples are at {sample_rate} Hz; delete the file to "
                          f"retrain it")
    return found


def train_classifier(x: torch.Tensor, y: torch.Tensor, dataset_key: str, sample_rate: int) -> dict[str, Any]:
    """Train a :class:`LogMelCNN` on clips ``x`` with labels ``y`` (seeded, on the CPU) and
    return what the cache file stores."""
    return shared.train(lambda classes: LogMelCNN(sample_rate, classes), x, y, RECIPE, dataset_key,
                        extra={"sample_rate": int(sample_rate)})


def _restore(state: dict[str, Any], path: Path) -> FeatureNet:
    net = shared.restore(lambda classes: LogMelCNN(int(state["sample_rate"]), classes), state)
    protocol = {
        "name": f"gankit-audio-classifier-v{VERSION}",
        "kind": "small log-mel CNN classifier trained by gankit on this run's dataset (WaveGAN's SC09 protocol)",
        **shared.describe(state, RECIPE, path),
        "feature_dim": FEATURE_DIM,
        "features": "penultimate layer (128-d, after ReLU), scaled so the training data's mean squared feature is 1",
        "input": _input_description(int(state["sample_rate"])),
        "comparable": "only with numbers from gankit's audio classifier protocol on the same dataset key",
    }
    return FeatureNet(net, protocol, has_classes=True)


def random_features_net(sample_rate: int, length: int) -> FeatureNet:
    """The fallback for unlabelled data: the same network untrained, initialised from SEED,
    its feature scale fixed on seeded uniform-noise clips."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        net = LogMelCNN(sample_rate, 1)
        probe = torch.rand(64, 1, length) * 2 - 1
    net.eval().requires_grad_(False)
    shared.fix_feature_scale(net, [probe])
    protocol = {
        "name": f"gankit-audio-random-cnn-v{VERSION}",
        "kind": f"untrained log-mel CNN with fixed random weights (seed {SEED}): the dataset has no labels to "
                "train a classifier on",
        "feature_dim": FEATURE_DIM,
        "features": "penultimate layer (128-d, after ReLU), scaled so that seeded uniform-noise clips have mean "
                    "squared feature 1",
        "input": _input_description(sample_rate),
        "comparable": "only between gankit runs on the same dataset with the same gankit version",
    }
    return FeatureNet(net, protocol, has_classes=False)


def _input_description(sample_rate: int) -> str:
    n_fft = window_size(sample_rate)
    return (f"log-mel power at {sample_rate} Hz: {N_MELS} HTK mel bands 0-{sample_rate // 2} Hz, Hann window "
            f"{n_fft}, hop {n_fft // 2}, dB re full-scale sine floored at {FLOOR_DB:g}")
