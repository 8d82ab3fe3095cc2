"""The mixtures, the metrics and the scatter plot, on data whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from gankit_toy2d.data import build_grid, build_ring, grid_modes, ring_modes
from gankit_toy2d.metrics import mode_stats
from gankit_toy2d.options import GridOptions, MLPOptions, RingOptions
from gankit_toy2d.plot import scatter, write_preview, write_samples


def test_ring_and_grid_geometry():
    ring = ring_modes(2.0)
    assert ring.shape == (8, 2) and np.allclose(np.linalg.norm(ring, axis=1), 2.0)
    grid = grid_modes(2.0)
    assert grid.shape == (25, 2) and set(np.round(grid[:, 0], 6)) == {-4.0, -2.0, 0.0, 2.0, 4.0}


@pytest.mark.parametrize(("build", "options", "modes"), [(build_ring, RingOptions(count=800, std=0.05), 8),
                                                          (build_grid, GridOptions(count=1000), 25)])
def test_datasets_are_balanced_labelled_and_describe_their_modes(build, options, modes):
    data = build(options)
    x, y = data.tensors
    assert x.shape == (options.count, 2) and x.dtype == torch.float32
    assert torch.bincount(y, minlength=modes).tolist() == [options.count // modes] * modes
    centres = torch.tensor(data.info.extra["modes"], dtype=torch.float32)
    assert (x - centres[y]).norm(dim=1).max() < 6 * options.std  # every point beside its own mode
    assert data.info.num_classes == modes and data.info.extra["std"] == options.std
    again = build(options)
    assert torch.equal(again.tensors[0], x)  # data_seed, not the global RNG


def test_options_reject_nonsense():
    with pytest.raises(ValueError, match="std"):
        RingOptions(std=0.0)
    with pytest.raises(ValueError, match="hidden"):
        MLPOptions(hidden=0)


def test_real_data_covers_every_mode_with_high_quality():
    data = build_grid(GridOptions(count=2500))
    stats = mode_stats(data.tensors[0], data.info.extra["modes"], data.info.extra["std"])
    assert stats["covered"] == stats["total"] == 25
    assert stats["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.01)  # P(|x| <= 3σ) in 2-D
    assert stats["kl"] < 0.01


def test_a_collapsed_generator_covers_one_mode():
    modes = ring_modes(2.0)
    rng = np.random.default_rng(0)
    stats = mode_stats(modes[3] + rng.normal(0, 0.02, (1000, 2)), modes, 0.02)
    assert stats["covered"] == 1 and stats["high_quality"] > 0.95
    assert stats["kl"] == pytest.approx(math.log(8))


def test_samples_between_the_modes_are_not_high_quality():
    modes = ring_modes(2.0)
    between = (modes + np.roll(modes, 1, axis=0)) / 2
    stats = mode_stats(np.repeat(between, 100, axis=0), modes, 0.02)
    assert stats["high_quality"] == 0.0 and stats["covered"] == 0


def test_a_mode_needs_a_quarter_of_its_share_to_count():
    modes = ring_modes(2.0)
    points = np.concatenate([np.repeat(modes[:1], 975, axis=0), np.repeat(modes[1:2], 25, axis=0)])
    assert mode_stats(points, modes, 0.02)["covered"] == 1  # 25 < ceil(0.25 / 8 * 1000) = 32
    points = np.concatenate([np.repeat(modes[:1], 960, axis=0), np.repeat(modes[1:2], 40, axis=0)])
    assert mode_stats(points, modes, 0.02)["covered"] == 2


def _pixel(size: int, half: float, x: float, y: float) -> tuple[int, int]:
    scale = (size - 1) / (2 * half)
    return round((x + half) * scale), round((half - y) * scale)


def test_scatter_plot_marks_the_modes_and_draws_the_points(tmp_path):
    data = build_ring(RingOptions(count=400))
    path = scatter(data.tensors[0].numpy(), tmp_path / "ring.png", data.info, size=256)
    image = np.asarray(Image.open(path).convert("RGB")).astype(int)
    assert image.shape == (256, 256, 3)
    half = 1.25 * 2.0 + 6 * 0.02 + 0.25
    for x, y in data.info.extra["modes"]:
        px, py = _pixel(256, half, x, y)
        patch = image[py - 6:py + 7, px - 6:px + 7]
        assert ((patch[..., 0] > 150) & (patch[..., 2] < 100)).any(), "a red cross at each mode"
    blue = (image[..., 2] > image[..., 0] + 40)
    assert blue.sum() > 50, "the points are drawn"


def test_native_samples_and_preview(tmp_path):
    data = build_ring(RingOptions(count=16))
    points = data.tensors[0][:3]
    paths = write_samples(points, tmp_path / "native", data.info, start=4)
    assert [p.name for p in paths] == ["sample-00004.txt", "sample-00005.txt", "sample-00006.txt"]
    assert np.allclose(np.loadtxt(paths[1]), points[1].numpy(), atol=1e-5)
    preview = write_preview(points, tmp_path / "samples" / "step-0000010", data.info)
    assert preview.name == "step-0000010.png" and Image.open(preview).size == (512, 512)
