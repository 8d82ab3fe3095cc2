"""Writing toy2d samples: one text file per point, and a scatter plot (drawn with Pillow,
no matplotlib) with the real modes and their 3σ circles marked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from gankit.specs import DataInfo

from .metrics import mode_stats

SIZE = 512
POINT = (31, 95, 181, 110)  # translucent blue
MODE = (214, 39, 40, 255)  # red
CIRCLE = (214, 39, 40, 120)
AXIS = (200, 200, 200, 255)


def to_numpy(batch: Any, info: DataInfo | None = None) -> np.ndarray:
    """float32 N×2, for ``--format npy``."""
    array = batch.detach().float().cpu().numpy() if hasattr(batch, "detach") else np.asarray(batch, np.float32)
    return array.astype(np.float32, copy=False)


def write_samples(batch: Any, out_dir: str | Path, info: DataInfo | None = None, start: int = 0) -> list[Path]:
    """One ``sample-{start+i:05d}.txt`` per point, holding ``x y``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, point in enumerate(to_numpy(batch)):
        path = out_dir / f"sample-{start + i:05d}.txt"
        path.write_text(" ".join(f"{v:.6f}" for v in point) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def write_preview(batch: Any, path: str | Path, info: DataInfo | None = None) -> Path:
    """A scatter plot at ``path`` + ``.png``."""
    path = Path(path)
    return scatter(to_numpy(batch), path.with_name(path.name + ".png"), info)


def scatter(points: np.ndarray, path: str | Path, info: DataInfo | None = None, *, size: int = SIZE,
            title: str | None = None) -> Path:
    """Draw ``points`` (N×2) on a white square, the mixture's modes as red crosses with
    their 3σ circles; the title gives the mode metrics when ``info`` knows the modes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = dict(info.extra) if info is not None else {}
    modes = np.asarray(extra.get("modes", np.zeros((0, 2))), dtype=np.float64).reshape(-1, 2)
    std = float(extra.get("std", 0.0))
    reach = float(np.abs(modes).max()) if len(modes) else float(np.percentile(np.abs(points), 99)) if len(points) else 1.0
    half = 1.25 * reach + 6 * std + 0.25
    scale = (size - 1) / (2 * half)

    def pixel(x: float, y: float) -> tuple[float, float]:
        return (x + half) * scale, (half - y) * scale

    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image, "RGBA")
    centre = pixel(0.0, 0.0)
    draw.line([(0, centre[1]), (size, centre[1])], fill=AXIS)
    draw.line([(centre[0], 0), (centre[0], size)], fill=AXIS)
    for x, y in modes:  # under the points, so a covered mode shows its samples
        px, py = pixel(x, y)
        r = max(3 * std * scale, 2.0)
        draw.ellipse([px - r, py - r, px + r, py + r], outline=CIRCLE)
        draw.line([(px - 6, py), (px + 6, py)], fill=MODE)
        draw.line([(px, py - 6), (px, py + 6)], fill=MODE)
    inside = np.all(np.abs(points) <= half, axis=1) if len(points) else np.zeros(0, bool)
    for x, y in points[inside]:
        px, py = pixel(x, y)
        draw.ellipse([px - 1.5, py - 1.5, px + 1.5, py + 1.5], fill=POINT)
    if title is None:
        title = f"{len(points)} samples"
        if len(modes) and len(points):
            stats = mode_stats(points, modes, std)
            title += f"; modes covered {stats['covered']:.0f}/{stats['total']:.0f}; high quality {stats['high_quality']:.0%}"
        if (~inside).sum():
            title += f"; {(~inside).sum()} off the plot"
    draw.text((6, 4), title, fill=(0, 0, 0, 255), font=_font(max(11, size // 36)))
    image.save(path, format="PNG")
    return path


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)  # Pillow's bundled FreeType font
    except (TypeError, OSError, ImportError):  # an old Pillow, or one built without FreeType
        return ImageFont.load_default()
