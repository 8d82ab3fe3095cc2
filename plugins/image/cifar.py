"""The ``cifar10`` dataset from the python-version tarball (``cifar-10-python.tar.gz``).

The batches in it are Python pickles of dicts holding numpy arrays. Unpickling runs
whatever callables a pickle names, so they are read with :class:`RestrictedUnpickler`,
which resolves only the numpy names an array needs and refuses everything else; the
result is then checked to have the documented layout. The tarball is read in memory
(never extracted), so member paths cannot escape anywhere.
"""

from __future__ import annotations

import io
import logging
import pickle
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gankit.errors import GankitError

from .datasets import InMemoryImageDataset
from .options import CIFAR10Options

logger = logging.getLogger("gankit")

# The download, tried in order and verified against the SHA-256 of the official tarball.
# Module-level so tests (or a site with its own mirror) can point them elsewhere.
CIFAR10_URLS: tuple[str, ...] = ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",)
CIFAR10_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
CIFAR10_TARBALL = "cifar-10-python.tar.gz"
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
_BATCHES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
_META = "batches.meta"
_PIXELS = 3 * 32 * 32


def build_cifar10(options: CIFAR10Options, data_path: Path | None) -> InMemoryImageDataset:
    """The ``cifar10`` dataset: ``options.split``'s batches as 3×32×32 images in [-1, 1]
    with their labels, from ``data_path`` (the tarball, the extracted folder, or a folder
    holding either) or from the tarball downloaded into the cache."""
    if data_path is None:
        source = _download()
    else:
        source = _locate(Path(data_path).expanduser())
    wanted = _BATCHES[options.split]
    raw = _read_tarball(source, wanted) if source.is_file() else _read_folder(source, wanted)
    parts = [_parse_batch(raw[name], f"{source}: {name}") for name in wanted]
    images = np.concatenate([images for images, _ in parts])
    labels = np.concatenate([labels for _, labels in parts])
    class_names = _class_names(raw.get(_META), f"{source}: {_META}")
    total = images.shape[0]
    if options.limit is not None:
        images, labels = images[: options.limit], labels[: options.limit]
    count = f"first {images.shape[0]} of {total}" if images.shape[0] < total else f"{total}"
    batches = f"{len(wanted)} batches" if len(wanted) > 1 else wanted[0]
    description = f"cifar10 {options.split} split ({count} images, {batches}) from {source}"
    logger.info(description)
    x = torch.from_numpy(np.ascontiguousarray(images))  # uint8, decoded per batch
    y = torch.from_numpy(labels)
    return InMemoryImageDataset(x, y, num_classes=len(class_names), description=description,
                                class_names=class_names)


# Safe unpickling ---------------------------------------------------------------------------

def _numpy_names() -> dict[tuple[str, str], Any]:
    try:
        from numpy._core.multiarray import _reconstruct  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return {
        # Pickles written by numpy 1.x and Python 2 (the CIFAR batches) name the old path,
        # numpy 2 the new one; both are the same function.
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds plain data and numpy arrays, and nothing else.

    ``find_class`` resolves only ``numpy.ndarray``, ``numpy.dtype`` and numpy's array
    ``_reconstruct``: every other global (``os.system``, ``builtins.eval``, ...) raises
    :class:`pickle.UnpicklingError` before anything is called.
    """

    def find_class(self, module: str, name: str) -> Any:
        allowed = _numpy_names()
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are allowed")
        return allowed[(module, name)]


def safe_unpickle(data: bytes, where: str) -> Any:
    """The object pickled in ``data``, read with :class:`RestrictedUnpickler`
    (Python 2 strings decoded as latin-1, as numpy's arrays need). ``where`` names the
    source in the :class:`GankitError` raised for a refused or broken pickle."""
    try:
        return RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
    except pickle.UnpicklingError as exc:
        raise GankitError(f"{where}: not a CIFAR-10 batch that can be read safely ({exc})") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, MemoryError) as exc:
        raise GankitError(f"{where} is damaged ({type(exc).__name__}: {exc}); download it again") from None


def _parse_batch(data: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """uint8 N×3×32×32 images and int64 labels from one pickled batch, checked."""
    batch = safe_unpickle(data, where)
    if not isinstance(batch, dict) or "data" not in batch or "labels" not in batch:
        raise GankitError(f"{where}: expected a dict with 'data' and 'labels', the layout of CIFAR-10's batches")
    images, labels = batch["data"], batch["labels"]
    if not (isinstance(images, np.ndarray) and images.dtype == np.uint8 and images.ndim == 2
            and images.shape[1] == _PIXELS):
        shape = getattr(images, "shape", None)
        raise GankitError(f"{where}: 'data' must be a uint8 array of N×{_PIXELS} pixels, got "
                          f"{type(images).__name__} {getattr(images, 'dtype', '')} {shape}")
    if not (isinstance(labels, (list, np.ndarray)) and len(labels) == images.shape[0]
            and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in labels)):
        raise GankitError(f"{where}: 'labels' must be {images.shape[0]} integers, one per image")
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= len(CIFAR10_CLASSES)):
        raise GankitError(f"{where}: labels must be 0-9, found {int(labels.min())}..{int(labels.max())}")
    # Each row holds the red, then green, then blue plane, each 32×32 row-major.
    return np.ascontiguousarray(images.reshape(-1, 3, 32, 32)), labels


def _class_names(data: bytes | None, where: str) -> tuple[str, ...]:
    if data is None:
        return CIFAR10_CLASSES
    meta = safe_unpickle(data, where)
    names = meta.get("label_names") if isinstance(meta, dict) else None
    if not (isinstance(names, list) and len(names) == len(CIFAR10_CLASSES)
            and all(isinstance(n, (str, bytes)) for n in names)):
        logger.warning("%s has no list of ten label_names; using CIFAR-10's", where)
        return CIFAR10_CLASSES
    return tuple(n.decode("latin1") if isinstance(n, bytes) else n for n in names)


# Finding and reading the files -------------------------------------------------------------

def _hint() -> str:
    return (f"pass --data PATH to {CIFAR10_TARBALL} (the python version, from {CIFAR10_URLS[0]}) or to its "
            f"extracted {CIFAR10_FOLDER} folder")


def _download() -> Path:
    from gankit.cache import cache_dir
    from gankit.download import download

    target = cache_dir("datasets", "cifar10") / CIFAR10_TARBALL
    return download(CIFAR10_URLS, target, CIFAR10_SHA256,
                    hint=f"fetch {CIFAR10_TARBALL} by hand and pass --data PATH to it (or to its extracted "
                         f"{CIFAR10_FOLDER} folder)")


def _locate(path: Path) -> Path:
    """The tarball or the folder of batch files that ``--data`` names."""
    if not path.exists():
        raise GankitError(f"dataset 'cifar10': --data {path} does not exist; {_hint()}, or leave --data out "
                          f"to download it")
    if path.is_file():
        if not tarfile.is_tarfile(path):
            raise GankitError(f"dataset 'cifar10': --data {path} is not a tar archive; {_hint()}")
        return path
    if any((path / name).is_file() for names in _BATCHES.values() for name in names):
        return path
    if (path / CIFAR10_FOLDER).is_dir():
        return path / CIFAR10_FOLDER
    if (path / CIFAR10_TARBALL).is_file():
        return path / CIFAR10_TARBALL
    raise GankitError(f"dataset 'cifar10' found no CIFAR-10 files in {path}: looked for data_batch_1..5 and "
                      f"test_batch, a {CIFAR10_FOLDER} folder, or {CIFAR10_TARBALL}")


def _read_folder(folder: Path, wanted: tuple[str, ...]) -> dict[str, bytes]:
    missing = [name for name in wanted if not (folder / name).is_file()]
    if missing:
        raise GankitError(f"dataset 'cifar10': {folder} lacks {', '.join(missing)}; the train split needs "
                          f"data_batch_1..5 and the test split test_batch")
    raw = {name: (folder / name).read_bytes() for name in wanted}
    if (folder / _META).is_file():
        raw[_META] = (folder / _META).read_bytes()
    return raw


def _read_tarball(path: Path, wanted: tuple[str, ...]) -> dict[str, bytes]:
    """The wanted members (matched by file name, in any folder) of a tarball, in memory."""
    raw: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                name = member.name.rsplit("/", 1)[-1]
                if member.isfile() and (name in wanted or name == _META) and name not in raw:
                    handle = archive.extractfile(member)
                    assert handle is not None
                    raw[name] = handle.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise GankitError(f"cannot read {path} ({type(exc).__name__}: {exc}); the tarball is damaged, "
                          f"download it again") from None
    missing = [name for name in wanted if name not in raw]
    if missing:
        raise GankitError(f"{path} lacks {', '.join(missing)}: is it CIFAR-10's python version "
                          f"({CIFAR10_TARBALL})?")
    return raw
