"""The ``shapes`` and ``mnist`` datasets. MNIST tests write their own tiny IDX files."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.errors import GankitError
from gankit.options import build_options
from gankit.plugins.image.datasets import SHAPE_CLASSES, build_mnist, build_shapes
from gankit.plugins.image.options import MNISTOptions, ShapesOptions


def check_in_memory_dataset(ds, shape, num_classes):
    x_all, y_all = ds.tensors
    assert x_all.dtype == torch.float32 and x_all.shape == (len(ds), *shape)
    assert y_all.dtype == torch.int64 and y_all.shape == (len(ds),)
    assert x_all.min() >= -1 and x_all.max() <= 1
    assert ds.info.shape == shape and ds.info.dtype == "float32"
    assert ds.info.value_range == (-1.0, 1.0) and ds.info.num_classes == num_classes
    x, y = ds[0]
    assert x.shape == shape and x.dtype == torch.float32
    assert y.dtype == torch.int64 and y.ndim == 0
    assert isinstance(ds.description, str) and ds.description


# shapes ----------------------------------------------------------------------------------

def test_shapes_default_build():
    ds = build_shapes(ShapesOptions(), None)
    assert len(ds) == 10000
    check_in_memory_dataset(ds, (1, 28, 28), 10)
    x_all, y_all = ds.tensors
    assert set(y_all.tolist()) == set(range(10)) == set(range(len(SHAPE_CLASSES)))
    assert (x_all.flatten(1) > 0).any(1).all(), "every image shows its shape"
    assert (x_all == -1).float().mean() > 0.5, "the background is -1"


def test_shapes_are_deterministic_per_seed():
    a = build_shapes(ShapesOptions(count=200, data_seed=3), None).tensors
    b = build_shapes(ShapesOptions(count=200, data_seed=3), None).tensors
    c = build_shapes(ShapesOptions(count=200, data_seed=4), None).tensors
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_shapes_classes_are_balanced_in_small_sets():
    _, y = build_shapes(ShapesOptions(count=20), None).tensors
    assert torch.bincount(y, minlength=10).tolist() == [2] * 10


def test_shapes_in_colour_keep_the_geometry():
    gray = build_shapes(ShapesOptions(count=100, size=32), None)
    rgb = build_shapes(ShapesOptions(count=100, size=32, channels=3), None)
    check_in_memory_dataset(rgb, (3, 32, 32), 10)
    assert torch.equal(gray.tensors[1], rgb.tensors[1])
    assert torch.equal((rgb.tensors[0] > -1).any(1), (gray.tensors[0] > -1)[:, 0])


def test_shapes_options_validation():
    assert build_options(ShapesOptions, {"channels": "3", "count": "50"}, what="dataset 'shapes'").channels == 3
    with pytest.raises(GankitError, match="channels"):
        build_options(ShapesOptions, {"channels": "2"}, what="dataset 'shapes'")
    with pytest.raises(ValueError, match="count"):
        ShapesOptions(count=0)
    with pytest.raises(ValueError, match="size"):
        ShapesOptions(size=4)


# mnist -----------------------------------------------------------------------------------

def write_idx(path: Path, array: np.ndarray, magic: int) -> None:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


def write_split(folder: Path, prefix: str, n: int, *, gz: bool = True, dot: bool = False, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 6, 7), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    sep = "." if dot else "-"
    ext = ".gz" if gz else ""
    write_idx(folder / f"{prefix}-images{sep}idx3-ubyte{ext}", images, 2051)
    write_idx(folder / f"{prefix}-labels{sep}idx1-ubyte{ext}", labels, 2049)
    return images, labels


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_reads_idx_files(tmp_path, gz, caplog):
    images, labels = write_split(tmp_path, "t10k", 5, gz=gz)
    with caplog.at_level(logging.INFO, logger="gankit"):
        ds = build_mnist(MNISTOptions(), tmp_path)
    check_in_memory_dataset(ds, (1, 6, 7), 10)
    x_all, y_all = ds.tensors
    torch.testing.assert_close(x_all[:, 0], torch.from_numpy(images).float() / 127.5 - 1)
    assert y_all.tolist() == labels.tolist()
    name = "t10k-images-idx3-ubyte" + (".gz" if gz else "")
    assert ds.description == f"mnist test split (5 images) from {tmp_path / name}"
    assert ds.description in caplog.text


def test_mnist_reads_the_dot_variant(tmp_path):
    write_split(tmp_path, "train", 3, gz=False, dot=True)
    assert len(build_mnist(MNISTOptions(), tmp_path)) == 3


def test_mnist_split_choice(tmp_path):
    write_split(tmp_path, "t10k", 4, seed=1)
    write_split(tmp_path, "train", 6, seed=2)
    auto = build_mnist(MNISTOptions(), tmp_path)
    assert len(auto) == 6 and "train split" in auto.description
    test = build_mnist(MNISTOptions(split="test"), tmp_path)
    assert len(test) == 4 and "test split" in test.description
    assert len(build_mnist(MNISTOptions(split="train"), tmp_path)) == 6


def test_mnist_explicit_split_must_exist(tmp_path):
    write_split(tmp_path, "t10k", 2)
    with pytest.raises(GankitError, match="train-images-idx3-ubyte"):
        build_mnist(MNISTOptions(split="train"), tmp_path)


def test_mnist_limit(tmp_path):
    write_split(tmp_path, "t10k", 5)
    options = build_options(MNISTOptions, {"limit": "2"}, what="dataset 'mnist'")
    ds = build_mnist(options, tmp_path)
    assert len(ds) == 2 and "first 2 of 5" in ds.description
    with pytest.raises(ValueError, match="limit"):
        MNISTOptions(limit=0)


def test_mnist_rejects_a_bad_magic_number(tmp_path):
    write_split(tmp_path, "t10k", 2)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros(2, np.uint8), 2049)
    with pytest.raises(GankitError, match="magic number is 2049, expected 2051"):
        build_mnist(MNISTOptions(), tmp_path)


def test_mnist_rejects_truncated_and_mismatched_files(tmp_path):
    write_split(tmp_path, "t10k", 3)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-5]))
    with pytest.raises(GankitError, match="truncated"):
        build_mnist(MNISTOptions(), tmp_path)
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(GankitError, match="cannot read"):
        build_mnist(MNISTOptions(), tmp_path)
    write_idx(path, np.zeros((2, 6, 7), np.uint8), 2051)
    with pytest.raises(GankitError, match="2 images but .* 3 labels"):
        build_mnist(MNISTOptions(), tmp_path)


def test_mnist_offline_without_data_says_how_to_get_it(tmp_path):
    with pytest.raises(GankitError, match="(?s)GANKIT_OFFLINE.*pass --data PATH"):
        build_mnist(MNISTOptions(), None)
    with pytest.raises(GankitError, match="--data .*does not exist"):
        build_mnist(MNISTOptions(), tmp_path / "missing")
    with pytest.raises(GankitError, match="t10k-images-idx3-ubyte"):
        build_mnist(MNISTOptions(), tmp_path)
