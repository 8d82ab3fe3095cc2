"""mnist / fashion-mnist downloads, cifar10 and folder, with tiny fake files: IDX files,
a CIFAR tarball pickled the way Python 2 wrote the real one, generated images. Downloads
come from a local HTTP server (tests/local_http.py); GANKIT_OFFLINE is on otherwise."""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import os
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from local_http import serve
from PIL import Image

from gankit.errors import GankitError
from gankit.options import build_options
from gankit.plugins.image import cifar, datasets
from gankit.plugins.image.cifar import CIFAR10_CLASSES, build_cifar10, safe_unpickle
from gankit.plugins.image.datasets import FASHION_MNIST_CLASSES, build_fashion_mnist, build_mnist
from gankit.plugins.image.folder import build_folder
from gankit.plugins.image.options import CIFAR10Options, FashionMNISTOptions, FolderOptions, MNISTOptions


@pytest.fixture(autouse=True)
def _offline_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GANKIT_OFFLINE", "1")
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")


def check_dataset(ds, shape, num_classes):
    x_all, y_all = ds.tensors
    assert x_all.dtype == torch.float32 and x_all.shape == (len(ds), *shape)
    assert y_all.dtype == torch.int64 and y_all.shape == (len(ds),)
    assert x_all.min() >= -1 and x_all.max() <= 1
    assert ds.info.shape == shape and ds.info.num_classes == num_classes
    assert ds.info.value_range == (-1.0, 1.0)
    assert isinstance(ds.description, str) and ds.description


# mnist and fashion-mnist -------------------------------------------------------------------

def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def idx_files(n_train: int = 6, n_test: int = 3, seed: int = 0) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    files = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        files[f"{prefix}-images-idx3-ubyte.gz"] = idx_bytes(rng.integers(0, 256, (n, 28, 28)), 2051)
        files[f"{prefix}-labels-idx1-ubyte.gz"] = idx_bytes(rng.integers(0, 10, n), 2049)
    return files


def sha256s(files: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}


def test_mnist_downloads_into_the_cache_then_works_offline(monkeypatch, tmp_path):
    files = idx_files()
    with serve(files) as server:
        monkeypatch.setattr(datasets, "MNIST_MIRRORS", (server.base("fail"), server.base("range")))
        monkeypatch.setattr(datasets, "MNIST_SHA256", sha256s(files))
        monkeypatch.delenv("GANKIT_OFFLINE")
        ds = build_mnist(MNISTOptions(), None)
        fetched = sorted(name for mode, name, _ in server.requests if mode == "range")
    check_dataset(ds, (1, 28, 28), 10)
    cached = tmp_path / "cache" / "datasets" / "mnist"
    assert fetched == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"], "only the split asked for"
    assert ds.description == f"mnist train split (6 images) from {cached / 'train-images-idx3-ubyte.gz'}"
    assert ds.info.extra["class_names"] == [str(d) for d in range(10)]
    monkeypatch.setenv("GANKIT_OFFLINE", "1")
    again = build_mnist(MNISTOptions(limit=4), None)  # from the cache, no network
    assert len(again) == 4 and torch.equal(again.tensors[0], ds.tensors[0][:4])
    with pytest.raises(GankitError, match="GANKIT_OFFLINE.*pass --data PATH"):
        build_mnist(MNISTOptions(split="test"), None)


def test_mnist_test_split_downloads_the_test_files(monkeypatch):
    files = idx_files()
    with serve(files) as server:
        monkeypatch.setattr(datasets, "MNIST_MIRRORS", (server.base("range"),))
        monkeypatch.setattr(datasets, "MNIST_SHA256", sha256s(files))
        monkeypatch.delenv("GANKIT_OFFLINE")
        ds = build_mnist(MNISTOptions(split="test"), None)
    assert len(ds) == 3 and "mnist test split" in ds.description


def test_mnist_download_checks_the_checksums(monkeypatch):
    files = idx_files()
    checksums = sha256s(files)
    checksums["train-labels-idx1-ubyte.gz"] = "f" * 64
    with serve(files) as server:
        monkeypatch.setattr(datasets, "MNIST_MIRRORS", (server.base("range"),))
        monkeypatch.setattr(datasets, "MNIST_SHA256", checksums)
        monkeypatch.delenv("GANKIT_OFFLINE")
        with pytest.raises(GankitError, match="checksum mismatch .*train-labels-idx1-ubyte.gz: expected SHA-256 f{64}"):
            build_mnist(MNISTOptions(), None)


def test_mnist_offline_without_data_says_what_to_do():
    with pytest.raises(GankitError) as caught:
        build_mnist(MNISTOptions(), None)
    message = str(caught.value)
    assert "GANKIT_OFFLINE" in message and "train-images-idx3-ubyte.gz" in message
    assert "pass --data PATH" in message and datasets.MNIST_MIRRORS[0] in message


def test_fashion_mnist_from_data(tmp_path):
    for name, data in idx_files(n_train=4).items():
        (tmp_path / name).write_bytes(data)
    ds = build_fashion_mnist(FashionMNISTOptions(), tmp_path)
    check_dataset(ds, (1, 28, 28), 10)
    assert ds.info.extra["class_names"] == list(FASHION_MNIST_CLASSES)
    assert FASHION_MNIST_CLASSES[0] == "T-shirt/top" and FASHION_MNIST_CLASSES[9] == "Ankle boot"
    assert ds.description.startswith("fashion-mnist train split (4 images) from ")
    test = build_fashion_mnist(FashionMNISTOptions(split="test"), tmp_path)
    assert len(test) == 3
    with pytest.raises(GankitError, match="dataset 'fashion-mnist': --data .*does not exist"):
        build_fashion_mnist(FashionMNISTOptions(), tmp_path / "missing")


def test_fashion_mnist_downloads_into_its_own_cache_folder(monkeypatch, tmp_path):
    files = idx_files(seed=1)
    with serve(files) as server:
        monkeypatch.setattr(datasets, "FASHION_MNIST_MIRRORS", (server.base("range"),))
        monkeypatch.setattr(datasets, "FASHION_MNIST_SHA256", sha256s(files))
        monkeypatch.delenv("GANKIT_OFFLINE")
        ds = build_fashion_mnist(FashionMNISTOptions(), None)
    assert len(ds) == 6
    assert (tmp_path / "cache" / "datasets" / "fashion-mnist" / "train-images-idx3-ubyte.gz").is_file()
    assert not (tmp_path / "cache" / "datasets" / "mnist" / "train-images-idx3-ubyte.gz").exists()


def test_the_real_checksums_are_well_formed():
    for table in (datasets.MNIST_SHA256, datasets.FASHION_MNIST_SHA256):
        assert sorted(table) == sorted(idx_files())
        assert all(len(h) == 64 and int(h, 16) >= 0 for h in table.values())
    assert len(cifar.CIFAR10_SHA256) == 64 and cifar.CIFAR10_URLS[0].endswith("/cifar-10-python.tar.gz")


# cifar10 -----------------------------------------------------------------------------------

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # numpy 1.x
    from numpy.core.multiarray import _reconstruct


class Py2StylePickler(pickle._Pickler):
    """Writes what Python 2's cPickle wrote for CIFAR-10: protocol 2, every string as a
    Python 2 ``str`` (SHORT_BINSTRING/BINSTRING), numpy's old ``numpy.core`` module path."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj):
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str

    def save_global(self, obj, name=None):
        if obj is _reconstruct:
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
            return
        super().save_global(obj, name)


def py2_pickle(obj) -> bytes:
    buffer = io.BytesIO()
    Py2StylePickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def cifar_members(per_batch: int = 3, seed: int = 0) -> tuple[dict[str, bytes], np.ndarray, np.ndarray]:
    """The batch files (name -> bytes) and all train+test images (uint8 N×3072) and labels."""
    rng = np.random.default_rng(seed)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    members, images, labels = {}, [], []
    for name in names:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        label_list = [int(v) for v in rng.integers(0, 10, per_batch)]
        members[name] = py2_pickle({"batch_label": f"batch {name}", "labels": label_list, "data": data,
                                    "filenames": [f"img_{i}.png" for i in range(per_batch)]})
        images.append(data)
        labels += label_list
    members["batches.meta"] = py2_pickle({"num_cases_per_batch": per_batch, "label_names": list(CIFAR10_CLASSES),
                                          "num_vis": 3072})
    return members, np.concatenate(images), np.array(labels)


def write_tarball(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def write_folder(folder: Path, members: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in members.items():
        (folder / name).write_bytes(data)
    return folder


def test_cifar10_from_the_tarball(tmp_path):
    members, images, labels = cifar_members()
    tarball = write_tarball(tmp_path / "cifar-10-python.tar.gz", members)
    ds = build_cifar10(CIFAR10Options(), tarball)
    check_dataset(ds, (3, 32, 32), 10)
    assert len(ds) == 15
    x_all, y_all = ds.tensors
    expected = torch.from_numpy(images[:15].reshape(15, 3, 32, 32)).float() / 127.5 - 1
    assert torch.allclose(x_all, expected, atol=1e-6)
    assert y_all.tolist() == labels[:15].tolist()
    # red plane first, row-major: pixel (h=1, w=2) of the green channel is byte 1024 + 34
    assert x_all[0, 1, 1, 2].item() == pytest.approx(images[0, 1024 + 34] / 127.5 - 1, abs=1e-6)
    assert ds.info.extra["class_names"] == list(CIFAR10_CLASSES)
    assert ds.description == f"cifar10 train split (15 images, 5 batches) from {tarball}"


def test_cifar10_test_split_and_limit(tmp_path):
    members, images, labels = cifar_members()
    tarball = write_tarball(tmp_path / "c.tgz", members)
    test = build_cifar10(CIFAR10Options(split="test"), tarball)
    assert len(test) == 3 and test.tensors[1].tolist() == labels[15:].tolist()
    assert "test split (3 images, test_batch)" in test.description
    limited = build_cifar10(build_options(CIFAR10Options, {"limit": "4"}, what="dataset 'cifar10'"), tarball)
    assert len(limited) == 4 and "first 4 of 15" in limited.description


def test_cifar10_from_folders(tmp_path):
    members, images, _ = cifar_members()
    extracted = write_folder(tmp_path / "parent" / "cifar-10-batches-py", members)
    direct = build_cifar10(CIFAR10Options(), extracted)
    via_parent = build_cifar10(CIFAR10Options(), tmp_path / "parent")
    assert torch.equal(direct.tensors[0], via_parent.tensors[0])
    assert f"from {extracted}" in via_parent.description
    (tmp_path / "holder").mkdir()
    write_tarball(tmp_path / "holder" / "cifar-10-python.tar.gz", members)
    via_tar_folder = build_cifar10(CIFAR10Options(), tmp_path / "holder")
    assert torch.equal(via_tar_folder.tensors[0], direct.tensors[0])


def test_cifar10_without_meta_uses_the_known_class_names(tmp_path):
    members, _, _ = cifar_members()
    del members["batches.meta"]
    ds = build_cifar10(CIFAR10Options(split="test"), write_folder(tmp_path / "b", members))
    assert ds.info.extra["class_names"] == list(CIFAR10_CLASSES)


def test_cifar10_downloads_the_tarball(monkeypatch, tmp_path):
    members, _, _ = cifar_members()
    data = write_tarball(tmp_path / "src.tar.gz", members).read_bytes()
    with serve({"cifar-10-python.tar.gz": data}) as server:
        urls = (server.url("fail", "x"), server.url("plain", "cifar-10-python.tar.gz"))
        monkeypatch.setattr(cifar, "CIFAR10_URLS", urls)
        monkeypatch.setattr(cifar, "CIFAR10_SHA256", hashlib.sha256(data).hexdigest())
        monkeypatch.delenv("GANKIT_OFFLINE")
        ds = build_cifar10(CIFAR10Options(split="test"), None)
    cached = tmp_path / "cache" / "datasets" / "cifar10" / "cifar-10-python.tar.gz"
    assert cached.read_bytes() == data and f"from {cached}" in ds.description
    monkeypatch.setenv("GANKIT_OFFLINE", "1")
    assert len(build_cifar10(CIFAR10Options(), None)) == 15


def test_cifar10_offline_error_explains_data():
    with pytest.raises(GankitError, match="GANKIT_OFFLINE.*cifar-10-python.tar.gz.*--data PATH"):
        build_cifar10(CIFAR10Options(), None)


def test_cifar10_bad_paths(tmp_path):
    with pytest.raises(GankitError, match="does not exist"):
        build_cifar10(CIFAR10Options(), tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(GankitError, match="not a tar archive"):
        build_cifar10(CIFAR10Options(), tmp_path / "notes.txt")
    with pytest.raises(GankitError, match="found no CIFAR-10 files .*data_batch_1..5"):
        build_cifar10(CIFAR10Options(), tmp_path)
    members, _, _ = cifar_members()
    del members["data_batch_3"]
    folder = write_folder(tmp_path / "partial", members)
    with pytest.raises(GankitError, match="lacks data_batch_3"):
        build_cifar10(CIFAR10Options(), folder)
    assert len(build_cifar10(CIFAR10Options(split="test"), folder)) == 3
    with pytest.raises(GankitError, match="lacks data_batch_3"):
        build_cifar10(CIFAR10Options(), write_tarball(tmp_path / "partial.tar.gz", members))
    damaged = tmp_path / "damaged.tar.gz"
    damaged.write_bytes(write_tarball(tmp_path / "whole.tar.gz", cifar_members()[0]).read_bytes()[:3000])
    with pytest.raises(GankitError, match="damaged"):
        build_cifar10(CIFAR10Options(), damaged)


class _RunsACommand:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _CallsEval:
    def __reduce__(self):
        return (eval, ("1 + 1",))


def test_the_unpickler_refuses_code(tmp_path):
    marker = tmp_path / "pwned"
    evil = pickle.dumps({"data": _RunsACommand(marker), "labels": []}, protocol=2)
    with pytest.raises(GankitError, match=r"refusing to load (posix|nt|os)\.system"):
        safe_unpickle(evil, "evil")
    assert not marker.exists()
    with pytest.raises(GankitError, match="refusing to load builtins.eval"):
        safe_unpickle(pickle.dumps(_CallsEval()), "evil")
    # a real pickle would run it: the test's pickle is live
    assert pickle.loads(pickle.dumps(_CallsEval())) == 2


def test_an_evil_batch_in_a_tarball_is_refused(tmp_path):
    members, _, _ = cifar_members()
    marker = tmp_path / "pwned"
    members["test_batch"] = pickle.dumps(_RunsACommand(marker))
    tarball = write_tarball(tmp_path / "evil.tar.gz", members)
    with pytest.raises(GankitError, match="test_batch: not a CIFAR-10 batch that can be read safely"):
        build_cifar10(CIFAR10Options(split="test"), tarball)
    assert not marker.exists()


def test_the_unpickler_reads_plain_data_and_numpy_2_pickles():
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    for protocol in (3, 4):  # Python 3's protocol 2 pickles bytes via _codecs.encode: refused
        loaded = safe_unpickle(pickle.dumps({"a": array, "b": [1, "x", 2.5, None, True]}, protocol=protocol), "ok")
        assert np.array_equal(loaded["a"], array) and loaded["b"] == [1, "x", 2.5, None, True]


def test_batches_with_the_wrong_layout_are_refused(tmp_path):
    cases = {
        "a list": [1, 2, 3],
        "no labels": {"data": np.zeros((2, 3072), np.uint8)},
        "wrong size": {"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]},
        "wrong dtype": {"data": np.zeros((2, 3072), np.float32), "labels": [0, 1]},
        "label count": {"data": np.zeros((2, 3072), np.uint8), "labels": [0]},
        "label range": {"data": np.zeros((2, 3072), np.uint8), "labels": [0, 10]},
    }
    for what, batch in cases.items():
        members = {"test_batch": py2_pickle(batch)}
        with pytest.raises(GankitError, match="test_batch"):
            build_cifar10(CIFAR10Options(split="test"), write_folder(tmp_path / what, members))


# folder ------------------------------------------------------------------------------------

def save(path: Path, image: Image.Image, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **kwargs)
    return path


def three_stripes(width: int = 40, height: int = 20) -> Image.Image:
    """Red left quarter, green middle half, blue right quarter."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, : width // 4] = (255, 0, 0)
    pixels[:, width // 4: 3 * width // 4] = (0, 255, 0)
    pixels[:, 3 * width // 4:] = (0, 0, 255)
    return Image.fromarray(pixels)


def make_image_tree(root: Path) -> None:
    save(root / "dogs" / "a.png", three_stripes())
    save(root / "dogs" / "b.JPG", Image.new("RGB", (30, 50), (200, 10, 10)), quality=95)
    save(root / "dogs" / "deeper" / "c.bmp", Image.new("L", (16, 16), 128))
    save(root / "cats" / "d.gif", Image.new("P", (12, 12), 3))
    save(root / "cats" / "e.webp", Image.new("RGBA", (24, 24), (0, 0, 255, 128)))
    save(root / "cats" / "f.png", Image.fromarray(np.full((9, 9), 40000, np.uint16)))
    save(root / "cats" / ".hidden.png", Image.new("RGB", (8, 8)))
    (root / "cats" / "notes.txt").write_text("not an image")


def test_folder_reads_labelled_images(tmp_path):
    make_image_tree(tmp_path)
    (tmp_path / "cats" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    ds = build_folder(FolderOptions(size=8), tmp_path)
    check_dataset(ds, (3, 8, 8), 2)
    assert ds.info.extra["class_names"] == ["cats", "dogs"]
    # sorted paths: cats/d.gif, cats/e.webp, cats/f.png, dogs/a.png, dogs/b.JPG, dogs/deeper/c.bmp
    assert ds.tensors[1].tolist() == [0, 0, 0, 1, 1, 1]
    assert ds.description == (f"folder: 6 of 7 images from {tmp_path} as 8x8 RGB (centre), "
                              f"2 classes from sub-folders, 1 unreadable skipped")
    x = ds.tensors[0]
    green = torch.tensor([-1.0, 1.0, -1.0]).view(3, 1, 1)
    # the middle half of a 40×20 image; resampling near the crop's edges sees a little of the stripes beside it
    assert torch.allclose(x[3, :, :, 2:6], green.expand(3, 8, 4), atol=0.05), "the centre crop is the green middle"
    assert (x[3, 1] > 0.8).all() and (x[3, 0] < -0.8).all() and (x[3, 2] < -0.8).all()
    assert torch.allclose(x[4, 0], torch.full((8, 8), 200 / 127.5 - 1), atol=0.05)
    assert torch.allclose(x[5], torch.full((3, 8, 8), 128 / 127.5 - 1), atol=1e-6)
    assert torch.allclose(x[2], torch.full((3, 8, 8), (40000 // 256) / 127.5 - 1), atol=0.02), "16-bit scaled"


def test_folder_warns_once_counting_unreadable_files(tmp_path, caplog):
    make_image_tree(tmp_path)
    (tmp_path / "cats" / "broken.png").write_bytes(b"garbage")
    (tmp_path / "dogs" / "cut.jpg").write_bytes((tmp_path / "dogs" / "b.JPG").read_bytes()[:200])
    with caplog.at_level(logging.WARNING, logger="gankit"):
        ds = build_folder(FolderOptions(size=8), tmp_path)
    assert len(ds) == 6
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "skipped 2 unreadable image file(s) of 8" in warnings[0].getMessage()


def test_folder_stretch_grayscale_and_limit(tmp_path):
    save(tmp_path / "x.png", three_stripes())
    ds = build_folder(FolderOptions(size=8, channels=1, crop="stretch"), tmp_path)
    check_dataset(ds, (1, 8, 8), 0)
    row = ds.tensors[0][0, 0, 4]
    assert row[0] != row[4] and row[4] != row[7], "stretching keeps all three stripes"
    save(tmp_path / "y.png", three_stripes())
    assert len(build_folder(FolderOptions(size=8, limit=1), tmp_path)) == 1


def test_folder_follows_links_but_not_in_circles(tmp_path):
    save(tmp_path / "data" / "a" / "x.png", three_stripes())
    save(tmp_path / "elsewhere" / "y.png", three_stripes())
    (tmp_path / "data" / "b").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "data" / "a" / "loop").symlink_to(tmp_path / "data")
    ds = build_folder(FolderOptions(size=4), tmp_path / "data")
    assert len(ds) == 2 and ds.info.extra["class_names"] == ["a", "b"]


def test_folder_images_outside_sub_folders_are_unlabelled(tmp_path):
    make_image_tree(tmp_path)
    save(tmp_path / "loose.png", three_stripes())
    ds = build_folder(FolderOptions(size=6), tmp_path)
    assert ds.info.num_classes == 0 and "class_names" not in ds.info.extra
    assert set(ds.tensors[1].tolist()) == {-1}
    assert "unlabelled" in ds.description


def test_folder_errors(tmp_path):
    with pytest.raises(GankitError, match="pass --data PATH to a folder"):
        build_folder(FolderOptions(), None)
    with pytest.raises(GankitError, match="does not exist"):
        build_folder(FolderOptions(), tmp_path / "missing")
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(GankitError, match="is a file"):
        build_folder(FolderOptions(), tmp_path / "file.png")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    with pytest.raises(GankitError, match=r"found no images in .*empty: looked for \*\.png, \*\.jpg"):
        build_folder(FolderOptions(), tmp_path / "empty")
    with pytest.raises(GankitError, match="none of the 1 image files .* could be read"):
        build_folder(FolderOptions(), tmp_path)


def test_folder_options_validation():
    options = build_options(FolderOptions, {"size": "32", "channels": "1", "crop": "stretch"}, what="dataset 'folder'")
    assert (options.size, options.channels, options.crop) == (32, 1, "stretch")
    with pytest.raises(GankitError, match="channels"):
        build_options(FolderOptions, {"channels": "2"}, what="dataset 'folder'")
    with pytest.raises(GankitError, match="crop"):
        build_options(FolderOptions, {"crop": "random"}, what="dataset 'folder'")
    with pytest.raises(ValueError, match="size"):
        FolderOptions(size=2)


# registration and training -----------------------------------------------------------------

def test_the_datasets_are_registered():
    from gankit.plugins import image as image_plugin

    specs = {}
    image_plugin.register_datasets(lambda spec: specs.__setitem__(spec.name, spec))
    assert {"mnist", "fashion-mnist", "cifar10", "folder"} <= set(specs)
    assert not specs["mnist"].needs_data and not specs["fashion-mnist"].needs_data
    assert not specs["cifar10"].needs_data and specs["folder"].needs_data
    assert specs["fashion-mnist"].options is FashionMNISTOptions
    assert specs["cifar10"].options is CIFAR10Options and specs["folder"].options is FolderOptions


def test_training_on_a_folder(tmp_path):
    import gankit

    for i in range(8):
        save(tmp_path / "data" / f"{i}.png", three_stripes(12 + i, 10))
    run = gankit.train("image", dataset="folder", data=str(tmp_path / "data"), size=8, steps=2, batch_size=4,
                       out=str(tmp_path / "run"), quiet=True)
    assert run.step == 2
