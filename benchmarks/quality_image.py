"""The image quality table of benchmarks/quality_image.md: models × objectives × steps on MNIST,
scored with gankit's offline metrics (FID, KID, IS, precision/recall) at every checkpoint.

    python benchmarks/quality_image.py train --out /tmp/quality            # every run (long)
    python benchmarks/quality_image.py train --out /tmp/quality --only dcgan-default
    python benchmarks/quality_image.py evaluate --out /tmp/quality         # scores → scores.json
    python benchmarks/quality_image.py speed --out /tmp/quality            # speed.json
    python benchmarks/quality_image.py conditional --out /tmp/quality      # the class-per-row check
    python benchmarks/quality_image.py table --out /tmp/quality            # markdown on stdout

Each gankit run keeps a checkpoint every 250 steps; `evaluate` scores every checkpoint with
`gankit.evaluate` (2000 samples from G-EMA where the run has one, against 2000 real images
chosen with seed 0) and the hand-written DCGAN loop's samples with the same protocol
(`gankit evaluate --samples`), plus two baselines: 2000 other real images (real vs real) and
uniform noise. Time is given twice: each run's own `time` in metrics.jsonl (one torch
thread, on whatever else the machine was doing) and steps ÷ the recipe's steps per
CPU-second (`speed`), what an idle core takes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import gankit
import gankit.registry

HERE = Path(__file__).resolve().parent
N_EVAL = 2000
CHECKPOINT_EVERY = 250
SCORED_STEPS = (250, 500, 1000, 1500, 3000)  # checkpoints scored (each takes a minute on a busy CPU)
WALL_CLOCK_BUDGETS = (60, 120, 300)  # CPU seconds of one thread, for the equal-wall-clock table

# Every run changes only what its name says; the rest is the model's registered defaults
# (mlp: non-saturating + R1 gamma 10, EMA, Adam 2e-4, batch 128; dcgan: non-saturating,
# BatchNorm D, Adam 8e-4, EMA, batch 64). wgan-gp drops BatchNorm (refused with a gradient
# penalty) and uses WGAN-GP's Adam betas (0.5, 0.9) at 2e-4.
RUNS: dict[str, dict[str, Any]] = {
    "mlp-default": dict(model="mlp", steps=3000),
    "mlp-textbook": dict(model="mlp", steps=3000, preset="textbook"),
    "mlp-seed": dict(model="mlp", steps=3000, preset="seed"),
    "mlp-hinge": dict(model="mlp", steps=3000, objective="hinge"),
    "mlp-lsgan": dict(model="mlp", steps=3000, objective="lsgan"),
    "mlp-wgan-gp": dict(model="mlp", steps=3000, objective="wgan-gp", penalty="gp", betas_g=(0.5, 0.9),
                        betas_d=(0.5, 0.9)),
    "dcgan-default": dict(model="dcgan", steps=1500),
    "dcgan-hinge-sn": dict(model="dcgan", steps=1500, objective="hinge", d_norm="spectral"),
    "dcgan-lsgan": dict(model="dcgan", steps=1500, objective="lsgan"),
    "dcgan-wgan-gp": dict(model="dcgan", steps=1500, objective="wgan-gp", penalty="gp", d_norm="none",
                          lr_g=2e-4, lr_d=2e-4, betas_g=(0.5, 0.9), betas_d=(0.5, 0.9)),
    "dcgan-conditional": dict(model="dcgan", steps=1500, conditional=True),
}
HANDWRITTEN = "dcgan-handwritten"


def train(out: Path, data: Path, names: list[str], seed: int) -> None:
    for name in names:
        target = out / name
        if name == HANDWRITTEN:
            if not (target / "samples.npy").exists():
                target.mkdir(parents=True, exist_ok=True)
                started = time.monotonic()
                subprocess.run([sys.executable, str(HERE / "dcgan_handwritten.py"), "--data", str(data), "--steps",
                                "1500", "--seed", str(seed), "--n", str(N_EVAL), "--out", str(target / "samples.npy")],
                               check=True)
                (target / "time.json").write_text(json.dumps({"steps": 1500, "seconds": time.monotonic() - started}))
            continue
        if (target / "checkpoints" / "last.pt").exists():
            continue
        gankit.train("image", dataset="mnist", data=str(data), out=str(target), seed=seed, quiet=True,
                     checkpoint_every=CHECKPOINT_EVERY, keep_last=0, sample_every=500, **RUNS[name])


def step_times(run: Path) -> dict[int, float]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return {r["step"]: r["time"] for r in records if "time" in r}


def flatten(result: dict[str, Any]) -> dict[str, float]:
    return {f"{metric}/{key}": value for metric, body in result["metrics"].items()
            for key, value in body["values"].items()}


def evaluate(out: Path, data: Path) -> None:
    scores_path = out / "scores.json"
    scores: dict[str, Any] = json.loads(scores_path.read_text()) if scores_path.exists() else {}
    for name in [*RUNS, HANDWRITTEN]:
        run = out / name
        if name == HANDWRITTEN:
            if (run / "samples.npy").exists() and name not in scores:
                result = gankit.evaluate_samples(np.load(run / "samples.npy"), domain="image", dataset="mnist",
                                                 data=str(data), n=N_EVAL)
                seconds = json.loads((run / "time.json").read_text())["seconds"]
                scores[name] = {"1500": {"time": seconds, **flatten(result), "protocol": result["metrics"]}}
            continue
        if not (run / "checkpoints").exists():
            continue
        times = step_times(run)
        entry = scores.setdefault(name, {})
        for checkpoint in sorted((run / "checkpoints").glob("step-*.pt")):
            step = int(checkpoint.stem.split("-")[1])
            if str(step) in entry or step not in SCORED_STEPS:
                continue
            result = gankit.evaluate(checkpoint, n=N_EVAL, data=str(data))
            entry[str(step)] = {"time": times.get(step), **flatten(result)}
            print(name, step, {k: round(v, 3) for k, v in flatten(result).items()}, flush=True)
        scores_path.write_text(json.dumps(scores, indent=1))
    scores["baselines"] = baselines(data)
    scores_path.write_text(json.dumps(scores, indent=1))


def baselines(data: Path) -> dict[str, Any]:
    """Real vs real (2000 real images outside the reference subset) and uniform noise, both
    scored as samples against the same reference subset."""
    spec = gankit.registry.get_registry().dataset("image", "mnist")
    dataset = spec.build(spec.options(), data)
    x = dataset.tensors[0].float()
    reference = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:N_EVAL]
    outside = torch.ones(len(x), dtype=torch.bool)
    outside[reference] = False
    noise = torch.rand(N_EVAL, *x.shape[1:], generator=torch.Generator().manual_seed(1)) * 2 - 1
    scores = {}
    for name, fake in (("real", x[outside][:N_EVAL]), ("noise", noise)):
        result = gankit.evaluate_samples(((fake + 1) / 2).numpy(), domain="image", dataset="mnist", data=str(data),
                                         n=N_EVAL)
        scores[name] = flatten(result)
    return scores


def conditional(out: Path, data: Path) -> None:
    """The conditional DCGAN asked for each digit: a 10×10 grid (row k: digit k) and the share
    of 1000 samples per digit that an independent classifier (benchmarks/mnist_judge.py,
    98–99% on held-out MNIST) reads as the digit asked for."""
    from PIL import Image

    from gankit.plugins.image.io import make_grid
    from mnist_judge import train_judge

    run = gankit.load(out / "dcgan-conditional")
    judge = train_judge(data, out / "judge.pt")
    rows, accuracy = [], {}
    for digit in range(10):
        samples = run.sample(1000, seed=digit, labels=digit)
        with torch.no_grad():
            accuracy[digit] = (judge(samples).argmax(1) == digit).float().mean().item()
        rows.append(samples[:10])
    Image.fromarray(make_grid(torch.cat(rows), nrow=10).squeeze(-1)).save(HERE / "quality_image_conditional_grid.png")
    (out / "conditional.json").write_text(json.dumps(accuracy, indent=1))
    print("share read as the requested digit:", {k: round(v, 3) for k, v in accuracy.items()},
          f"mean {sum(accuracy.values()) / 10:.3f}")


def speed(out: Path, data: Path, steps: int = 100, warmup: int = 10) -> None:
    """Steps per CPU-second of every recipe with one thread, for the table's "idle" time
    column (the runs themselves shared the CPU with other jobs, so their wall-clock is
    slower and uneven). CPU time of a one-thread process is what an idle core would take;
    measured over ``steps`` steps of a resumed run after ``warmup`` steps, the resume's
    loading and final checkpoint included (about a second)."""
    import dcgan_handwritten

    results = {}
    for name, options in RUNS.items():
        target = out / "speed" / name
        gankit.train("image", dataset="mnist", data=str(data), out=str(target), seed=0, quiet=True, sample_every=0,
                     checkpoint_every=10**6, log_every=warmup, **{**options, "steps": warmup})
        started = time.process_time()
        gankit.train("image", out=str(target), resume=True, quiet=True, steps=warmup + steps)
        results[name] = steps / (time.process_time() - started)
        print(name, f"{results[name]:.2f} steps per CPU-second", flush=True)
    images = dcgan_handwritten.load_images(data)
    seconds = []
    for total in (warmup, warmup + steps):
        started = time.process_time()
        dcgan_handwritten.train(images, total, 64, seed=0)
        seconds.append(time.process_time() - started)
    results[HANDWRITTEN] = steps / (seconds[1] - seconds[0])
    print(HANDWRITTEN, f"{results[HANDWRITTEN]:.2f} steps per CPU-second", flush=True)
    (out / "speed.json").write_text(json.dumps(results, indent=1))


DESCRIPTIONS = {
    "mlp-default": ("mlp", "non-saturating + R1 γ10, EMA (defaults)"),
    "mlp-textbook": ("mlp", "non-saturating, no R1, no EMA (`--preset textbook`)"),
    "mlp-seed": ("mlp", "minimax, Adam 1e-3, no EMA (`--preset seed`)"),
    "mlp-hinge": ("mlp", "hinge + R1 γ10, EMA"),
    "mlp-lsgan": ("mlp", "lsgan + R1 γ10, EMA"),
    "mlp-wgan-gp": ("mlp", "wgan-gp (λ10), Adam (0.5, 0.9), EMA"),
    "dcgan-default": ("dcgan", "non-saturating, BatchNorm D, Adam 8e-4, EMA (defaults)"),
    "dcgan-hinge-sn": ("dcgan", "hinge, spectral-norm D, Adam 8e-4, EMA"),
    "dcgan-lsgan": ("dcgan", "lsgan, BatchNorm D, Adam 8e-4, EMA"),
    "dcgan-wgan-gp": ("dcgan", "wgan-gp (λ10), no norm in D, Adam 2e-4 (0.5, 0.9), EMA"),
    "dcgan-conditional": ("dcgan", "defaults, `-o conditional true`"),
    HANDWRITTEN: ("dcgan (by hand)", "non-saturating, BatchNorm D, Adam 2e-4, no EMA"),
}
COLUMNS = [("fid/fid", "FID ↓", 2), ("kid/kid", "KID ↓", 3), ("is/is", "IS ↑", 2),
           ("prdc/precision", "precision ↑", 3), ("prdc/recall", "recall ↑", 3)]


def _cells(values: dict[str, float]) -> str:
    return " | ".join(f"{values[key]:.{digits}f}" if key in values else "–" for key, _, digits in COLUMNS)


def table(out: Path) -> str:
    """The markdown tables of quality_image.md from scores.json (and speed.json, if measured)."""
    scores = json.loads((out / "scores.json").read_text())
    speed_path = out / "speed.json"
    speed = json.loads(speed_path.read_text()) if speed_path.exists() else {}
    header = "| " + " | ".join(name for _, name, _ in COLUMNS) + " |"
    lines = ["### Baselines (same protocol)", "", "| samples " + header, "|---" * (len(COLUMNS) + 1) + "|"]
    for name, label in (("real", "2000 other real MNIST images"), ("noise", "uniform noise")):
        lines.append(f"| {label} | {_cells(scores['baselines'][name])} |")
    lines += ["", "### Equal steps", "",
              "| model | recipe | steps | CPU s | s (as run) " + header,
              "|---" * (len(COLUMNS) + 5) + "|"]
    for name, (model, recipe) in DESCRIPTIONS.items():
        for step, entry in sorted(scores.get(name, {}).items(), key=lambda item: int(item[0])):
            idle = f"{int(step) / speed[name]:.0f}" if name in speed else "–"
            as_run = f"{entry['time']:.0f}" if entry.get("time") else "–"
            lines.append(f"| {model} | {recipe} | {step} | {idle} | {as_run} | {_cells(entry)} |")
    if speed:
        lines += ["", "### Equal wall-clock (one thread, CPU seconds)", "",
                  "The latest scored checkpoint of each run within the budget.", "",
                  "| budget | model | recipe | steps | CPU s " + header, "|---" * (len(COLUMNS) + 5) + "|"]
        for budget in WALL_CLOCK_BUDGETS:
            for name, (model, recipe) in DESCRIPTIONS.items():
                if name not in speed or name not in scores:
                    continue
                within = [(int(step), entry) for step, entry in scores[name].items() if int(step) / speed[name] <= budget]
                if within:
                    step, entry = max(within, key=lambda item: item[0])
                    lines.append(f"| {budget} s | {model} | {recipe} | {step} | {step / speed[name]:.0f} | {_cells(entry)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["train", "evaluate", "conditional", "speed", "table"])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data" / "mnist")
    parser.add_argument("--only", action="append", help="run names (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.command == "train":
        train(args.out, args.data.resolve(), args.only or [*RUNS, HANDWRITTEN], args.seed)
    elif args.command == "evaluate":
        evaluate(args.out, args.data.resolve())
    elif args.command == "conditional":
        conditional(args.out, args.data.resolve())
    elif args.command == "speed":
        speed(args.out, args.data.resolve())
    else:
        print(table(args.out))


if __name__ == "__main__":
    main()
