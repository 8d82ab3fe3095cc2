"""A small MNIST classifier that judges generated digits: which classes appear, how
confidently, and an Inception-Score-style number. Used to choose and check the `mlp`
defaults (benchmarks/mlp_recipe.py). Trained on the data it is given and cached beside
this file's output folder; not a substitute for the image metrics of `gankit evaluate`."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn


def read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_mnist(folder: Path) -> tuple[torch.Tensor, torch.Tensor]:
    images = read_idx(folder / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(folder / "t10k-labels-idx1-ubyte.gz")
    x = torch.from_numpy(images.astype(np.float32) / 127.5 - 1).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))


def classifier() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10),
    )


def train_judge(folder: Path, cache: Path, epochs: int = 3) -> nn.Module:
    net = classifier()
    if cache.exists():
        net.load_state_dict(torch.load(cache, weights_only=True))
        return net.eval()
    x, y = load_mnist(folder)
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(x), generator=g)
    train_idx, test_idx = perm[:9000], perm[9000:]
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    for _ in range(epochs):
        for batch in train_idx[torch.randperm(len(train_idx), generator=g)].split(128):
            loss = nn.functional.cross_entropy(net(x[batch]), y[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        accuracy = (net(x[test_idx]).argmax(1) == y[test_idx]).float().mean().item()
    print(f"judge accuracy on 1000 held-out digits: {accuracy:.3f}")
    cache.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), cache)
    return net


@torch.no_grad()
def judge(net: nn.Module, samples: torch.Tensor) -> dict[str, float]:
    """samples: N×1×28×28 in [-1, 1]."""
    probs = net(samples).softmax(1)
    marginal = probs.mean(0)
    kl = (probs * (probs.clamp_min(1e-12).log() - marginal.clamp_min(1e-12).log())).sum(1).mean()
    counts = torch.bincount(probs.argmax(1), minlength=10)
    return {
        "inception_score": math.exp(kl.item()),
        "confidence": probs.max(1).values.mean().item(),
        "classes_seen": int((counts >= max(1, len(samples) // 100)).sum()),
        "min_class_fraction": counts.min().item() / len(samples),
        "pixel_std_across_samples": samples.std(0).mean().item(),
    }
