"""Writing image samples: PNG files, the grid preview and numpy export."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.plugins.image.io import make_grid, save_png, to_numpy, write_preview, write_samples
from gankit.specs import DataInfo


def random_batch(n: int, c: int, h: int, w: int) -> torch.Tensor:
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(0)) * 2 - 1


@pytest.mark.parametrize("channels, mode", [(1, "L"), (3, "RGB")])
def test_write_samples_round_trips(tmp_path, channels, mode):
    batch = random_batch(3, channels, 5, 6)
    out_dir = tmp_path / "nested" / "samples"
    paths = write_samples(batch, out_dir, DataInfo(shape=(channels, 5, 6)), 7)
    assert [p.name for p in paths] == ["sample-00007.png", "sample-00008.png", "sample-00009.png"]
    for path, sample in zip(paths, batch):
        with Image.open(path) as image:
            assert image.mode == mode and image.size == (6, 5)
            pixels = np.asarray(image, dtype=np.float64) / 255
        if channels == 1:
            pixels = pixels[None]
        else:
            pixels = pixels.transpose(2, 0, 1)
        expected = (sample.double().numpy() + 1) / 2
        assert np.abs(pixels - expected).max() <= 1 / 255 + 1e-9


def test_write_samples_defaults_to_start_zero(tmp_path):
    paths = write_samples(random_batch(2, 1, 4, 4), tmp_path, DataInfo(shape=(1, 4, 4)))
    assert [p.name for p in paths] == ["sample-00000.png", "sample-00001.png"]


def test_write_preview_is_a_near_square_grid(tmp_path):
    path = write_preview(random_batch(5, 3, 4, 6), tmp_path / "previews" / "step.0000100", DataInfo(shape=(3, 4, 6)))
    assert path == tmp_path / "previews" / "step.0000100.png"
    with Image.open(path) as image:
        assert image.mode == "RGB"
        assert image.size == (3 * (6 + 2) + 2, 2 * (4 + 2) + 2)


def test_make_grid_places_tiles_between_padding():
    batch = torch.full((4, 1, 3, 3), -1.0)
    batch[3] = 1.0
    grid = make_grid(batch, padding=2, pad_value=128)
    assert grid.shape == (2 * 5 + 2, 2 * 5 + 2, 1) and grid.dtype == np.uint8
    assert (grid[7:10, 7:10] == 255).all()
    assert (grid[2:5, 2:5] == 0).all()
    assert (grid[:2] == 128).all() and (grid[:, 5:7] == 128).all()


def test_make_grid_nrow_and_a_single_image():
    assert make_grid(random_batch(6, 1, 2, 2), nrow=6, padding=1).shape == (4, 19, 1)
    assert make_grid(random_batch(1, 3, 2, 2), padding=0).shape == (2, 2, 3)


def test_to_numpy_clamps_to_unit_range():
    batch = torch.linspace(-3, 3, 2 * 3 * 4 * 4).view(2, 3, 4, 4)
    array = to_numpy(batch.to(torch.bfloat16), DataInfo(shape=(3, 4, 4)))
    assert array.shape == (2, 3, 4, 4) and array.dtype == np.float32
    assert array.min() == 0.0 and array.max() == 1.0
    mid = to_numpy(torch.zeros(1, 1, 1, 1), DataInfo(shape=(1, 1, 1)))
    assert mid.item() == pytest.approx(0.5)


def test_save_png_rejects_unsupported_channels(tmp_path):
    with pytest.raises(ValueError, match="channels"):
        save_png(np.zeros((4, 4, 2), np.uint8), tmp_path / "x.png")
    assert save_png(np.zeros((4, 4), np.uint8), tmp_path / "gray.png").is_file()
