"""gankit's overhead over a hand-written loop: steps/s of `mlp` on MNIST.

    python benchmarks/overhead.py --data ../shared/data/mnist --steps 2000 --repeats 3

Both sides do the same work: the same networks (built by gankit's `mlp` factory, same
seed), batch 128 drawn from a shuffled in-memory MNIST, Adam 2e-4 (0.5, 0.999) for both
networks, the non-saturating loss, one D step per G step, no penalty, no EMA. They run
alternately in one process with a fixed thread count, and each is timed end to end
(setup, data, the loop, and for gankit its final checkpoint and preview) and over the
training loop alone (gankit: from its metrics.jsonl timestamps, the first log interval
excluded as warm-up, the same for the plain loop).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import gankit
from gankit.plugins.image.datasets import build_mnist
from gankit.plugins.image.mlp import build as build_mlp
from gankit.plugins.image.options import MLPOptions, MNISTOptions

BATCH = 128
LR, BETAS = 2e-4, (0.5, 0.999)
LOG_EVERY = 100


def plain_loop(data: str, steps: int, seed: int, freeze_d: bool = False) -> tuple[float, float]:
    """Returns (end-to-end seconds, loop seconds after the first LOG_EVERY steps).
    ``freeze_d`` skips D's weight gradients in the G phase, as gankit does; the plain
    loop most people write does not."""
    started = time.perf_counter()
    torch.manual_seed(seed)
    dataset = build_mnist(MNISTOptions(), Path(data))
    x_all = dataset.tensors[0]
    generator, discriminator = build_mlp(MLPOptions(), dataset.info)
    opt_g = torch.optim.Adam(generator.parameters(), lr=LR, betas=BETAS)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=LR, betas=BETAS)
    order = torch.randperm(len(x_all))
    position = 0
    warm = started
    for step in range(steps):
        if position + BATCH > len(x_all):
            order, position = torch.randperm(len(x_all)), 0
        real = x_all[order[position:position + BATCH]]
        position += BATCH

        z = torch.randn(BATCH, 100)
        with torch.no_grad():
            fake = generator(z)
        d_loss = F.softplus(-discriminator(real)).mean() + F.softplus(discriminator(fake)).mean()
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()

        z = torch.randn(BATCH, 100)
        discriminator.requires_grad_(not freeze_d)
        g_loss = F.softplus(-discriminator(generator(z))).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        discriminator.requires_grad_(True)
        if (step + 1) % LOG_EVERY == 0:
            _ = (d_loss.item(), g_loss.item())  # a user's loop reads its losses now and then too
            if step + 1 == LOG_EVERY:
                warm = time.perf_counter()
    ended = time.perf_counter()
    return ended - started, ended - warm


def gankit_loop(data: str, steps: int, seed: int, out: Path) -> tuple[float, float]:
    started = time.perf_counter()
    run = gankit.train("image", model="mlp", dataset="mnist", data=data, steps=steps, batch_size=BATCH, seed=seed,
                       objective="non-saturating", penalty="none", ema_decay=0.0, lr_g=LR, lr_d=LR,
                       betas_g=BETAS, betas_d=BETAS, n_critic=1, log_every=LOG_EVERY, sample_every=0,
                       checkpoint_every=steps, out=str(out), quiet=True)
    ended = time.perf_counter()
    times = {record["step"]: record["time"] for record in run.metrics}
    return ended - started, times[steps] - times[LOG_EVERY]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/mnist")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    loop_steps = args.steps - LOG_EVERY
    names = ("plain", "plain_frozen_d", "gankit")
    rows: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        plain_loop(args.data, 2 * LOG_EVERY, 0)  # warm up allocator and kernels once
        for repeat in range(args.repeats):
            # Rotate the order so a drift in machine speed does not favour one side.
            order = names[repeat % 3:] + names[:repeat % 3]
            for name in order:
                if name == "gankit":
                    rows[name].append(gankit_loop(args.data, args.steps, repeat, Path(tmp) / f"run-{repeat}"))
                else:
                    rows[name].append(plain_loop(args.data, args.steps, repeat, freeze_d=name == "plain_frozen_d"))
    result: dict[str, object] = {
        "steps": args.steps, "batch_size": BATCH, "threads": args.threads, "repeats": args.repeats,
        "torch": torch.__version__, "python": sys.version.split()[0],
    }
    for name, timings in rows.items():
        result[f"{name}_end_to_end_steps_per_s"] = round(args.steps / statistics.median(t[0] for t in timings), 1)
        result[f"{name}_loop_steps_per_s"] = round(loop_steps / statistics.median(t[1] for t in timings), 1)
    for kind, index in (("end_to_end", 0), ("loop", 1)):
        # Paired ratios against the faster plain loop of the same repeat, then the median:
        # robust to the machine's speed drifting between repeats.
        ratios = [min(p[index], f[index]) / g[index]
                  for p, f, g in zip(rows["plain"], rows["plain_frozen_d"], rows["gankit"])]
        result[f"ratio_{kind}"] = round(statistics.median(ratios), 3)
    if args.json:
        print(json.dumps(result))
        return
    print(f"mlp on MNIST, batch {BATCH}, {args.steps} steps, {args.threads} threads, median of {args.repeats}")
    print(f"{'':22} {'end-to-end steps/s':>20} {'loop steps/s':>14}")
    for name in names:
        print(f"{name:22} {result[f'{name}_end_to_end_steps_per_s']:>20} {result[f'{name}_loop_steps_per_s']:>14}")
    print(f"{'gankit / best plain':22} {result['ratio_end_to_end']:>20} {result['ratio_loop']:>14}")


if __name__ == "__main__":
    main()
