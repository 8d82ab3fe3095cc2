"""The datasets: points drawn from a mixture of equal-weight 2-D Gaussians.

``ring8`` puts 8 modes on a circle (Metz et al. 2017, "Unrolled GANs": radius 2, std 0.02);
``grid25`` puts 25 on a 5×5 grid (Srivastava et al. 2017, VEEGAN; Lin et al. 2018,
PacGAN: spacing 2, std 0.05). A GAN that collapses covers a few modes, or puts samples
between them; the metrics in :mod:`gankit_toy2d.metrics` count both.

Each point is labelled with its mode's index, and the mode centres and std travel in
``DataInfo.extra`` so the metrics and the scatter plot know where the modes are.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from gankit.specs import DataInfo

from .options import GridOptions, RingOptions


def ring_modes(radius: float = 2.0, count: int = 8) -> np.ndarray:
    angles = 2 * math.pi * np.arange(count) / count
    return np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1)


def grid_modes(spacing: float = 2.0, side: int = 5) -> np.ndarray:
    ticks = (np.arange(side) - (side - 1) / 2) * spacing
    xs, ys = np.meshgrid(ticks, ticks, indexing="xy")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


class Mixture(Dataset):
    """``count`` points, spread evenly over the modes (in random order), with ``tensors``
    so the engine batches by indexing."""

    def __init__(self, name: str, modes: np.ndarray, std: float, count: int, seed: int, layout: str):
        rng = np.random.default_rng(seed)
        labels = rng.permutation(np.arange(count) % len(modes))
        points = modes[labels] + rng.normal(0.0, std, size=(count, 2))
        self.tensors = (torch.from_numpy(points.astype(np.float32)), torch.from_numpy(labels.astype(np.int64)))
        self.info = DataInfo(
            shape=(2,),
            dtype="float32",
            value_range=None,  # Gaussian tails are unbounded
            num_classes=len(modes),
            extra={"mixture": name, "modes": modes.round(6).tolist(), "std": std},
        )
        self.description = f"{count} points from {len(modes)} Gaussians (std {std}) {layout}"

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.tensors[0][index], self.tensors[1][index]


def build_ring(options: RingOptions, data_path: Path | None = None) -> Mixture:
    """``DatasetSpec.build`` of ``ring8``."""
    return Mixture("ring8", ring_modes(options.radius), options.std, options.count, options.data_seed,
                   f"on a circle of radius {options.radius}")


def build_grid(options: GridOptions, data_path: Path | None = None) -> Mixture:
    """``DatasetSpec.build`` of ``grid25``."""
    return Mixture("grid25", grid_modes(options.spacing), options.std, options.count, options.data_seed,
                   f"on a 5×5 grid of spacing {options.spacing}")
