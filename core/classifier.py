"""Feature classifiers that gankit trains on a run's own labelled dataset and caches: the
machinery every domain's metrics share (the image domain's CNN on pixels, the audio
domain's on log-mel spectrograms, a third party's on whatever it generates).

A domain supplies the network and a :class:`Recipe`. The network is an ``nn.Module``
whose ``forward(x)`` returns class logits for a batch in the domain's canonical form, whose
``features_and_logits(x)`` returns ``(features, logits)`` with the features multiplied by
its scalar ``feature_scale`` buffer. Then :func:`feature_net`:

- reuses a network already loaded in this process, else the cached file
  ``<cache_dir>/<recipe.folder>/<sha256 of the dataset key>.pt`` (written atomically,
  opened with ``weights_only=True``, ignored when from another recipe version or dataset);
- else picks up to ``max_train`` labelled samples (:func:`labelled_data`), trains on them
  (:func:`train`: seeded, on the CPU so the weights do not depend on the evaluating device,
  a seeded ``holdout`` share held out to measure accuracy) and caches the result;
- else, when the dataset has too few labels, returns the domain's fallback (by convention
  the same network untrained, with fixed random weights: see :func:`fix_feature_scale`).

The feature scale is fixed after training so that the training data's mean squared feature
is 1 (the scale Inception's pool features have, roughly): KID's kernel ``(x.y/d + 1)^3``
then sees inner products of order 1 and Fréchet distances have a readable size.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoint import save_checkpoint

logger = logging.getLogger("gankit")


@dataclass(frozen=True)
class Recipe:
    """How a domain's feature classifier is trained and where it is cached.

    Training runs ``max(min(min_steps, max_epochs epochs), epochs epochs)`` Adam steps of
    ``batch`` samples (a cosine-decayed learning rate from ``lr``), capped at ``max_steps``:
    small datasets get more epochs, large ones fewer. A dataset with fewer than
    ``min_labelled`` labelled samples, or fewer than 2 classes, counts as unlabelled."""

    folder: str  # the cache's sub-folder, e.g. "image-classifier"
    version: int  # bump when the architecture or the recipe changes: old caches retrain
    seed: int = 0
    holdout: float = 0.1
    batch: int = 64
    epochs: int = 3
    min_steps: int = 150
    max_epochs: int = 50
    max_steps: int = 500
    lr: float = 2e-3
    max_train: int = 60_000  # larger datasets train on a seeded subset
    min_labelled: int = 20
    scale_probe: int = 4096  # training samples the feature scale is measured on

    def steps(self, train_samples: int) -> int:
        per_epoch = math.ceil(train_samples / self.batch)
        return min(self.max_steps, max(min(self.min_steps, self.max_epochs * per_epoch), self.epochs * per_epoch))


@dataclass
class FeatureNet:
    """A ready feature network and the protocol entry that describes it; ``has_classes`` is
    False for an untrained fallback, whose logits are no classes."""

    net: nn.Module
    protocol: dict[str, Any]
    has_classes: bool


_LOADED: dict[str, FeatureNet] = {}


def clear_memory_cache() -> None:
    """Forget the networks loaded in this process (the files on disk stay)."""
    _LOADED.clear()


def cache_path(cache_dir: Path, recipe: Recipe, dataset_key: str) -> Path:
    return Path(cache_dir) / recipe.folder / f"{hashlib.sha256(dataset_key.encode()).hexdigest()}.pt"


def feature_net(
    recipe: Recipe,
    dataset: Any,
    dataset_key: str,
    cache_dir: Path,
    *,
    fit: Callable[[torch.Tensor, torch.Tensor], dict[str, Any]],
    restore: Callable[[dict[str, Any], Path], FeatureNet],
    fallback: Callable[[], FeatureNet],
    what: str = "the metrics' classifier",
) -> FeatureNet:
    """The trained classifier of ``dataset`` (from memory, the cache, or trained now with
    ``fit(x, y)`` and cached), made ready by ``restore(state, path)``; ``fallback()`` when
    the dataset has too few labels. ``what`` names the network in log messages."""
    path = cache_path(cache_dir, recipe, dataset_key)
    memo = str(path)
    if memo in _LOADED:
        return _LOADED[memo]
    state = load(path, recipe, dataset_key, what)
    if state is None:
        x, y = labelled_data(dataset, recipe)
        if x is None or y is None:
            _LOADED[memo] = fallback()
            return _LOADED[memo]
        state = fit(x, y)
        try:
            save_checkpoint(state, path)
            logger.info("trained %s (held-out accuracy %.3f); cached in %s", what, state["accuracy"], path)
        except OSError as exc:  # a full or read-only cache costs the training next time, nothing more
            logger.warning("cannot cache %s in %s (%s); it is trained again next time", what, path,
                           getattr(exc, "strerror", None) or exc)
    _LOADED[memo] = restore(state, path)
    return _LOADED[memo]


def labelled_data(dataset: Any, recipe: Recipe) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Up to ``recipe.max_train`` labelled samples of ``dataset`` (a seeded subset when
    larger), or ``(None, None)`` when the dataset has too few labels to train on."""
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
    if len(keep) < recipe.min_labelled or len(torch.unique(y[keep])) < 2:
        return None, None
    if len(keep) > recipe.max_train:
        order = torch.randperm(len(keep), generator=torch.Generator().manual_seed(recipe.seed))
        keep = keep[order[:recipe.max_train]].sort().values
    if x is not None:
        return x[keep].float(), y[keep]
    return torch.stack([torch.as_tensor(dataset[int(i)][0]) for i in keep]).float(), y[keep]


def train(build: Callable[[int], nn.Module], x: torch.Tensor, y: torch.Tensor, recipe: Recipe, dataset_key: str,
          extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Train ``build(num_classes)`` on ``(x, y)`` (seeded, on the CPU), fix its feature
    scale, and return what the cache file stores: plain tensors and plain data (``extra``
    too), loadable with ``weights_only=True``."""
    num_classes = int(y.max()) + 1
    rng = torch.Generator().manual_seed(recipe.seed)
    order = torch.randperm(len(x), generator=rng)
    n_holdout = max(1, int(round(recipe.holdout * len(x))))
    held, kept = order[:n_holdout], order[n_holdout:]
    steps = recipe.steps(len(kept))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        net = build(num_classes)
    optimizer = torch.optim.Adam(net.parameters(), lr=recipe.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    net.train()
    batches = torch.empty(0, dtype=torch.long)
    for _ in range(steps):
        if len(batches) < recipe.batch:
            batches = torch.cat([batches, kept[torch.randperm(len(kept), generator=rng)]])
        index, batches = batches[:recipe.batch], batches[recipe.batch:]
        loss = F.cross_entropy(net(x[index]), y[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    net.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(held), 512):
            correct += int((net(x[held[i:i + 512]]).argmax(1) == y[held[i:i + 512]]).sum())
    probe = kept[:recipe.scale_probe]
    fix_feature_scale(net, [x[probe[i:i + 512]] for i in range(0, len(probe), 512)])
    return {
        "format_version": recipe.version,
        "dataset_key": dataset_key,
        "state_dict": {k: v.detach().clone() for k, v in net.state_dict().items()},
        **dict(extra or {}),
        "num_classes": num_classes,
        "accuracy": correct / len(held),
        "train_samples": len(kept),
        "holdout_samples": len(held),
        "steps": steps,
    }


@torch.no_grad()
def fix_feature_scale(net: nn.Module, batches: list[torch.Tensor]) -> None:
    """Set ``net.feature_scale`` so that the mean squared feature over ``batches`` is 1."""
    net.feature_scale.fill_(1.0)
    squares, count = 0.0, 0
    for batch in batches:
        features = net.features_and_logits(batch)[0]
        squares += float(features.double().pow(2).sum())
        count += features.numel()
    net.feature_scale.fill_(1.0 / math.sqrt(max(squares / max(count, 1), 1e-12)))


def restore(build: Callable[[int], nn.Module], state: Mapping[str, Any]) -> nn.Module:
    """``build(num_classes)`` with the cached weights, in eval mode, without gradients."""
    net = build(int(state["num_classes"]))
    net.load_state_dict(state["state_dict"])
    return net.eval().requires_grad_(False)


def describe(state: Mapping[str, Any], recipe: Recipe, path: Path) -> dict[str, Any]:
    """The protocol entries every trained classifier reports: how it was trained, its
    held-out accuracy, and which cache file and dataset key it belongs to."""
    return {
        "trained": f"{state['steps']} Adam steps of batch {recipe.batch} on {state['train_samples']} labelled "
                   f"samples (seed {recipe.seed}, CPU)",
        "held_out_accuracy": round(float(state["accuracy"]), 4),
        "held_out_samples": state["holdout_samples"],
        "num_classes": state["num_classes"],
        "cache_key": path.stem,
        "dataset_key": state["dataset_key"],
    }


def load(path: Path, recipe: Recipe, dataset_key: str, what: str = "classifier") -> dict[str, Any] | None:
    """The cached training result, or None (absent, unreadable, or from another recipe
    version or dataset)."""
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: retrain and replace it
        logger.warning("ignoring the unreadable cache of %s, %s (%s); retraining", what, path, exc)
        return None
    if (not isinstance(state, dict) or state.get("format_version") != recipe.version
            or state.get("dataset_key") != dataset_key):
        return None
    return state
