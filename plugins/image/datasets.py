"""The image plugin's datasets: the embedded procedural ``shapes``, and ``mnist`` and
``fashion-mnist`` from their original IDX files (downloaded into the cache, or in --data).
All live in memory as uint8 pixels (a quarter of float32's memory and copies) and are
decoded to [-1, 1] floats per batch, on the device the batch is on."""

from __future__ import annotations

import gzip
import logging
import math
import zlib
from pathlib import Path

import numpy as np
import torch
from gankit.data import InMemoryDataset

from gankit.errors import GankitError
from gankit.specs import DataInfo

from .options import MNISTOptions, ShapesOptions

logger = logging.getLogger("gankit")


class InMemoryImageDataset(InMemoryDataset):
    """Images N×C×H×W with labels int64 (N,): stored as uint8 pixels 0..255 (decoded to
    ``2 p / 255 - 1``) or as float32 already in [-1, 1]. Items, ``tensors`` and batches are
    float32 in [-1, 1], the image domain's canonical form."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, *, num_classes: int, description: str = "",
                 class_names: tuple[str, ...] = ()):
        if x.ndim != 4 or x.dtype not in (torch.uint8, torch.float32):
            raise ValueError(f"expected uint8 or float32 images N×C×H×W, got {x.dtype} {tuple(x.shape)}")
        extra = {"class_names": list(class_names)} if class_names else {}
        info = DataInfo(shape=tuple(x.shape[1:]), dtype="float32", value_range=(-1.0, 1.0),
                        num_classes=num_classes, extra=extra)
        super().__init__(x, y, info, description)

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != torch.uint8:
            return x
        return _pixel_values(x.device)[x.int()]


_PIXEL_VALUES: dict[torch.device, torch.Tensor] = {}


def _pixel_values(device: torch.device) -> torch.Tensor:
    """The float32 value of each uint8 pixel, computed on the CPU as ``p / 127.5 - 1`` so a
    pixel decodes to the same float on every device (a lookup, not arithmetic)."""
    if device not in _PIXEL_VALUES:
        values = torch.arange(256, dtype=torch.float32).div_(127.5).sub_(1.0)
        if device.type == "cuda":  # first used inside a training step, which must not wait on the GPU
            values = values.pin_memory()
        _PIXEL_VALUES[device] = values.to(device, non_blocking=True)
    return _PIXEL_VALUES[device]


def quantize(x: np.ndarray) -> np.ndarray:
    """float images in [-1, 1] as uint8 pixels (rounded to the nearest of 256 levels)."""
    return np.rint((np.clip(x, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


# shapes ----------------------------------------------------------------------------------

def build_shapes(options: ShapesOptions, data_path: Path | None = None) -> InMemoryImageDataset:
    """The ``shapes`` dataset: ``options.count`` images of ten simple shapes, drawn with a
    random position, scale and stroke width from ``options.data_seed``."""
    if data_path is not None:
        logger.warning("dataset 'shapes' is drawn in memory and ignores --data %s", data_path)
    x, y = render_shapes(options.count, options.size, options.channels, options.data_seed)
    x = quantize(x)
    kind = "grayscale" if options.channels == 1 else "RGB"
    description = (f"shapes: {options.count} procedurally drawn {options.size}x{options.size} {kind} images "
                   f"of {len(SHAPE_CLASSES)} classes (seed {options.data_seed})")
    return InMemoryImageDataset(torch.from_numpy(x), torch.from_numpy(y), num_classes=len(SHAPE_CLASSES),
                                description=description, class_names=SHAPE_CLASSES)


def render_shapes(count: int, size: int, channels: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """float32 count×channels×size×size in [-1, 1] and int64 labels.

    Each shape is a signed distance field (negative inside, in pixels); coverage
    ``clip(0.5 - d, 0, 1)`` gives a one-pixel anti-aliased edge. Classes are balanced, and
    every random number is drawn up front, so the geometry does not depend on ``channels``.
    """
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(count) % len(SHAPE_CLASSES))
    radius = rng.uniform(0.18, 0.38, count) * size
    stroke = rng.uniform(0.07, 0.14, count) * size
    room = np.maximum(size - 2 * radius - 2, 0)
    cx = radius + 1 + rng.random(count) * room
    cy = radius + 1 + rng.random(count) * room
    flip = rng.random(count) < 0.5
    colour = rng.uniform(0.25, 1.0, (count, 3))
    colour /= colour.max(axis=1, keepdims=True)
    radius, stroke, cx, cy, flip = (a[:, None, None] for a in (radius, stroke, cx, cy, flip))

    coords = np.arange(size, dtype=np.float32) + 0.5
    coverage = np.empty((count, size, size), dtype=np.float32)
    for label, sdf in enumerate(_SDFS.values()):
        idx = np.flatnonzero(labels == label)
        dx = coords[None, None, :] - cx[idx].astype(np.float32)
        dy = coords[:, None] - cy[idx].astype(np.float32)
        d = sdf(dx, dy, radius[idx].astype(np.float32), stroke[idx].astype(np.float32), flip[idx])
        coverage[idx] = np.clip(0.5 - d, 0.0, 1.0)

    if channels == 1:
        x = coverage[:, None] * 2 - 1
    else:
        x = coverage[:, None] * (2 * colour.astype(np.float32)[:, :, None, None]) - 1
    return np.ascontiguousarray(x, dtype=np.float32), labels.astype(np.int64)


def _box(dx, dy, hx, hy):
    qx, qy = np.abs(dx) - hx, np.abs(dy) - hy
    return np.hypot(np.maximum(qx, 0), np.maximum(qy, 0)) + np.minimum(np.maximum(qx, qy), 0)


def _filled_circle(dx, dy, r, w, flip):
    return np.hypot(dx, dy) - r


def _ring(dx, dy, r, w, flip):
    return np.abs(np.hypot(dx, dy) - (r - w / 2)) - w / 2


def _square_outline(dx, dy, r, w, flip):
    return np.abs(_box(dx, dy, r, r) + w / 2) - w / 2


def _filled_square(dx, dy, r, w, flip):
    return _box(dx, dy, 0.85 * r, 0.85 * r)


def _triangle(dx, dy, r, w, flip):
    root5 = np.float32(math.sqrt(5.0))
    left = (-2 * dx - dy - r) / root5
    right = (2 * dx - dy - r) / root5
    return np.maximum(np.maximum(left, right), dy - r)


def _cross(dx, dy, r, w, flip):
    return np.minimum(_box(dx, dy, r, w / 2), _box(dx, dy, w / 2, r))


def _horizontal_bar(dx, dy, r, w, flip):
    return _box(dx, dy, r, w)


def _vertical_bar(dx, dy, r, w, flip):
    return _box(dx, dy, w, r)


def _diagonal_line(dx, dy, r, w, flip):
    ux = np.float32(1 / math.sqrt(2))
    uy = np.where(flip, -ux, ux)
    reach = r * np.float32(math.sqrt(2))
    t = np.clip(dx * ux + dy * uy, -reach, reach)
    return np.hypot(dx - t * ux, dy - t * uy) - w / 2


def _two_dots(dx, dy, r, w, flip):
    dot = np.minimum(np.maximum(0.3 * r, 0.75 * w), 0.4 * r)
    offset = r - dot
    along, across = np.where(flip, dy, dx), np.where(flip, dx, dy)
    return np.minimum(np.hypot(along - offset, across), np.hypot(along + offset, across)) - dot


# Signed distance (pixels, negative inside) of each class, given offsets from the centre,
# half-extent r, stroke width w and a per-image orientation flip.
_SDFS = {
    "filled circle": _filled_circle,
    "ring": _ring,
    "square outline": _square_outline,
    "filled square": _filled_square,
    "triangle": _triangle,
    "cross": _cross,
    "horizontal bar": _horizontal_bar,
    "vertical bar": _vertical_bar,
    "diagonal line": _diagonal_line,
    "two dots": _two_dots,
}
SHAPE_CLASSES: tuple[str, ...] = tuple(_SDFS)


# mnist and fashion-mnist -----------------------------------------------------------------

_PREFIXES = {"train": "train", "test": "t10k"}
_IMAGES_MAGIC, _LABELS_MAGIC = 2051, 2049

# Mirrors are tried in order, and the SHA-256 of each gzipped file is checked after the
# download. Module-level so tests (or a site with its own mirror) can point them elsewhere.
MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
FASHION_MNIST_MIRRORS: tuple[str, ...] = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)
FASHION_MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}
MNIST_CLASSES: tuple[str, ...] = tuple(str(digit) for digit in range(10))
FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


def build_mnist(options: MNISTOptions, data_path: Path | None) -> InMemoryImageDataset:
    """The ``mnist`` dataset from the original IDX files in the folder ``data_path``, or,
    without one, from the gzipped files downloaded (checksums verified) into the cache."""
    return _build_idx("mnist", options, data_path, MNIST_MIRRORS, MNIST_SHA256, MNIST_CLASSES)


def build_fashion_mnist(options: MNISTOptions, data_path: Path | None) -> InMemoryImageDataset:
    """The ``fashion-mnist`` dataset (Zalando's, in MNIST's IDX format and file names):
    from ``data_path`` or downloaded into the cache, like :func:`build_mnist`."""
    return _build_idx("fashion-mnist", options, data_path, FASHION_MNIST_MIRRORS, FASHION_MNIST_SHA256,
                      FASHION_MNIST_CLASSES)


def _build_idx(name: str, options: MNISTOptions, data_path: Path | None, mirrors: tuple[str, ...],
               checksums: dict[str, str], class_names: tuple[str, ...]) -> InMemoryImageDataset:
    if data_path is None:
        folder = _download_idx(name, "test" if options.split == "test" else "train", mirrors, checksums)
    else:
        folder = _check_folder(name, data_path)
    split = _choose_split(name, folder, options.split)
    images_path = _find(folder, split, "images")
    labels_path = _find(folder, split, "labels")
    assert images_path is not None and labels_path is not None
    images = read_idx(images_path, _IMAGES_MAGIC, "images")
    labels = read_idx(labels_path, _LABELS_MAGIC, "labels")
    if images.ndim != 3 or labels.ndim != 1:
        raise GankitError(f"{images_path}: expected N×H×W images and N labels, got {images.shape} and {labels.shape}")
    if images.shape[0] != labels.shape[0]:
        raise GankitError(f"{images_path} holds {images.shape[0]} images but {labels_path} holds "
                          f"{labels.shape[0]} labels; the two files must come from the same split")
    if labels.size and labels.max() >= len(class_names):
        raise GankitError(f"{labels_path}: labels must be 0-{len(class_names) - 1}, found {int(labels.max())}")
    total = images.shape[0]
    if options.limit is not None:
        images, labels = images[: options.limit], labels[: options.limit]
    count = f"first {images.shape[0]} of {total}" if images.shape[0] < total else f"{total}"
    description = f"{name} {split} split ({count} images) from {images_path}"
    logger.info(description)
    x = torch.from_numpy(images.copy()).unsqueeze(1)  # a writable copy: the file's buffer is read-only
    y = torch.from_numpy(labels.astype(np.int64))
    return InMemoryImageDataset(x, y, num_classes=len(class_names), description=description,
                                class_names=class_names)


def _download_idx(name: str, split: str, mirrors: tuple[str, ...], checksums: dict[str, str]) -> Path:
    """The cache folder holding ``split``'s two gzipped files, downloaded if missing."""
    from gankit.cache import cache_dir
    from gankit.download import download

    folder = cache_dir("datasets", name)
    prefix = _PREFIXES[split]
    files = [f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"]
    hint = (f"fetch {files[0]} and {files[1]} by hand (from any of those mirrors) into one folder and "
            f"pass --data PATH to that folder")
    for file in files:
        download([mirror.rstrip("/") + "/" + file for mirror in mirrors], folder / file, checksums[file], hint=hint)
    return folder


def _expected_files(split: str) -> str:
    prefix = _PREFIXES[split]
    return f"{prefix}-images-idx3-ubyte[.gz] and {prefix}-labels-idx1-ubyte[.gz]"


def _check_folder(name: str, data_path: Path) -> Path:
    hint = f"pass --data PATH to the folder holding {_expected_files('test')} (or the train-* files)"
    folder = Path(data_path).expanduser()
    if not folder.exists():
        raise GankitError(f"dataset {name!r}: --data {folder} does not exist; {hint}, or leave --data out "
                          f"to download the files")
    if not folder.is_dir():
        raise GankitError(f"dataset {name!r}: --data {folder} is a file; pass the folder that holds the IDX files")
    return folder


def _choose_split(name: str, folder: Path, wanted: str) -> str:
    def complete(split: str) -> bool:
        return _find(folder, split, "images") is not None and _find(folder, split, "labels") is not None

    if wanted != "auto":
        if not complete(wanted):
            raise GankitError(f"dataset {name!r}: no {wanted} split in {folder}: looked for {_expected_files(wanted)}")
        return wanted
    for split in ("train", "test"):
        if complete(split):
            return split
    raise GankitError(f"dataset {name!r} found no IDX files in {folder}: looked for {_expected_files('train')} "
                      f"(train split) or {_expected_files('test')} (test split)")


def _find(folder: Path, split: str, kind: str) -> Path | None:
    prefix, dims = _PREFIXES[split], 3 if kind == "images" else 1
    for stem in (f"{prefix}-{kind}-idx{dims}-ubyte", f"{prefix}-{kind}.idx{dims}-ubyte"):
        for name in (stem + ".gz", stem):
            if (folder / name).is_file():
                return folder / name
    return None


def read_idx(path: Path, magic: int, what: str) -> np.ndarray:
    """The uint8 array of an IDX file (gzipped when its name ends in .gz), checking the
    magic number and that the data fills the dimensions the header states."""
    try:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise GankitError(f"cannot read MNIST {what} file {path}: {exc}; download it again") from None
    found = int.from_bytes(data[:4], "big") if len(data) >= 4 else None
    if found != magic:
        raise GankitError(f"{path} is not an MNIST {what} file: its magic number is {found}, expected {magic}; "
                          f"check the file names, or download the files again")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise GankitError(f"{path} is truncated: its header is incomplete; download it again")
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if len(data) - header != math.prod(dims):
        raise GankitError(f"{path} is truncated or corrupt: its header promises {math.prod(dims)} bytes of "
                          f"{what} {dims}, it holds {len(data) - header}; download it again")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)
