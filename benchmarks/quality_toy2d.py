"""Mode coverage of gankit's built-in objectives on 2-D Gaussian mixtures (the toy2d plugin).

    pip install -e examples/gankit-toy2d
    OMP_NUM_THREADS=1 python benchmarks/quality_toy2d.py --seed 0 --seed 1 --seed 2 \
        --results benchmarks/quality_toy2d/results.jsonl --plots benchmarks/quality_toy2d
    python benchmarks/quality_toy2d.py --table benchmarks/quality_toy2d/results.jsonl

Each run trains toy2d's small MLP with one recipe (RECIPE below: every option explicit, so
the numbers do not move when the model's defaults change) and one objective, then scores
``n`` samples of the final generator with the plugin's metrics: modes covered (a mode
counts when at least a quarter of its fair share of samples lies within 3σ of it), the
fraction of high-quality samples (within 3σ of any mode) and KL(fake ‖ real) of the
samples' nearest-mode histogram. One JSON line per run goes to stdout and ``--results``;
``--table`` turns those lines into the Markdown table of benchmarks/quality_toy2d.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

# Objective rows: the label in the table and the training options that select it.
OBJECTIVES: dict[str, dict] = {
    "minimax": {"objective": "minimax"},
    "non-saturating": {"objective": "non-saturating"},
    "wgan-gp": {"objective": "wgan-gp"},
    "wgan-gp, n_critic 5": {"objective": "wgan-gp", "n_critic": 5},
    "hinge": {"objective": "hinge"},
    "lsgan": {"objective": "lsgan"},
    "rsgan": {"objective": "rsgan"},
    "non-saturating + r1": {"objective": "non-saturating", "penalty": "r1"},
}

# One recipe for every objective: toy2d's mlp at 64 units (3 hidden layers each side),
# Adam 1e-3 / (0.5, 0.999), batch 256, generator EMA 0.999, no penalty unless the
# objective implies one (wgan-gp: gp, weight 10) or the row adds it (r1: gamma 10). Every
# option is explicit, so the rows do not follow changes to the model's defaults.
RECIPE = {"model": "mlp", "hidden": 64, "layers": 3, "latent_dim": 16, "batch_size": 256, "lr_g": 1e-3,
          "lr_d": 1e-3, "betas_g": (0.5, 0.999), "betas_d": (0.5, 0.999), "ema_decay": 0.999, "n_critic": 1,
          "penalty": "auto", "penalty_weight": 10.0, "sample_every": 0, "log_every": 500, "quiet": True, "device": "cpu"}


def run_one(dataset: str, label: str, seed: int, steps: int, n: int, root: Path, plots: Path | None) -> dict:
    import gankit
    from gankit.evaluation import evaluate

    out = root / f"{dataset}-{label.replace(' ', '').replace(',', '-')}-{seed}"
    options = {**RECIPE, **OBJECTIVES[label]}
    started = time.perf_counter()
    run = gankit.train("toy2d", dataset=dataset, steps=steps, seed=seed, out=str(out), **options)
    seconds = time.perf_counter() - started
    scores = evaluate(run.dir, n=n, seed=0)["metrics"]
    row = {"dataset": dataset, "objective": label, "seed": seed, "steps": steps, "n": n, "seconds": round(seconds, 1),
           "covered": scores["modes"]["values"]["covered"], "total": scores["modes"]["values"]["total"],
           "high_quality": round(scores["quality"]["values"]["high_quality"], 4),
           "kl": round(scores["modes"]["values"]["kl"], 4)}
    if plots is not None and seed == 0:
        from gankit_toy2d.plot import scatter

        points = run.sample(n, seed=0).numpy()
        title = f"{label}: {row['covered']:.0f}/{row['total']:.0f} modes, {row['high_quality']:.0%} HQ"
        scatter(points, root / "panels" / f"{dataset}-{label.replace(' ', '').replace(',', '-')}.png", run.info,
                size=256, title=title)
    return row


def montage(root: Path, plots: Path, dataset: str) -> Path | None:
    """The seed-0 scatter plots of one dataset side by side, in OBJECTIVES order."""
    from PIL import Image

    panels = [root / "panels" / f"{dataset}-{label.replace(' ', '').replace(',', '-')}.png" for label in OBJECTIVES]
    panels = [p for p in panels if p.is_file()]
    if not panels:
        return None
    images = [Image.open(p).convert("RGB") for p in panels]
    columns = 4
    width, height = images[0].size
    rows = (len(images) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * width + (columns - 1) * 4, rows * height + (rows - 1) * 4), "white")
    for i, image in enumerate(images):
        sheet.paste(image, ((i % columns) * (width + 4), (i // columns) * (height + 4)))
    path = plots / f"{dataset}.png"
    sheet.save(path, optimize=True)
    return path


def table(results: Path) -> str:
    """Markdown: one row per objective, one column group per dataset; mean over seeds with
    the per-seed modes covered in brackets."""
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    header = "| objective | " + " | ".join(f"{d}: modes covered | {d}: high quality | {d}: KL" for d in datasets) + " |"
    lines = [header, "|---|" + "---:|---:|---:|" * len(datasets)]
    present = list(dict.fromkeys(r["objective"] for r in rows))
    for label in [label for label in OBJECTIVES if label in present] + [l for l in present if l not in OBJECTIVES]:
        cells = []
        for dataset in datasets:
            runs = sorted((r for r in rows if r["dataset"] == dataset and r["objective"] == label), key=lambda r: r["seed"])
            if not runs:
                cells += ["", "", ""]
                continue
            covered = [r["covered"] for r in runs]
            cells.append(f"{statistics.mean(covered):.1f} / {runs[0]['total']:.0f} "
                         f"({', '.join(f'{c:.0f}' for c in covered)})")
            cells.append(f"{statistics.mean(r['high_quality'] for r in runs):.0%}")
            cells.append(f"{statistics.mean(r['kl'] for r in runs):.2f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    seconds = [r["seconds"] for r in rows]
    lines.append("")
    lines.append(f"{len(rows)} run{'s' if len(rows) != 1 else ''}, {statistics.mean(seconds):.0f} s each on average "
                 f"({min(seconds):.0f}–{max(seconds):.0f} s).")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", action="append", help="ring8 and/or grid25 [default: both]")
    parser.add_argument("--objective", action="append", help=f"rows to run [default: all of {list(OBJECTIVES)}]")
    parser.add_argument("--row", action="append", default=[], metavar="LABEL=JSON",
                        help='an extra row: a label and its training options, e.g. \'r1 1={"penalty": "r1", '
                             '"penalty_weight": 1}\'')
    parser.add_argument("--seed", type=int, action="append")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("-n", type=int, default=2500, help="samples scored per run")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--results", type=Path, default=None, help="append one JSON line per run here")
    parser.add_argument("--plots", type=Path, default=None, help="write seed-0 scatter plots here")
    parser.add_argument("--table", type=Path, default=None, help="print the Markdown table of a results file and exit")
    args = parser.parse_args()
    if args.table:
        print(table(args.table))
        return

    import torch

    os.environ.setdefault("GANKIT_LOAD_PLUGINS", "toy2d")
    torch.set_num_threads(args.threads)
    from gankit.registry import get_registry

    if "toy2d" not in get_registry().domains:
        raise SystemExit("the toy2d plugin is not loaded: pip install -e examples/gankit-toy2d")
    print(json.dumps({"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                      "threads": args.threads, "torch": torch.__version__, "load": os.getloadavg()}), flush=True)
    for row in args.row:
        label, _, options = row.partition("=")
        OBJECTIVES[label] = json.loads(options)
    root = Path(tempfile.mkdtemp(prefix="quality-toy2d-"))
    for dataset in args.dataset or ["ring8", "grid25"]:
        for label in args.objective or (
                [r.partition("=")[0] for r in args.row] if args.row else list(OBJECTIVES)):
            for seed in args.seed or [0]:
                row = run_one(dataset, label, seed, args.steps, args.n, root, args.plots)
                print(json.dumps(row), flush=True)
                if args.results:
                    args.results.parent.mkdir(parents=True, exist_ok=True)
                    with args.results.open("a") as handle:
                        handle.write(json.dumps(row) + "\n")
        if args.plots:
            montage(root, args.plots, dataset)
    print(json.dumps({"load": os.getloadavg()}), flush=True)


if __name__ == "__main__":
    main()
