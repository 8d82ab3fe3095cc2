"""An endless, resumable stream of shuffled training batches.

Epoch ``e``'s order comes from a generator seeded by ``(seed, e)``, and the stream's
position is ``(epoch, batch index)``, so a resumed run sees exactly the batches an
uninterrupted one would. Datasets held in memory (``tensors``) are batched by indexing;
others go through a DataLoader over the same order.
"""

from __future__ import annotations

from typing import Any, Iterator

import torch
from torch.utils.data import DataLoader, Dataset

from .errors import GankitError

# A dataset this small is copied to the accelerator once and batched there.
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
    ):
        self.dataset = dataset
        self.batch_size = batch_size
        self.seed = seed
        self.device = device
        self.num_workers = num_workers
        self.size = len(dataset)  # type: ignore[arg-type]
        self.rank, self.world_size = rank, world_size
        per_process = self.size // world_size
        if per_process < batch_size:
            raise GankitError(
                f"batch size {batch_size} is larger than the dataset ({self.size} samples"
                + (f", {per_process} per process" if world_size > 1 else "") + "); lower --batch-size or use more data"
            )
        self.batches_per_epoch = per_process // batch_size
        self.epoch = 0
        self.index = 0
        self._order: torch.Tensor | None = None
        self._iterator: Iterator[Any] | None = None
        self._tensors = self._place_tensors(getattr(dataset, "tensors", None))

    def _place_tensors(self, tensors: Any) -> tuple[torch.Tensor, torch.Tensor] | None:
        if tensors is None:
            return None
        x, y = tensors
        on_accelerator = self.device.type != "cpu"
        if on_accelerator and x.element_size() * x.numel() <= DEVICE_RESIDENT_BYTES:
            return x.to(self.device), y.to(self.device)
        if on_accelerator:
            return x.pin_memory(), y.pin_memory()
        return x, y

    def _epoch_order(self) -> torch.Tensor:
        """This process's share of the epoch's shuffled order (every rank draws the same
        permutation and takes every world_size-th index)."""
        order = torch.randperm(self.size, generator=torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch))
        return order[self.rank::self.world_size]

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next batch ``(x, y)`` on the run's device."""
        if self.index >= self.batches_per_epoch:
            self.epoch += 1
            self.index = 0
            self._order = None
            self._iterator = None
        if self._order is None:
            self._order = self._epoch_order()
        if self._tensors is not None:
            start = self.index * self.batch_size
            idx = self._order[start:start + self.batch_size]
            x_all, y_all = self._tensors
            idx = idx.to(x_all.device, non_blocking=True)
            x, y = x_all.index_select(0, idx), y_all.index_select(0, idx)
        else:
            if self._iterator is None:
                self._iterator = iter(self._loader())
            x, y = next(self._iterator)
        self.index += 1
        return x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    def _loader(self) -> DataLoader:
        assert self._order is not None
        remaining = self._order[self.index * self.batch_size:self.batches_per_epoch * self.batch_size]
        batches = remaining.view(-1, self.batch_size).tolist()
        return DataLoader(
            self.dataset,
            batch_sampler=batches,
            num_workers=self.num_workers,
            pin_memory=self.device.type == "cuda",
            # Workers' seeds come from this generator, not the global RNG, so starting a
            # loader mid-epoch on resume leaves the training RNG untouched.
            generator=torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) * 64 + self.rank),
        )

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "index": self.index, "seed": self.seed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch = int(state["epoch"])
        self.index = int(state["index"])
        self._order = None
        self._iterator = None


class InMemoryDataset(Dataset):
    """``(x, y)`` pairs indexed from ``tensors = (x_all, y_all)`` (the engine batches such a
    dataset by indexing), with the ``info`` describing one sample and a one-line
    ``description`` of what was loaded. Domains subclass it to check their canonical form."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, info: Any, description: str = ""):
        if y.shape != (x.shape[0],) or y.dtype != torch.long:
            raise ValueError(f"expected int64 labels of shape ({x.shape[0]},), got {y.dtype} {tuple(y.shape)}")
        if tuple(x.shape[1:]) != tuple(info.shape):
            raise ValueError(f"samples of shape {tuple(x.shape[1:])} do not match info.shape {tuple(info.shape)}")
        self.tensors = (x, y)
        self.info = info
        self.description = description

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.tensors[0][index], self.tensors[1][index]
