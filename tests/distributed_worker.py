"""Run by tests/core/test_distributed.py under torchrun.

``OUT STEPS [resume]``: trains through the engine and saves this rank's networks as they are
in memory, so the test can check the ranks stayed in sync.

``OUT draws``: trains a text run and a WaveGAN run twice each with the same seed and saves
the random draws each made from torch's global RNG in training (the Gumbel noise, the
text discriminator's dropout masks, WaveGAN's phase-shuffle shifts), so the test can check
that the ranks draw differently and that a seed repeats them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

from gankit.config import resolve_config
from gankit.engine import train_run
from gankit.registry import get_registry

torch.set_num_threads(1)
out = Path(sys.argv[1])
rank = int(os.environ["RANK"])
registry = get_registry()


def train(resume: bool) -> None:
    steps = int(sys.argv[2])
    options = dict(domain="image", model="mlp", dataset="shapes", count=512, batch_size=16, steps=steps, seed=5,
                   penalty="r1", ema_decay=0.99, log_every=5, checkpoint_every=10, out=str(out), quiet=True)
    state = None
    if resume:
        from gankit.checkpoint import load_checkpoint

        state = load_checkpoint(out / "checkpoints" / "last.pt")
    result = train_run(resolve_config(registry, options), registry, resume_state=state)
    torch.save({"generator": result.generator.state_dict(), "discriminator": result.discriminator.state_dict()},
               out / f"rank-{rank}-step-{result.step}.pt")


def record_draws() -> None:
    from gankit.plugins.audio import wavegan
    from gankit.plugins.text import generators

    draws: dict[str, list[torch.Tensor]] = {"gumbel": [], "dropout": [], "shifts": []}
    gumbel, shifts, dropout = generators._gumbel_noise, wavegan.PhaseShuffle.shifts, torch.nn.Dropout.forward

    def recording_gumbel(*args, **kwargs):
        noise = gumbel(*args, **kwargs)
        draws["gumbel"].append(noise.clone())
        return noise

    def recording_shifts(self, *args, **kwargs):
        drawn = shifts(self, *args, **kwargs)
        draws["shifts"].append(drawn.clone())
        return drawn

    def recording_dropout(self, x):
        y = dropout(self, x)
        if self.training:
            draws["dropout"].append((y == 0) & (x != 0))
        return y

    generators._gumbel_noise = recording_gumbel
    wavegan.PhaseShuffle.shifts = recording_shifts
    torch.nn.Dropout.forward = recording_dropout
    runs = {
        "text": dict(domain="text", model="lstm", count=64, reference_count=8, batch_size=8, steps=2, embed_dim=8,
                     hidden_dim=16, d_embed_dim=8, d_representations=2, d_filters=4, d_dropout=0.5),
        "audio": dict(domain="audio", model="wavegan", count=16, length=1024, sample_rate=8000, width=4, batch_size=4,
                      steps=1, n_critic=1, phase_shuffle=2),
    }
    saved = {}
    for name, options in runs.items():
        for attempt in ("a", "b"):
            for values in draws.values():
                values.clear()
            config = resolve_config(registry, {**options, "seed": 11, "sample_every": 0, "log_every": 1, "quiet": True,
                                               "ema_decay": 0.0, "out": str(out / f"{name}-{attempt}")})
            train_run(config, registry)
            saved[f"{name}-{attempt}"] = {kind: list(values) for kind, values in draws.items() if values}
    torch.save(saved, out / f"draws-rank-{rank}.pt")


if sys.argv[2] == "draws":
    record_draws()
else:
    train(resume=len(sys.argv) > 3 and sys.argv[3] == "resume")
