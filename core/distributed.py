"""Multi-process training under torchrun: one process per device, gradients averaged by an
explicit all-reduce after each backward (as stylegan2-ada does), so the penalties' double
backward and the generator phase running through the discriminator need no DDP reducer.

Without torchrun's environment (``WORLD_SIZE`` unset or 1) everything here is a no-op.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, requested: torch.device) -> torch.device:
        """Each process drives its own GPU: ``cuda`` becomes ``cuda:LOCAL_RANK``."""
        if self.active and requested.type == "cuda":
            return torch.device("cuda", self.local_rank)
        return requested

    def all_reduce_gradients(self, module: nn.Module) -> None:
        """Average the gradients of ``module`` over all processes, flattened into one
        buffer per call."""
        if not self.active:
            return
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        torch.distributed.all_reduce(flat)
        flat /= self.size
        torch._foreach_copy_(grads, [chunk.view_as(g) for chunk, g in zip(flat.split([g.numel() for g in grads]), grads)])

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        if self.active:
            values = values.clone()
            torch.distributed.all_reduce(values)
            values /= self.size
        return values

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every process when ``flag`` is true on any (a stop decided on one rank)."""
        if not self.active:
            return flag
        value = torch.tensor([1.0 if flag else 0.0], device=device)
        torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX)
        return bool(value.item())

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every process."""
        if not self.active:
            return obj
        holder = [obj]
        torch.distributed.broadcast_object_list(holder, src=0)
        return holder[0]

    def gather_object(self, obj: Any) -> list[Any]:
        """Every process's ``obj``, in rank order, on every process."""
        if not self.active:
            return [obj]
        gathered: list[Any] = [None] * self.size
        torch.distributed.all_gather_object(gathered, obj)
        return gathered

    def broadcast_parameters(self, *modules: nn.Module) -> None:
        """Start every process from rank 0's weights and buffers."""
        if not self.active:
            return
        for module in modules:
            for tensor in [*module.parameters(), *module.buffers()]:
                torch.distributed.broadcast(tensor.data, src=0)

    def barrier(self) -> None:
        if self.active:
            torch.distributed.barrier()


def init_world(device: torch.device) -> World:
    """Join the process group torchrun describes in the environment (gloo on CPU, NCCL on
    CUDA); a single process otherwise."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not torch.distributed.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(local_rank)
        torch.distributed.init_process_group(backend=backend)
        # Leave the group before the interpreter tears down: a gloo group destroyed at exit,
        # after the other ranks have gone, can abort the process ("terminate called without
        # an active exception") although training finished.
        atexit.register(_leave_group)
    return World(rank=rank, size=size, local_rank=local_rank)


def _leave_group() -> None:
    if torch.distributed.is_initialized():  # no barrier: a rank that failed must not wait for the others
        torch.distributed.destroy_process_group()
