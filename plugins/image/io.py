"""Writing image samples: one PNG per sample, a PNG grid preview, and numpy export.

Batches are canonical image batches, N×C×H×W floats in [-1, 1] (torch tensors; numpy
arrays also work). C is 1 (written as grayscale) or 3 (RGB).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from gankit.specs import DataInfo

_CHANNELS = (1, 3, 4)


def to_numpy(batch: "torch.Tensor | np.ndarray", info: "DataInfo | None" = None) -> np.ndarray:
    """float32 N×C×H×W in [0, 1] (clamped), for ``--format npy``."""
    array = _as_array(batch)
    return np.clip((array + 1.0) / 2.0, 0.0, 1.0).astype(np.float32, copy=False)


def from_numpy(array: np.ndarray, info: "DataInfo") -> "torch.Tensor":
    """Samples in ``to_numpy``'s format (float N×C×H×W in [0, 1]; also uint8 0..255, or
    N×H×W for one channel) as a canonical batch in [-1, 1]; the shape must match ``info``."""
    import torch

    from gankit.errors import GankitError

    array = np.asarray(array)
    if array.ndim == 3 and len(info.shape) == 3 and info.shape[0] == 1:
        array = array[:, None]
    if array.ndim != 4 or tuple(array.shape[1:]) != tuple(info.shape):
        raise GankitError(f"image samples must be an array N×{'×'.join(map(str, info.shape))} (N×C×H×W) "
                          f"to compare with this dataset; got shape {tuple(array.shape)}")
    if array.dtype == np.uint8:
        scaled = array.astype(np.float32) / 255.0
    elif np.issubdtype(array.dtype, np.floating):
        scaled = array.astype(np.float32)
        low, high = float(scaled.min()), float(scaled.max())
        if low < -1e-3 or high > 1 + 1e-3:
            raise GankitError(f"float image samples must lie in [0, 1] (as `gankit sample --format npy` writes); "
                              f"got values in [{low:.3g}, {high:.3g}]")
    else:
        raise GankitError(f"image samples must be float in [0, 1] or uint8; got dtype {array.dtype}")
    return torch.from_numpy(np.clip(scaled, 0.0, 1.0) * 2.0 - 1.0)


def to_uint8(batch: "torch.Tensor | np.ndarray") -> np.ndarray:
    """uint8 N×H×W×C: [-1, 1] mapped to 0..255, rounded to nearest."""
    scaled = np.rint(to_numpy(batch) * 255.0).astype(np.uint8)
    return np.ascontiguousarray(scaled.transpose(0, 2, 3, 1))


def make_grid(batch: "torch.Tensor | np.ndarray", nrow: int | None = None, padding: int = 2, pad_value: int = 0) -> np.ndarray:
    """Tile a batch into one uint8 H×W×C image, ``nrow`` images per row (default: a
    near-square grid, ``ceil(sqrt(N))``), with ``padding`` pixels of ``pad_value`` between
    and around the tiles, as ``torchvision.utils.make_grid`` lays them out."""
    images = to_uint8(batch)
    n, h, w, c = images.shape
    if n == 0:
        raise ValueError("make_grid needs at least one image")
    ncol = min(nrow or math.ceil(math.sqrt(n)), n)
    nrows = math.ceil(n / ncol)
    grid = np.full((nrows * (h + padding) + padding, ncol * (w + padding) + padding, c), pad_value, dtype=np.uint8)
    for i in range(n):
        top = padding + (i // ncol) * (h + padding)
        left = padding + (i % ncol) * (w + padding)
        grid[top : top + h, left : left + w] = images[i]
    return grid


def save_png(array: np.ndarray, path: str | Path) -> Path:
    """Save a uint8 H×W, H×W×1 (grayscale), H×W×3 (RGB) or H×W×4 (RGBA) array as PNG."""
    path = Path(path)
    if array.ndim == 3:
        if array.shape[2] not in _CHANNELS:
            raise ValueError(f"cannot save an image with {array.shape[2]} channels as PNG; use 1, 3 or 4")
        if array.shape[2] == 1:
            array = array[:, :, 0]
    elif array.ndim != 2:
        raise ValueError(f"expected an H×W or H×W×C array, got shape {array.shape}")
    Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8)).save(path, format="PNG")
    return path


def write_samples(batch: "torch.Tensor | np.ndarray", out_dir: str | Path, info: "DataInfo | None" = None, start: int = 0) -> list[Path]:
    """One PNG per sample, ``sample-{start+i:05d}.png`` in ``out_dir`` (created)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [save_png(image, out_dir / f"sample-{start + i:05d}.png") for i, image in enumerate(to_uint8(batch))]


def write_preview(batch: "torch.Tensor | np.ndarray", path: str | Path, info: "DataInfo | None" = None) -> Path:
    """A near-square PNG grid of the batch at ``path`` + ``.png`` (its folder created)."""
    path = Path(path)
    path = path.with_name(path.name + ".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_png(make_grid(batch), path)


def _as_array(batch: Any) -> np.ndarray:
    if isinstance(batch, np.ndarray):
        array = batch.astype(np.float32, copy=False)
    else:
        array = batch.detach().float().cpu().numpy()
    if array.ndim != 4:
        raise ValueError(f"expected an image batch N×C×H×W, got shape {tuple(array.shape)}")
    return array
