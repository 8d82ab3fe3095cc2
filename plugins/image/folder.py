"""The ``folder`` dataset: every image under a folder (PNG, JPEG, BMP, GIF, WebP; searched
recursively), decoded once with Pillow, resized to ``size``×``size`` and held in memory as
uint8 pixels. The decoded pixels are cached on disk (``GANKIT_CACHE/decoded/image-folder``),
keyed by the files' paths, sizes and modification times and the options, so the next run
on the same folder skips decoding (``GANKIT_DATA_CACHE=0`` turns the cache off).

Labels come from the immediate sub-folders of the root (sorted names → 0, 1, ...) when
every image sits in one; otherwise the images are unlabelled (-1). Hidden files and
folders (names starting with ".") are skipped. Unreadable files are skipped too, with one
warning that counts them.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gankit.errors import GankitError

from .datasets import InMemoryImageDataset
from .options import FolderOptions

logger = logging.getLogger("gankit")

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
DECODER_VERSION = 1  # part of the cache key: raise it when decoding changes what it makes of a file
_LOOKED_FOR = "*.png, *.jpg, *.jpeg, *.bmp, *.gif or *.webp files (any letter case, in sub-folders too)"


def build_folder(options: FolderOptions, data_path: Path | None) -> InMemoryImageDataset:
    """The ``folder`` dataset from the images under ``data_path``."""
    root = _check_root(data_path)
    files = find_images(root)
    if not files:
        raise GankitError(f"dataset 'folder' found no images in {root}: looked for {_LOOKED_FOR}")
    found = len(files)
    if options.limit is not None:
        files = files[: options.limit]
    pixels, errors = cached_decode_images(files, options.size, options.channels, options.crop)
    usable = [f for f, e in zip(files, errors) if e is None]
    failed = [(f, e) for f, e in zip(files, errors) if e is not None]
    if not usable:
        first, reason = failed[0]
        raise GankitError(f"dataset 'folder': none of the {len(files)} image files in {root} could be read "
                          f"(first: {first}: {reason})")
    if failed:
        first, reason = failed[0]
        logger.warning("dataset 'folder': skipped %d unreadable image file(s) of %d in %s (first: %s: %s)",
                       len(failed), len(files), root, first, reason)
        pixels = pixels[[e is None for e in errors]]
    labels, class_names = folder_labels(root, usable)

    x = torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous()
    del pixels
    y = torch.from_numpy(labels)
    kind = "RGB" if options.channels == 3 else "grayscale"
    count = f"{len(usable)} images" if len(usable) == found else f"{len(usable)} of {found} images"
    classes = (f"{len(class_names)} classes from sub-folders" if class_names
               else "unlabelled (images outside sub-folders)")
    skipped = f", {len(failed)} unreadable skipped" if failed else ""
    description = (f"folder: {count} from {root} as {options.size}x{options.size} {kind} "
                   f"({options.crop}), {classes}{skipped}")
    logger.info(description)
    return InMemoryImageDataset(x, y, num_classes=len(class_names), description=description,
                                class_names=class_names)


def _check_root(data_path: Path | None) -> Path:
    if data_path is None:
        raise GankitError(f"dataset 'folder' reads images from a folder: pass --data PATH to a folder of "
                          f"{_LOOKED_FOR}; one sub-folder per class gives labels")
    root = Path(data_path).expanduser()
    if not root.exists():
        raise GankitError(f"dataset 'folder': --data {root} does not exist; pass a folder of images")
    if not root.is_dir():
        raise GankitError(f"dataset 'folder': --data {root} is a file; pass the folder that holds the images")
    return root


def find_images(root: Path) -> list[Path]:
    """Image files under ``root`` by suffix, sorted, skipping hidden files and folders."""
    found, seen = [], set()
    for folder, subfolders, names in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:  # a symbolic link back up the tree
            subfolders[:] = []
            continue
        seen.add(real)
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        found += [Path(folder) / n for n in names if not n.startswith(".") and n.lower().endswith(IMAGE_SUFFIXES)]
    return sorted(found)


def folder_labels(root: Path, files: list[Path]) -> tuple[np.ndarray, tuple[str, ...]]:
    """int64 labels and class names: sub-folder indices when every file sits in an
    immediate sub-folder of ``root``, else all -1 and no classes."""
    tops = [f.relative_to(root).parts for f in files]
    if not all(len(parts) >= 2 for parts in tops):
        return np.full(len(files), -1, dtype=np.int64), ()
    class_names = tuple(sorted({parts[0] for parts in tops}))
    index = {name: i for i, name in enumerate(class_names)}
    return np.array([index[parts[0]] for parts in tops], dtype=np.int64), class_names


def cached_decode_images(files: list[Path], size: int, channels: int, crop: str) -> tuple[np.ndarray, list[str | None]]:
    """:func:`decode_images`, through the cache of decoded data."""
    from gankit.data import cached_decode

    def decode() -> tuple[np.ndarray, dict[str, Any]]:
        pixels, errors = decode_images(files, size, channels, crop)
        return pixels, {"errors": errors}

    options = {"size": size, "channels": channels, "crop": crop, "decoder": DECODER_VERSION}
    pixels, notes = cached_decode("image-folder", files, options, decode)
    return pixels, list(notes["errors"])


def decode_images(files: list[Path], size: int, channels: int, crop: str) -> tuple[np.ndarray, list[str | None]]:
    """uint8 N×size×size×channels pixels and, per file, None or why it could not be read.
    Pillow releases the GIL while decoding and resizing, so a thread pool speeds this up."""
    pixels = np.zeros((len(files), size, size, channels), dtype=np.uint8)

    def load(i: int) -> str | None:
        try:
            pixels[i] = _load(files[i], size, channels, crop)
        except Exception as exc:  # Pillow raises many kinds for damaged files
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return None

    workers = min(8, os.cpu_count() or 1, max(1, len(files)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        errors = list(pool.map(load, range(len(files))))
    return pixels, errors


def _load(path: Path, size: int, channels: int, crop: str) -> np.ndarray:
    from PIL import Image, ImageOps

    mode = "RGB" if channels == 3 else "L"
    with Image.open(path) as image:
        image.draft(mode, (size, size))  # JPEG: decode at a reduced scale that still covers size×size
        image = ImageOps.exif_transpose(image)
        if image.mode.startswith("I"):  # 16/32-bit grayscale: scale to 8 bits
            image = image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
        if image.mode == "P" and "transparency" in image.info:
            image = image.convert("RGBA")  # what Pillow asks for, instead of a warning per file
        image = image.convert(mode)
        if crop == "centre":
            image = ImageOps.fit(image, (size, size), method=Image.Resampling.LANCZOS)
        else:
            image = image.resize((size, size), Image.Resampling.LANCZOS)
        array = np.asarray(image, dtype=np.uint8)
    return array.reshape(size, size, channels)
