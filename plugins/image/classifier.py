"""The offline feature network of the image metrics: a small CNN classifier that gankit
trains on the run's own labelled dataset, once, and caches.

Inputs (1 or 3 channels, any size) are clamped to [-1, 1] and resized bilinearly to
32×32; three conv blocks (16-32-64 channels, BatchNorm, ReLU, 2×2 max-pool) and a
128-unit hidden layer follow. Features are that hidden layer (the penultimate one, after
its ReLU, scaled by a constant fixed at training time so the training data's mean squared
feature is 1), class probabilities the softmax of the logits.

Training is small and seeded: a seeded 10 % of the labelled samples is held out to measure
accuracy, the rest trains the net with Adam (cosine-decayed learning rate) for
``max(min(MIN_STEPS, MAX_EPOCHS epochs), EPOCHS epochs)`` steps of ``BATCH`` samples,
capped at ``MAX_STEPS`` (a 60 000-image set trains in 20-40 s on one CPU thread), always
on the CPU so that the weights do not depend on the evaluating device. The result is cached under
``<cache>/image-classifier/<sha256 of the dataset key>.pt`` (written atomically, opened
with ``weights_only=True``) with its held-out accuracy, and kept in memory for the rest of
the process.

Datasets without labels get :func:`random_features_net` instead: the same architecture,
untrained, initialised from a fixed seed (a fixed feature space that ranks runs of one
dataset, nothing more; the metrics' protocol says so).
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gankit.checkpoint import save_checkpoint
from gankit.errors import GankitError

logger = logging.getLogger("gankit")

VERSION = 1  # bump when the architecture or the training recipe changes: old caches retrain
INPUT_SIZE = 32
WIDTHS = (16, 32, 64)
FEATURE_DIM = 128
SEED = 0
HOLDOUT = 0.1
BATCH = 64
EPOCHS = 3
MIN_STEPS = 150  # small datasets get more epochs, up to MAX_EPOCHS ...
MAX_EPOCHS = 50
MAX_STEPS = 500  # ... and large ones less than EPOCHS
LR = 2e-3
MAX_TRAIN = 60_000  # larger datasets train on a seeded subset
MIN_LABELLED = 20  # fewer labelled samples (or fewer than 2 classes) count as unlabelled
CACHE_FOLDER = "image-classifier"


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
        # Set after training so that the training data's mean squared feature is 1 (the
        # scale Inception's pool features have, roughly): KID's kernel (x.y/d + 1)^3 then
        # sees inner products of order 1 and the numbers have a readable size.
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


@dataclass
class FeatureNet:
    """A ready feature network and the protocol entry that describes it."""

    net: SmallCNN
    protocol: dict[str, Any]
    has_classes: bool


_LOADED: dict[str, FeatureNet] = {}


def clear_memory_cache() -> None:
    """Forget the networks loaded in this process (the files on disk stay)."""
    _LOADED.clear()


def cache_path(cache_dir: Path, dataset_key: str) -> Path:
    return Path(cache_dir) / CACHE_FOLDER / f"{hashlib.sha256(dataset_key.encode()).hexdigest()}.pt"


def feature_net(dataset: Any, dataset_key: str, cache_dir: Path, channels: int) -> FeatureNet:
    """The classifier for a labelled dataset (trained on first use, then cached), else the
    fixed random CNN."""
    path = cache_path(cache_dir, dataset_key)
    memo = str(path)
    if memo in _LOADED:
        return _LOADED[memo]
    state = _load(path, dataset_key)
    if state is None:
        x, y = labelled_data(dataset)
        if x is None:
            result = random_features_net(channels)
            _LOADED[memo] = result
            return result
        state = train_classifier(x, y, dataset_key)
        save_checkpoint(state, path)
        logger.info("trained the image metrics' classifier (held-out accuracy %.3f); cached in %s",
                    state["accuracy"], path)
    net = SmallCNN(state["channels"], state["num_classes"])
    net.load_state_dict(state["state_dict"])
    net.eval().requires_grad_(False)
    if net.channels != channels:
        raise GankitError(f"the cached image classifier {path} expects {net.channels}-channel images, the samples "
                          f"have {channels}; delete the file to retrain it")
    protocol = {
        "name": f"gankit-classifier-v{VERSION}",
        "kind": "small CNN classifier trained by gankit on this run's dataset (offline default)",
        "trained": f"{state['steps']} Adam steps of batch {BATCH} on {state['train_samples']} labelled samples "
                   f"(seed {SEED}, CPU)",
        "held_out_accuracy": round(float(state["accuracy"]), 4),
        "held_out_samples": state["holdout_samples"],
        "num_classes": state["num_classes"],
        "feature_dim": FEATURE_DIM,
        "features": "penultimate layer (128-d, after ReLU), scaled so the training data's mean squared "
                    "feature is 1",
        "resize": f"bilinear to {INPUT_SIZE}x{INPUT_SIZE}",
        "cache_key": path.stem,
        "dataset_key": dataset_key,
        "comparable": "only with numbers from gankit's classifier protocol on the same dataset key",
    }
    result = FeatureNet(net, protocol, has_classes=True)
    _LOADED[memo] = result
    return result


def random_features_net(channels: int) -> FeatureNet:
    """The fallback for unlabelled data: the same CNN untrained, initialised from SEED."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        net = SmallCNN(channels, 1)
        probe = torch.rand(256, channels, INPUT_SIZE, INPUT_SIZE) * 2 - 1  # fixed uniform-noise images
    net.eval().requires_grad_(False)
    with torch.no_grad():  # fixed data-independent scale: the probe's mean squared feature is 1
        net.feature_scale.fill_(1.0 / math.sqrt(max(float(net.body(probe).double().pow(2).mean()), 1e-12)))
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


def labelled_data(dataset: Any) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Up to MAX_TRAIN labelled samples of ``dataset`` (a seeded subset when larger), or
    ``(None, None)`` when the dataset has too few labels to train a classifier on."""
    tensors = getattr(dataset, "tensors", None)
    info = getattr(dataset, "info", None)
    if tensors is not None:
        x, y = tensors
        y = torch.as_tensor(y).long()
    else:
        if info is not None and getattr(info, "num_classes", 0) == 0:
            return None, None  # an unlabelled dataset: no need to read every sample to find out
        x, y = None, torch.as_tensor([int(dataset[i][1]) for i in range(len(dataset))], dtype=torch.long)
    keep = torch.nonzero(y >= 0).squeeze(1)
    if len(keep) < MIN_LABELLED or len(torch.unique(y[keep])) < 2:
        return None, None
    if len(keep) > MAX_TRAIN:
        order = torch.randperm(len(keep), generator=torch.Generator().manual_seed(SEED))
        keep = keep[order[:MAX_TRAIN]].sort().values
    if x is not None:
        return x[keep].float(), y[keep]
    return torch.stack([torch.as_tensor(dataset[int(i)][0]) for i in keep]).float(), y[keep]


def train_classifier(x: torch.Tensor, y: torch.Tensor, dataset_key: str) -> dict[str, Any]:
    """Train a :class:`SmallCNN` on ``(x, y)`` (seeded, on the CPU) and return what the cache
    file stores: plain tensors and plain data, loadable with ``weights_only=True``."""
    num_classes = int(y.max()) + 1
    rng = torch.Generator().manual_seed(SEED)
    order = torch.randperm(len(x), generator=rng)
    n_holdout = max(1, int(round(HOLDOUT * len(x))))
    held, train = order[:n_holdout], order[n_holdout:]
    steps_per_epoch = math.ceil(len(train) / BATCH)
    steps = min(MAX_STEPS, max(min(MIN_STEPS, MAX_EPOCHS * steps_per_epoch), EPOCHS * steps_per_epoch))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        net = SmallCNN(x.shape[1], num_classes)
    optimizer = torch.optim.Adam(net.parameters(), lr=LR)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    net.train()
    batches = torch.empty(0, dtype=torch.long)
    for _ in range(steps):
        if len(batches) < BATCH:
            batches = torch.cat([batches, train[torch.randperm(len(train), generator=rng)]])
        index, batches = batches[:BATCH], batches[BATCH:]
        loss = F.cross_entropy(net(x[index]), y[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    net.eval()
    correct, squares = 0, 0.0
    with torch.no_grad():
        for i in range(0, len(held), 512):
            correct += int((net(x[held[i:i + 512]]).argmax(1) == y[held[i:i + 512]]).sum())
        probe = train[:4096]  # the scale: mean squared feature over (up to) 4096 training samples
        for i in range(0, len(probe), 512):
            squares += float(net.body(prepare(x[probe[i:i + 512]], net.channels)).double().pow(2).sum())
        net.feature_scale.fill_(1.0 / math.sqrt(max(squares / (len(probe) * FEATURE_DIM), 1e-12)))
    return {
        "format_version": VERSION,
        "dataset_key": dataset_key,
        "state_dict": {k: v.detach().clone() for k, v in net.state_dict().items()},
        "channels": int(x.shape[1]),
        "num_classes": num_classes,
        "accuracy": correct / len(held),
        "train_samples": len(train),
        "holdout_samples": len(held),
        "steps": steps,
    }


def _load(path: Path, dataset_key: str) -> dict[str, Any] | None:
    """The cached training result, or None (absent, unreadable or from another version)."""
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: retrain and replace it
        logger.warning("ignoring the unreadable image classifier cache %s (%s); retraining", path, exc)
        return None
    if not isinstance(state, dict) or state.get("format_version") != VERSION or state.get("dataset_key") != dataset_key:
        return None
    return state
