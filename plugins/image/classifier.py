"""The offline feature network of the image metrics: a small CNN classifier that gankit
trains on the run's own labelled dataset, once, and caches.

Inputs (1 or 3 channels, any size) are clamped to [-1, 1] and resized bilinearly to
32×32; three conv blocks (16-32-64 channels, BatchNorm, ReLU, 2×2 max-pool) and a
128-unit hidden layer follow. Features are that hidden layer (the penultimate one, after
its ReLU, scaled by a constant fixed at training time so the training data's mean squared
feature is 1), class probabilities the softmax of the logits.

Training is small and seeded: a seeded 10 % of the labelled samples is held out to measure
accuracy, the rest trains the net with Adam (cosine-decayed learning rate) for
``max(min(150, 50 epochs), 3 epochs)`` steps of 64 samples, capped at 500 (:data:`RECIPE`;
a 60 000-image set trains in 20-40 s on one CPU thread), always
on the CPU so that the weights do not depend on the evaluating device. The result is cached under
``<cache>/image-classifier/<sha256 of the dataset key>.pt`` (written atomically, opened
with ``weights_only=True``) with its held-out accuracy, and kept in memory for the rest of
the process. The training and caching are :mod:`gankit.classifier`'s, shared with the
other domains; this module supplies the network and the recipe.

Datasets without labels get :func:`random_features_net` instead: the same architecture,
untrained, initialised from a fixed seed (a fixed feature space that ranks runs of one
dataset, nothing more; the metrics' protocol says so).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gankit import classifier as shared
from gankit.classifier import FeatureNet
from gankit.errors import GankitError

VERSION = 1  # bump when the architecture or the training recipe changes: old caches retrain
INPUT_SIZE = 32
WIDTHS = (16, 32, 64)
FEATURE_DIM = 128
SEED = 0
BATCH = 64
CACHE_FOLDER = "image-classifier"
RECIPE = shared.Recipe(folder=CACHE_FOLDER, version=VERSION, seed=SEED, holdout=0.1, batch=BATCH, epochs=3,
                       min_steps=150, max_epochs=50, max_steps=500, lr=2e-3, max_train=60_000, min_labelled=20)


class SmallCNN(nn.Module):
    """The feature network: ``features(x)`` (N×128, penultimate layer) and ``forward(x)``
    (class logits). ``x`` is an image batch in gankit's canonical form (N×C×H×W in [-1, 1])."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        blocks: list[nn.Module] = []
        previous = channels
        for width in WIDTHS:
            blocks += [nn.Conv2d(previous, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2)]
            previous = width
        side = INPUT_SIZE // 2 ** len(WIDTHS)
        self.body = nn.Sequential(*blocks, nn.Flatten(), nn.Linear(previous * side * side, FEATURE_DIM), nn.ReLU())
        self.head = nn.Linear(FEATURE_DIM, num_classes)
        # Fixed after training (gankit.classifier.fix_feature_scale): the training data's
        # mean squared feature is then 1.
        self.register_buffer("feature_scale", torch.ones(()))
        self.channels = channels
        self.num_classes = num_classes

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.body(prepare(x, self.channels))
        return hidden * self.feature_scale, self.head(hidden)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(x)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(prepare(x, self.channels)))


def prepare(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Clamp to [-1, 1] and resize to INPUT_SIZE² (bilinear, antialiased when shrinking)."""
    if x.ndim != 4 or x.shape[1] != channels:
        raise GankitError(f"the image feature network expects N×{channels}×H×W images, got {tuple(x.shape)}")
    x = x.float().clamp(-1, 1)
    if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
        shrink = x.shape[-1] > INPUT_SIZE or x.shape[-2] > INPUT_SIZE
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False, antialias=shrink)
    return x


def clear_memory_cache() -> None:
    """Forget the networks loaded in this process (the files on disk stay)."""
    shared.clear_memory_cache()


def cache_path(cache_dir: Path, dataset_key: str) -> Path:
    return shared.cache_path(cache_dir, RECIPE, dataset_key)


def feature_net(dataset: Any, dataset_key: str, cache_dir: Path, channels: int) -> FeatureNet:
    """The classifier for a labelled dataset (trained on first use, then cached), else the
    fixed random CNN."""
    found = shared.feature_net(RECIPE, dataset, dataset_key, cache_dir,
                               fit=lambda x, y: train_classifier(x, y, dataset_key), restore=_restore,
                               fallback=lambda: random_features_net(channels), what="the image metrics' classifier")
    net_channels = found.net.channels
    if net_channels != channels:
        where = cache_path(cache_dir, dataset_key)
        raise GankitError(f"the cached image classifier {where} expects {net_channels}-channel images, the samples "
                          f"have {channels}; delete the file to retrain it")
    return found


def train_classifier(x: torch.Tensor, y: torch.Tensor, dataset_key: str) -> dict[str, Any]:
    """Train a :class:`SmallCNN` on ``(x, y)`` (seeded, on the CPU) and return what the cache
    file stores."""
    channels = int(x.shape[1])
    return shared.train(lambda classes: SmallCNN(channels, classes), x, y, RECIPE, dataset_key,
                        extra={"channels": channels})


def _restore(state: dict[str, Any], path: Path) -> FeatureNet:
    net = shared.restore(lambda classes: SmallCNN(state["channels"], classes), state)
    protocol = {
        "name": f"gankit-classifier-v{VERSION}",
        "kind": "small CNN classifier trained by gankit on this run's dataset (offline default)",
        **shared.describe(state, RECIPE, path),
        "feature_dim": FEATURE_DIM,
        "features": "penultimate layer (128-d, after ReLU), scaled so the training data's mean squared "
                    "feature is 1",
        "resize": f"bilinear to {INPUT_SIZE}x{INPUT_SIZE}",
        "comparable": "only with numbers from gankit's classifier protocol on the same dataset key",
    }
    return FeatureNet(net, protocol, has_classes=True)


def random_features_net(channels: int) -> FeatureNet:
    """The fallback for unlabelled data: the same CNN untrained, initialised from SEED."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        net = SmallCNN(channels, 1)
        probe = torch.rand(256, channels, INPUT_SIZE, INPUT_SIZE) * 2 - 1  # fixed uniform-noise images
    net.eval().requires_grad_(False)
    shared.fix_feature_scale(net, [probe])  # data-independent: the probe's mean squared feature is 1
    protocol = {
        "name": f"gankit-random-cnn-v{VERSION}",
        "kind": f"untrained small CNN with fixed random weights (seed {SEED}): the dataset has no labels to "
                "train a classifier on",
        "feature_dim": FEATURE_DIM,
        "features": "penultimate layer (128-d, after ReLU), scaled so that seeded uniform-noise images have "
                    "mean squared feature 1",
        "resize": f"bilinear to {INPUT_SIZE}x{INPUT_SIZE}",
        "comparable": "only between gankit runs on the same dataset with the same gankit version; "
                      "set GANKIT_FID_WEIGHTS for numbers comparable with papers",
    }
    return FeatureNet(net, protocol, has_classes=False)
