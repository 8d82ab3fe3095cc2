"""An endless, resumable stream of shuffled training batches, and the in-memory dataset base.

Epoch ``e``'s order comes from a generator seeded by ``(seed, e)``, and the stream's
position is ``(epoch, batch index)``, so a resumed run sees exactly the batches an
uninterrupted one would. How batches reach the device depends on the dataset:

- held in memory (``storage`` or ``tensors``) and small enough: copied to the accelerator
  once, with each epoch's order, and batched there by indexing (no copy per step);
- held in memory but too large for the accelerator: gathered on the host into pinned
  memory and copied asynchronously, ``prefetch`` batches ahead, on a side CUDA stream;
- anything else: one DataLoader for the whole run over an endless batch sampler
  (persistent workers, pinned memory on CUDA), with the same prefetch to the device.

A dataset may store its samples compactly (images as uint8) in ``storage = (x, y)`` with a
``decode(x)`` that turns a batch into canonical form; the stream decodes on the device,
after indexing, so the copy and the memory are those of the compact form.
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .atomic import atomic_write
from .conditions import condition_tensors, map_condition
from .errors import GankitError

logger = logging.getLogger("gankit")

# A dataset this small is copied to the accelerator once and batched there (on CUDA also
# one eighth of the device's memory, if that is more).
DEVICE_RESIDENT_BYTES = 1 << 30


class BatchStream:
    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        seed: int,
        device: torch.device,
        num_workers: int = 0,
        rank: int = 0,
        world_size: int = 1,
        prefetch: int = 2,
    ):
        self.dataset = dataset
        self.batch_size = batch_size
        self.seed = seed
        self.device = device
        self.num_workers = num_workers
        self.size = len(dataset)  # type: ignore[arg-type]
        self.rank, self.world_size = rank, world_size
        per_process = self.size // world_size
        if per_process < 1:
            raise GankitError(f"the dataset has {self.size} samples: too few for {world_size} processes, which need at "
                              f"least one each; use more data or fewer processes" if self.size else
                              "the dataset is empty; check --data and the dataset's options")
        self.batches_per_epoch = max(per_process // batch_size, 1)
        self.epoch = 0
        self.index = 0
        self._order: torch.Tensor | None = None  # this epoch's order, on the device the data is on
        self._decode: Callable[[torch.Tensor], torch.Tensor] | None = None
        self._resident = False  # the tensors are on the run's device
        self._draw: Callable[[int, torch.Generator], tuple[torch.Tensor, Any]] | None = getattr(dataset, "draw", None)
        self.notes: list[str] = []
        if per_process < batch_size and self._draw is None:
            share = f"{per_process} per process" if world_size > 1 else f"{self.size} samples"
            self.notes.append(f"note: the dataset ({share}) is smaller than the batch of {batch_size}: each batch "
                              f"holds every sample once and {batch_size - per_process} of them again, drawn afresh "
                              f"each step (few-shot training)")
        self._tensors = self._place_tensors(dataset) if self._draw is None else None
        self._loader: DataLoader | None = None
        self._host: Iterator[tuple[torch.Tensor, Any]] | None = None  # batches not on the device yet
        cuda = device.type == "cuda"
        self._prefetcher = _CudaPrefetcher(device, prefetch) if cuda and self._needs_copy else None

    @property
    def mode(self) -> str:
        """``resident`` (batched where the data lives), ``pinned`` (gathered on the host and
        copied), ``loader`` (a DataLoader) or ``draw`` (the dataset draws each batch)."""
        if self._draw is not None:
            return "draw"
        if self._tensors is None:
            return "loader"
        return "pinned" if self._needs_copy else "resident"

    @property
    def _needs_copy(self) -> bool:
        return not self._resident

    def _place_tensors(self, dataset: Any) -> tuple[torch.Tensor, Any] | None:
        storage = getattr(dataset, "storage", None)
        if storage is not None:
            self._decode = dataset.decode
            x, y = storage
        elif getattr(dataset, "tensors", None) is not None:
            x, y = dataset.tensors
        else:
            return None
        if self.device.type == "cpu":
            self._resident = True
            return x, y
        if x.element_size() * x.numel() <= resident_limit(self.device):
            self._resident = True
            return x.to(self.device), map_condition(lambda t: t.to(self.device), y)
        if self.device.type == "cuda":
            return x.pin_memory(), map_condition(lambda t: t.pin_memory(), y)
        return x, y

    def _epoch_order(self, epoch: int) -> torch.Tensor:
        """This process's share of the epoch's shuffled order (every rank draws the same
        permutation and takes every world_size-th index). A share smaller than the batch
        (few-shot data) is followed by fresh shuffles of itself, from the same generator, up
        to one whole batch: every sample once, the rest drawn again."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.randperm(self.size, generator=generator)[self.rank::self.world_size]
        share = len(order)
        if share >= self.batch_size:
            return order
        repeats = [order[torch.randperm(share, generator=generator)] for _ in range(-(-self.batch_size // share) - 1)]
        return torch.cat([order, *repeats])[:self.batch_size]

    def next(self) -> tuple[torch.Tensor, Any]:
        """The next batch ``(x, cond)`` on the run's device, in canonical form."""
        if self.index >= self.batches_per_epoch:
            self.epoch += 1
            self.index = 0
            self._order = None
        if self._draw is not None:
            x, y = self._next_drawn()
        elif self._needs_copy:
            x, y = self._next_copied()
        else:
            x, y = self._next_resident()
        self.index += 1
        if self._decode is not None:
            x = self._decode(x)
        return x, y

    def _next_drawn(self) -> tuple[torch.Tensor, Any]:
        """A batch the dataset draws itself (``dataset.draw(batch_size, generator)``), from a
        generator seeded by the stream's position: the same batches after a resume, and
        different ones on every rank."""
        assert self._draw is not None
        position = ((self.seed * 1_000_003 + self.epoch) * 1_000_033 + self.index) * 1024 + self.rank
        x, y = self._draw(self.batch_size, torch.Generator().manual_seed(position % 2**63))
        return x.to(self.device, non_blocking=True), map_condition(lambda t: t.to(self.device, non_blocking=True), y)

    def _next_resident(self) -> tuple[torch.Tensor, Any]:
        assert self._tensors is not None
        x_all, y_all = self._tensors
        if self._order is None:
            order = self._epoch_order(self.epoch)
            if x_all.device.type == "cuda":
                order = order.pin_memory()
            self._order = order.to(x_all.device, non_blocking=True)
        start = self.index * self.batch_size
        idx = self._order[start:start + self.batch_size]
        return x_all.index_select(0, idx), map_condition(lambda t: t.index_select(0, idx), y_all)

    def _next_copied(self) -> tuple[torch.Tensor, Any]:
        if self._host is None:
            self._host = self._host_batches() if self._tensors is not None else self._loader_batches()
            if self._prefetcher is not None:
                self._prefetcher.reset(self._host)
        if self._prefetcher is not None:
            return self._prefetcher.next()
        x, y = next(self._host)
        return x.to(self.device, non_blocking=True), map_condition(lambda t: t.to(self.device, non_blocking=True), y)

    def _positions(self) -> Iterator[tuple[int, int]]:
        """(epoch, batch index) from the stream's position on, for ever."""
        epoch, index = self.epoch, self.index
        while True:
            if index >= self.batches_per_epoch:
                epoch, index = epoch + 1, 0
            yield epoch, index
            index += 1

    def _host_batches(self) -> Iterator[tuple[torch.Tensor, Any]]:
        """Batches gathered from host tensors (into pinned memory when copying to CUDA)."""
        assert self._tensors is not None
        x_all, y_all = self._tensors
        pin = self.device.type == "cuda"
        order, order_epoch = None, -1
        for epoch, index in self._positions():
            if epoch != order_epoch:
                order, order_epoch = self._epoch_order(epoch), epoch
            idx = order[index * self.batch_size:(index + 1) * self.batch_size]
            yield _gather(x_all, idx, pin), map_condition(lambda t: _gather(t, idx, pin), y_all)

    def _loader_batches(self) -> Iterator[tuple[torch.Tensor, Any]]:
        if self._loader is None:
            self._loader = DataLoader(
                self.dataset,
                batch_sampler=_EndlessBatches(self),
                num_workers=self.num_workers,
                pin_memory=self.device.type == "cuda",
                persistent_workers=self.num_workers > 0,
                # Workers' seeds come from this generator, not the global RNG, so starting
                # the loader on resume leaves the training RNG untouched.
                generator=torch.Generator().manual_seed(self.seed * 64 + self.rank),
            )
        return iter(self._loader)

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "index": self.index, "seed": self.seed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch = int(state["epoch"])
        self.index = int(state["index"])
        self._order = None
        self._host = None  # batches fetched ahead belong to the old position


class _EndlessBatches:
    """The batch sampler of a stream's DataLoader: index lists from the stream's position
    at the time an iterator is made, epoch after epoch."""

    def __init__(self, stream: BatchStream):
        self.stream = stream

    def __iter__(self) -> Iterator[list[int]]:
        stream, order, order_epoch = self.stream, None, -1
        for epoch, index in stream._positions():
            if epoch != order_epoch:
                order, order_epoch = stream._epoch_order(epoch).tolist(), epoch
            yield order[index * stream.batch_size:(index + 1) * stream.batch_size]


class _CudaPrefetcher:
    """Copies host batches to the device on a side stream, ``depth`` batches ahead of the
    one being trained on; the compute stream waits only for the batch it takes."""

    def __init__(self, device: torch.device, depth: int):
        self.device = device
        self.depth = max(depth, 0)
        self.stream = torch.cuda.Stream(device)
        self.queue: collections.deque[tuple[torch.Tensor, torch.Tensor, torch.cuda.Event]] = collections.deque()
        self.source: Iterator[tuple[torch.Tensor, Any]] | None = None

    def reset(self, source: Iterator[tuple[torch.Tensor, Any]]) -> None:
        self.source = source
        self.queue.clear()

    def _issue(self) -> None:
        assert self.source is not None
        x, y = next(self.source)
        with torch.cuda.stream(self.stream):
            xd = x.to(self.device, non_blocking=True)
            yd = map_condition(lambda t: t.to(self.device, non_blocking=True), y)
            ready = torch.cuda.Event()
            ready.record(self.stream)
        self.queue.append((xd, yd, ready))

    def next(self) -> tuple[torch.Tensor, Any]:
        while len(self.queue) < self.depth + 1:
            self._issue()
        x, y, ready = self.queue.popleft()
        current = torch.cuda.current_stream(self.device)
        current.wait_event(ready)
        # Memory made on the side stream is now used on the compute stream: tell the
        # allocator, so it is not handed out again before the compute stream is done.
        for tensor in (x, *condition_tensors(y)):
            tensor.record_stream(current)
        return x, y


def _gather(source: torch.Tensor, idx: torch.Tensor, pin: bool) -> torch.Tensor:
    """Rows ``idx`` of ``source`` in a new (pinned, when copying to CUDA) tensor."""
    out = torch.empty((len(idx), *source.shape[1:]), dtype=source.dtype, pin_memory=pin)
    return torch.index_select(source, 0, idx, out=out)


def resident_limit(device: torch.device) -> int:
    """The most bytes of stored samples the stream copies to ``device`` to batch them there."""
    if device.type == "cuda":
        return max(DEVICE_RESIDENT_BYTES, torch.cuda.get_device_properties(device).total_memory // 8)
    return DEVICE_RESIDENT_BYTES


class InMemoryDataset(Dataset):
    """``(x, y)`` pairs held in memory, with the ``info`` describing one sample and a
    one-line ``description`` of what was loaded. Domains subclass it to check their
    canonical form.

    ``storage = (x_all, y_all)`` is what is held; when a subclass stores samples compactly
    it overrides :meth:`decode`, which turns a batch of stored rows (on any device) into
    canonical form. ``tensors`` is the canonical ``(x_all, y_all)`` (decoded on access when
    storage is compact: prefer :meth:`rows` for a subset)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, info: Any, description: str = ""):
        if y.shape != (x.shape[0],) or y.dtype != torch.long:
            raise ValueError(f"expected int64 labels of shape ({x.shape[0]},), got {y.dtype} {tuple(y.shape)}")
        if tuple(x.shape[1:]) != tuple(info.shape):
            raise ValueError(f"samples of shape {tuple(x.shape[1:])} do not match info.shape {tuple(info.shape)}")
        self.storage = (x, y)
        self.info = info
        self.description = description

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        return x

    @property
    def tensors(self) -> tuple[torch.Tensor, Any]:
        x, y = self.storage
        return self.decode(x), y

    @tensors.setter
    def tensors(self, value: tuple[torch.Tensor, Any]) -> None:
        self.storage = tuple(value)

    def rows(self, indices: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """Samples ``indices`` in canonical form, decoding only those."""
        x, y = self.storage
        return self.decode(x[indices]), y[indices]

    def __len__(self) -> int:
        return self.storage[0].shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Any]:
        x, y = self.storage
        return self.decode(x[index]), y[index]


# Decoded datasets cached on disk ---------------------------------------------------------------

DECODED_CACHE_FORMAT = 1


def decoded_cache_enabled() -> bool:
    """``GANKIT_DATA_CACHE=0`` turns the cache of decoded datasets off."""
    return os.environ.get("GANKIT_DATA_CACHE", "1").strip().lower() not in ("0", "false", "no", "off")


def cached_decode(
    kind: str,
    files: Sequence[Path],
    options: Mapping[str, Any],
    decode: Callable[[], tuple[np.ndarray, dict[str, Any]]],
) -> tuple[np.ndarray, dict[str, Any]]:
    """``decode()``'s array and JSON-able notes, from the cache when ``files`` (paths, sizes,
    modification times) and ``options`` are what they were when it was stored, else decoded
    and stored under ``GANKIT_CACHE/decoded/KIND/``. A cache that cannot be written or read
    only costs the decoding."""
    if not decoded_cache_enabled():
        return decode()
    from .cache import cache_dir

    key = _cache_key(kind, files, options)
    try:
        folder = cache_dir("decoded", kind)
    except OSError as exc:
        logger.warning("cannot use the cache of decoded data (%s); decoding every time", exc)
        return decode()
    array_path, notes_path = folder / f"{key}.npy", folder / f"{key}.json"
    cached = _read_cached(array_path, notes_path, key)
    if cached is not None:
        return cached
    array, notes = decode()
    try:
        atomic_write(array_path, lambda handle: np.save(handle, array, allow_pickle=False))
        record = {"key": key, "kind": kind, "shape": list(array.shape), "dtype": str(array.dtype), "notes": notes,
                  "files": len(files)}
        atomic_write(notes_path, json.dumps(record))
    except OSError as exc:
        logger.warning("cannot write the cache of decoded data in %s (%s); the next run decodes again", folder, exc)
    return array, notes


def _cache_key(kind: str, files: Sequence[Path], options: Mapping[str, Any]) -> str:
    listing = []
    for path in files:
        stat = Path(path).stat()
        listing.append([str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns])
    blob = json.dumps({"format": DECODED_CACHE_FORMAT, "kind": kind, "options": dict(options), "files": listing},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def _read_cached(array_path: Path, notes_path: Path, key: str) -> tuple[np.ndarray, dict[str, Any]] | None:
    if not (array_path.is_file() and notes_path.is_file()):
        return None
    try:
        record = json.loads(notes_path.read_text(encoding="utf-8"))
        array = np.load(array_path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        logger.warning("ignoring a damaged cache entry %s (%s)", array_path, exc)
        return None
    if record.get("key") != key or list(array.shape) != record.get("shape") or str(array.dtype) != record.get("dtype"):
        return None
    return array, record.get("notes", {})




# Records a dataset skips -------------------------------------------------------------------

class SkippedRecords:
    """What a dataset skipped while it was built (lines, files, rows it could not use), by
    reason, with the first place each reason was met.

    The pattern gankit's own datasets follow (the text plugin's lines, the audio plugin's
    files): skip a record the data can do without, count it here, log :meth:`summary` once
    (``logging``, not ``warnings``) and append it to the dataset's ``description``, which the
    engine prints when training starts; raise :class:`gankit.GankitError` only when nothing
    usable is left. ``what`` names the records in the summary (``"lines"``, ``"files"``);
    ``total`` is how many were read (set it, or leave it None).
    """

    def __init__(self, what: str = "records", total: int | None = None):
        self.what = what
        self.total = total
        self._reasons: dict[str, list[Any]] = {}  # reason -> [count, where it was first met]

    def add(self, reason: str, where: Any = None) -> None:
        """Count one skipped record: why (``"not UTF-8"``), and where (``"line 7"``, a path)."""
        entry = self._reasons.setdefault(reason, [0, where])
        entry[0] += 1

    @property
    def count(self) -> int:
        return sum(count for count, _ in self._reasons.values())

    def __bool__(self) -> bool:
        return bool(self._reasons)

    def summary(self) -> str:
        """``"skipped 3 of 120 lines: 2 not UTF-8 (first: line 7), 1 empty (first: line 9)"``,
        or ``""`` when nothing was skipped."""
        if not self._reasons:
            return ""
        of = f" of {self.total}" if self.total is not None else ""
        parts = [f"{count} {reason}" + (f" (first: {where})" if where is not None else "")
                 for reason, (count, where) in self._reasons.items()]
        return f"skipped {self.count}{of} {self.what}: " + ", ".join(parts)
