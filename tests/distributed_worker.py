"""Run by tests/core/test_distributed.py under torchrun: trains through the engine and saves
this rank's networks as they are in memory, so the test can check the ranks stayed in sync."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

from gankit.config import resolve_config
from gankit.registry import get_registry
from gankit.engine import train_run

out, steps = Path(sys.argv[1]), int(sys.argv[2])
resume = len(sys.argv) > 3 and sys.argv[3] == "resume"
torch.set_num_threads(1)
registry = get_registry()
options = dict(domain="image", model="mlp", dataset="shapes", count=512, batch_size=16, steps=steps, seed=5,
               penalty="r1", ema_decay=0.99, log_every=5, checkpoint_every=10, out=str(out), quiet=True)
state = None
if resume:
    from gankit.checkpoint import load_checkpoint

    state = load_checkpoint(out / "checkpoints" / "last.pt")
result = train_run(resolve_config(registry, options), registry, resume_state=state)
rank = int(os.environ["RANK"])
torch.save({"generator": result.generator.state_dict(), "discriminator": result.discriminator.state_dict()},
           out / f"rank-{rank}-step-{result.step}.pt")
