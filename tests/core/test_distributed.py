"""Two processes on the CPU (gloo): both train, gradients are averaged so the ranks stay
identical, rank 0 alone writes files, a 2-process run resumes, and each rank draws its own
training noise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

WORKER = Path(__file__).resolve().parent.parent / "distributed_worker.py"


def _torchrun(*args: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GANKIT_LOAD_PLUGINS": ""}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(WORKER), *args]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def _load(path: Path) -> dict[str, torch.Tensor]:
    state = torch.load(path, weights_only=True)
    return {f"{part}.{k}": v for part, values in state.items() for k, v in values.items()}


def test_two_gloo_processes_train_in_sync_and_resume(tmp_path):
    out = tmp_path / "run"
    _torchrun(str(out), "20")
    rank0, rank1 = _load(out / "rank-0-step-20.pt"), _load(out / "rank-1-step-20.pt")
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0), "ranks drifted apart"
    initial = {k: v for k, v in _load_initial().items()}
    assert any(not torch.equal(rank0[k], initial[k]) for k in initial), "nothing was trained"
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [5, 10, 15, 20]  # one writer, every step once
    assert sorted(p.name for p in out.glob("rank-*")) == ["rank-0-step-20.pt", "rank-1-step-20.pt"]

    _torchrun(str(out), "30", "resume")
    rank0, rank1 = _load(out / "rank-0-step-30.pt"), _load(out / "rank-1-step-30.pt")
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)

    straight = tmp_path / "straight"
    _torchrun(str(straight), "30")
    assert all(torch.equal(rank0[k], v) for k, v in _load(straight / "rank-0-step-30.pt").items()), \
        "a resumed 2-process run must equal an uninterrupted one"


def test_each_rank_draws_its_own_training_noise_and_a_seed_repeats_it(tmp_path):
    """Issue 16 #1: Gumbel noise, text-D dropout masks and WaveGAN phase-shuffle shifts come
    from torch's global RNG, which the engine seeds per process; two runs with one seed
    draw the same on each rank."""
    _torchrun(str(tmp_path), "draws")
    ranks = [torch.load(tmp_path / f"draws-rank-{rank}.pt", weights_only=True) for rank in (0, 1)]
    shared, unrepeated = [], []
    for run, kinds in (("text", ("gumbel", "dropout")), ("audio", ("shifts",))):
        for kind in kinds:
            first, second = ranks[0][f"{run}-a"][kind], ranks[1][f"{run}-a"][kind]
            assert len(first) == len(second) > 0 and all(a.shape == b.shape for a, b in zip(first, second))
            if any(torch.equal(a, b) for a, b in zip(first, second)):
                shared.append(f"{run} {kind}")
            for draws in ranks:
                if not all(torch.equal(a, b) for a, b in zip(draws[f"{run}-a"][kind], draws[f"{run}-b"][kind])):
                    unrepeated.append(f"{run} {kind}")
    assert not shared, f"the ranks drew the same {shared}"
    assert not unrepeated, f"the same seed drew differently: {unrepeated}"


def _load_initial() -> dict[str, torch.Tensor]:
    """The networks as seeded, before any step (what both ranks start from)."""
    from gankit.plugins.image.datasets import build_shapes
    from gankit.plugins.image.mlp import build
    from gankit.plugins.image.options import MLPOptions, ShapesOptions

    torch.manual_seed(5)
    info = build_shapes(ShapesOptions(count=512), None).info
    generator, discriminator = build(MLPOptions(), info)
    return {**{f"generator.{k}": v for k, v in generator.state_dict().items()},
            **{f"discriminator.{k}": v for k, v in discriminator.state_dict().items()}}
