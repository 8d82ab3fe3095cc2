"""Text GAN quality on COCO captions: MLE pre-training alone against MLE + adversarial
training, for the ``lstm`` and ``transformer`` models over several seeds, with the
quality–diversity curve across sampling temperatures (Caccia et al. 2020).

    OMP_NUM_THREADS=1 python benchmarks/quality_text.py --data ../shared/data/text/image_coco_train.txt \\
        --out runs/text/quality                        # train and score every (model, seed)
    python benchmarks/quality_text.py --out runs/text/quality --report    # the tables of quality_text.md

Each (model, seed) is one ``gankit.train("text", dataset="lines", ...)`` run: the lstm with
``preset="cpu"``, the transformer with the options in ``RUN_OPTIONS`` (``--lstm KEY=VALUE`` /
``--transformer KEY=VALUE`` override them, e.g. fewer steps). The preset's ``max_minutes``
is put out of reach: the budget is the stated steps and CPU time, not the wall-clock of a
shared machine.
The checkpoint written when pre-training ends (``checkpoints/step-0000000.pt``) is the
**MLE** row, the last checkpoint the **GAN** row: the same run, the same data and seed.
Both are scored at every ``--temperatures`` value (the generator's ``sample_temperature``)
with gankit's ``bleu`` and ``diversity`` metrics on ``-n`` samples: BLEU-2..5 against the
1000 held-out lines (the ``lines`` dataset's ``reference_fraction`` 0.1, ``data_seed`` 0)
and self-BLEU of the first 500 samples.

Time is **CPU time of this one-thread process** (``torch.set_num_threads(1)``,
``time.process_time``), read by a listener when pre-training ends and when the run ends,
so other jobs on the machine do not change the numbers; on an idle machine it equals
wall-clock for one thread. Results are appended to ``OUT/results.jsonl`` one (model, seed)
at a time, and a rerun skips what is there.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path
from typing import Any

import torch

ORDERS = (2, 3, 4, 5)
TEMPERATURES = (0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3)
METRICS = ("bleu", "diversity")
CLOCK = "quality-text-cpu-clock"
SAMPLES_SHOWN = 8
WALL_CLOCK_OFF = 1e6  # minutes: an option left None does not override the preset's max_minutes
# What each model trains with (the model's defaults apply below these). The transformer
# has no `cpu` preset: these options, its gentlest measured ones, still collapse it.
RUN_OPTIONS: dict[str, dict[str, Any]] = {
    "lstm": {"preset": "cpu"},
    "transformer": {"tokenizer": "word", "max_length": 21, "vocab_size": 3000, "pretrain_steps": 2000,
                    "steps": 200, "lr_g": 5e-5, "lr_d": 5e-4, "beta_max": 3.0, "sample_every": 100, "log_every": 25},
}


# Training ----------------------------------------------------------------------------------

class _Clock:
    """CPU seconds at the end of pre-training and at the end of the run, filled in by the
    listener of the current run."""

    pretrain_end: float | None = None
    run_end: float | None = None


def _register_clock() -> None:
    """A listener (a runtime plugin) that reads this process's CPU clock when pre-training
    ends (its step-0 checkpoint) and when the run ends."""
    from gankit.callbacks import Callback, CallbackSpec
    from gankit.hookspecs import hookimpl
    from gankit.registry import plugin_manager

    class CpuClock(Callback):
        def on_checkpoint(self, step: int, path: Path) -> None:
            if step == 0:
                _Clock.pretrain_end = time.process_time()

        def on_run_end(self, step: int, status: str) -> None:
            _Clock.run_end = time.process_time()

    class Plugin:
        @hookimpl
        def register_callbacks(self, register: Any) -> None:
            register(CallbackSpec(CLOCK, "CPU time of the run's phases (benchmarks/quality_text.py)", CpuClock))

    manager = plugin_manager()
    if manager.get_plugin(CLOCK) is None:
        manager.register(Plugin(), name=CLOCK)


def train(model: str, seed: int, data: str, run_dir: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    """One run of ``model`` with its ``RUN_OPTIONS`` and ``overrides``; returns its steps
    and CPU times."""
    import gankit

    _register_clock()
    _Clock.pretrain_end = _Clock.run_end = None
    run_options = {**RUN_OPTIONS.get(model, {}), **overrides}
    options = {"model": model, "dataset": "lines", "data": data, "seed": seed, "out": str(run_dir), "quiet": True,
               "keep_last": 0, "checkpoint_every": 10 ** 9, "callbacks": [CLOCK], **run_options,
               "max_minutes": WALL_CLOCK_OFF}
    started = time.process_time()
    run = gankit.train("text", **options)
    pretrain_cpu = (_Clock.pretrain_end or started) - started
    total_cpu = (_Clock.run_end or time.process_time()) - started
    cfg = run.config.train
    return {"pretrain_steps": cfg.pretrain_steps, "steps": run.step, "pretrain_cpu_s": round(pretrain_cpu, 1),
            "adversarial_cpu_s": round(total_cpu - pretrain_cpu, 1), "batch_size": cfg.batch_size,
            "options": run_options}


# Scoring -----------------------------------------------------------------------------------

def score_checkpoint(path: Path, temperatures: tuple[float, ...], n: int) -> tuple[list[dict[str, Any]], dict]:
    """BLEU and diversity of a checkpoint's generator at each sampling temperature, and the
    protocol the metrics report."""
    import gankit
    from gankit.evaluation import dataset_key, generate, score
    from gankit.plugins.text.io import decode
    from gankit.registry import get_registry

    registry = get_registry()
    run = gankit.load(path)
    cfg = run.config.train
    dataset = registry.dataset("text", cfg.dataset).build(run.config.dataset_options, Path(cfg.data))
    specs = [registry.metrics_for("text")[name] for name in METRICS]
    key = dataset_key(cfg.dataset, run.config.dataset_options, cfg.data)
    cpu = torch.device("cpu")
    rows, protocol = [], {}
    for temperature in temperatures:
        run.generator.sample_temperature = temperature
        result = score(run.generator, dataset, run.info, specs, n=n, seed=0, device=cpu, key=key)
        values = {k: round(v, 4) for name in METRICS for k, v in result["metrics"][name]["values"].items()}
        texts = decode(generate(run.generator, n, 1, cpu), run.info)  # the samples score() drew (latent seed 0 + 1)
        values["words"] = round(sum(len(text.split()) for text in texts) / len(texts), 2)
        rows.append({"temperature": temperature, **values})
        protocol = result["metrics"]["bleu"]["protocol"]
    return rows, protocol


def samples(path: Path, count: int, temperature: float = 1.0) -> list[str]:
    import gankit
    from gankit.plugins.text.io import decode

    run = gankit.load(path)
    run.generator.sample_temperature = temperature
    return decode(run.sample(count, seed=1), run.info)


# Reporting ---------------------------------------------------------------------------------

def _mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def _interpolate(curve: list[tuple[float, float]], x: float) -> float | None:
    """The curve's y at x (points sorted by x), None outside its range."""
    for (x0, y0), (x1, y1) in zip(curve, curve[1:]):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return None


def mean_curve(records: list[dict[str, Any]], model: str, phase: str) -> list[dict[str, float]]:
    """Per temperature, the mean over seeds of every value."""
    rows = [r for r in records if r["model"] == model and r["phase"] == phase]
    by_t: dict[float, list[dict[str, Any]]] = {}
    for row in rows:
        by_t.setdefault(row["temperature"], []).append(row)
    keys = [f"bleu{n}" for n in ORDERS] + [f"self_bleu{n}" for n in ORDERS] + ["unique", "copied", "words"]
    return [{"temperature": t, "seeds": len(group), **{k: statistics.mean(r[k] for r in group) for k in keys}}
            for t, group in sorted(by_t.items())]


def report(out: Path, baseline: dict[str, Any] | None = None) -> str:
    """Markdown tables of ``OUT/results.jsonl`` (and of the hand-written MLE baseline's
    ``result.json`` when given)."""
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines() if line.strip()]
    runs = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines() if line.strip()]
    lines = []
    if baseline:
        lines += ["### The hand-written MLE baseline", "",
                  f"{baseline['steps']} steps in {baseline['train_cpu_s'] / 60:.1f} CPU minutes (1 thread), "
                  f"{baseline['epochs']} epochs, vocabulary {baseline['vocab']}:", "",
                  "| temperature | BLEU-2 | BLEU-3 | BLEU-4 | BLEU-5 | self-BLEU-3 | self-BLEU-4 | unique | copied |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for row in sorted(baseline["results"], key=lambda r: r["temperature"]):
            lines.append(f"| {row['temperature']:g} | " + " | ".join(f"{row[k]:.3f}" for k in (
                "bleu2", "bleu3", "bleu4", "bleu5", "self_bleu3", "self_bleu4", "unique", "copied")) + " |")
        lines.append("")
    for model in dict.fromkeys(r["model"] for r in runs):
        model_runs = [r for r in runs if r["model"] == model]
        first = model_runs[0]
        lines += [f"### `{model}`", "",
                  f"{len(model_runs)} seeds ({', '.join(str(r['seed']) for r in model_runs)}); "
                  f"{first['pretrain_steps']} MLE steps, then {first['steps']} adversarial steps, batch "
                  f"{first['batch_size']}; run options: `{json.dumps(first['options'])}`", "",
                  "| after | steps | CPU minutes (1 thread) | BLEU-2 | BLEU-3 | BLEU-4 | BLEU-5 | self-BLEU-3 | "
                  "self-BLEU-4 | unique | copied | words |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for phase, label in (("mle", "MLE only"), ("gan", "MLE + GAN")):
            rows = [r for r in records if r["model"] == model and r["phase"] == phase and r["temperature"] == 1.0]
            if not rows:
                continue
            steps = (f"{first['pretrain_steps']}" if phase == "mle" else
                     f"{first['pretrain_steps']} + {first['steps']}")
            cpu = [(r["pretrain_cpu_s"] + (r["adversarial_cpu_s"] if phase == "gan" else 0)) / 60 for r in model_runs]
            cells = [_mean_std([r[k] for r in rows]) for k in
                     [f"bleu{n}" for n in ORDERS] + ["self_bleu3", "self_bleu4", "unique", "copied", "words"]]
            lines.append(f"| {label} | {steps} | {statistics.mean(cpu):.1f} | " + " | ".join(cells) + " |")
        lines += ["", "Quality–diversity curve (means over seeds; BLEU-4 and self-BLEU-4, and for the GAN the "
                      "MLE curve's BLEU-4 at the GAN's self-BLEU-4):", "",
                  "| temperature | MLE BLEU-4 | MLE self-BLEU-4 | MLE words | GAN BLEU-4 | GAN self-BLEU-4 | "
                  "GAN words | MLE BLEU-4 at the GAN's self-BLEU-4 | GAN − MLE |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        mle, gan = mean_curve(records, model, "mle"), mean_curve(records, model, "gan")
        curve = sorted((row["self_bleu4"], row["bleu4"]) for row in mle)
        for m_row, g_row in zip(mle, gan):
            at = _interpolate(curve, g_row["self_bleu4"])
            delta = f"{g_row['bleu4'] - at:+.3f}" if at is not None else "outside MLE's range"
            lines.append(f"| {m_row['temperature']:g} | {m_row['bleu4']:.3f} | {m_row['self_bleu4']:.3f} | "
                         f"{m_row['words']:.1f} | {g_row['bleu4']:.3f} | {g_row['self_bleu4']:.3f} | "
                         f"{g_row['words']:.1f} | "
                         f"{'' if at is None else f'{at:.3f}'} | {delta} |")
        lines += ["", "Each seed's GAN against its own MLE curve at equal diversity (BLEU-n of the GAN minus the MLE "
                      "curve's BLEU-n at the GAN's self-BLEU-n; per temperature, means over seeds with each seed in "
                      "brackets; empty where the GAN's self-BLEU lies outside the MLE curve's range):", "",
                  "| temperature | " + " | ".join(f"Δ BLEU-{n}" for n in ORDERS) + " |",
                  "|---:|" + "---:|" * len(ORDERS)]
        for temperature in sorted({r["temperature"] for r in records if r["model"] == model}):
            cells = []
            for n in ORDERS:
                deltas = per_seed_deltas(records, model, temperature, n)
                cells.append(f"{statistics.mean(deltas):+.3f} ({', '.join(f'{d:+.3f}' for d in deltas)})"
                             if deltas and len(deltas) == len(model_runs) else "")
            lines.append(f"| {temperature:g} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def per_seed_deltas(records: list[dict[str, Any]], model: str, temperature: float, n: int) -> list[float]:
    """For each seed, the GAN's BLEU-n at ``temperature`` minus that seed's MLE curve's
    BLEU-n at the GAN's self-BLEU-n (seeds where it falls outside the curve are left out)."""
    deltas = []
    for seed in sorted({r["seed"] for r in records if r["model"] == model}):
        mle = sorted((r[f"self_bleu{n}"], r[f"bleu{n}"]) for r in records
                     if r["model"] == model and r["seed"] == seed and r["phase"] == "mle")
        gan = [r for r in records if r["model"] == model and r["seed"] == seed and r["phase"] == "gan"
               and r["temperature"] == temperature]
        if gan:
            at = _interpolate(mle, gan[0][f"self_bleu{n}"])
            if at is not None:
                deltas.append(gan[0][f"bleu{n}"] - at)
    return deltas


def plot(out: Path, path: Path, baseline: list[dict[str, Any]] | None = None) -> None:
    """BLEU-4 against self-BLEU-4 across temperatures, MLE and GAN per model (and the
    hand-written MLE baseline's curve when given), as a PNG."""
    from PIL import Image, ImageDraw

    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines() if line.strip()]
    models = list(dict.fromkeys(r["model"] for r in records))
    curves = {(m, p): mean_curve(records, m, p) for m in models for p in ("mle", "gan")}
    if baseline:
        curves[("hand-written", "mle")] = baseline
    xs = [row["self_bleu4"] for c in curves.values() for row in c]
    ys = [row["bleu4"] for c in curves.values() for row in c]
    x0, x1 = math.floor(min(xs) * 20) / 20, math.ceil(max(xs) * 20) / 20
    y0, y1 = math.floor(min(ys) * 20) / 20, math.ceil(max(ys) * 20) / 20
    width, height, margin = 720, 520, 70
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)

    def at(x: float, y: float) -> tuple[float, float]:
        return (margin + (x - x0) / (x1 - x0) * (width - 2 * margin),
                height - margin - (y - y0) / (y1 - y0) * (height - 2 * margin))

    draw.rectangle([margin, margin, width - margin, height - margin], outline="black")
    for k in range(round((x1 - x0) / 0.05) + 1):
        x = x0 + 0.05 * k
        px, py = at(x, y0)
        draw.line([px, py, px, py + 5], fill="black")
        draw.text((px - 12, py + 8), f"{x:.2f}", fill="black")
    for k in range(round((y1 - y0) / 0.05) + 1):
        y = y0 + 0.05 * k
        px, py = at(x0, y)
        draw.line([px - 5, py, px, py], fill="black")
        draw.text((px - 40, py - 6), f"{y:.2f}", fill="black")
    draw.text((width / 2 - 110, height - 30), "self-BLEU-4 (lower: more diverse)", fill="black")
    temperatures = sorted({row["temperature"] for c in curves.values() for row in c})
    draw.text((10, 20), f"BLEU-4 against held-out lines (higher: better); points: sampling temperatures "
                        f"{temperatures[0]:g} ... {temperatures[-1]:g} (means over seeds)", fill="black")
    colours = {"lstm": (31, 119, 180), "transformer": (214, 39, 40), "hand-written": (120, 120, 120)}
    legend_y = height - margin - 20 - 16 * (len(curves) + 1)
    for (model, phase), curve in curves.items():
        colour = colours.get(model, (80, 80, 80))
        points = [at(row["self_bleu4"], row["bleu4"]) for row in sorted(curve, key=lambda r: r["temperature"])]
        for a, b in zip(points, points[1:]):
            if phase == "gan":
                draw.line([a, b], fill=colour, width=3)
            else:
                _dashed(draw, a, b, colour)
        for (px, py), row in zip(points, sorted(curve, key=lambda r: r["temperature"])):
            draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=colour)
            if row["temperature"] == 1.0:
                draw.ellipse([px - 6, py - 6, px + 6, py + 6], outline=colour, width=2)
        draw.text((width - margin - 150, legend_y), f"{model} {'GAN (solid)' if phase == 'gan' else 'MLE (dashed)'}",
                  fill=colour)
        legend_y += 16
    draw.text((width - margin - 150, legend_y), "ring: temperature 1", fill="black")
    image.save(path)


def _dashed(draw: Any, a: tuple[float, float], b: tuple[float, float], colour: tuple[int, int, int]) -> None:
    length = math.dist(a, b)
    pieces = max(1, int(length // 8))
    for k in range(0, pieces, 2):
        s, e = k / pieces, min(1.0, (k + 1) / pieces)
        draw.line([a[0] + (b[0] - a[0]) * s, a[1] + (b[1] - a[1]) * s,
                   a[0] + (b[0] - a[0]) * e, a[1] + (b[1] - a[1]) * e], fill=colour, width=2)


# Command line ------------------------------------------------------------------------------

def _overrides(pairs: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        key, _, text = pair.partition("=")
        try:
            values[key] = json.loads(text)
        except json.JSONDecodeError:
            values[key] = text
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="COCO captions, one a line (image_coco_train.txt)")
    parser.add_argument("--out", required=True, help="folder for runs, results.jsonl, samples and the plot")
    parser.add_argument("--models", default="lstm,transformer")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--temperatures", default=",".join(f"{t:g}" for t in TEMPERATURES))
    parser.add_argument("-n", type=int, default=1000, help="samples scored per temperature")
    parser.add_argument("--lstm", action="append", default=[], metavar="KEY=VALUE", help="option for lstm runs")
    parser.add_argument("--transformer", action="append", default=[], metavar="KEY=VALUE",
                        help="option for transformer runs")
    parser.add_argument("--report", action="store_true", help="only print the tables and draw the plot")
    parser.add_argument("--baseline", help="result.json of benchmarks/text_mle_baseline.py, shown beside the runs")
    parser.add_argument("--rescore", action="store_true",
                        help="score the finished runs in OUT again (other -n or --temperatures), without training")
    args = parser.parse_args()
    out = Path(args.out)
    if not args.report:
        if not args.data and not args.rescore:
            parser.error("--data is required to train")
        torch.set_num_threads(1)
        out.mkdir(parents=True, exist_ok=True)
        temperatures = tuple(float(t) for t in args.temperatures.split(","))
        done: dict[tuple[str, int], dict[str, Any]] = {}
        if (out / "runs.jsonl").exists():
            done = {(r["model"], r["seed"]): r for r in map(json.loads, (out / "runs.jsonl").read_text().splitlines())}
        if args.rescore:
            (out / "results.jsonl").unlink(missing_ok=True)
            (out / "runs.jsonl").unlink(missing_ok=True)
        for model in args.models.split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                run_dir = out / f"{model}-seed{seed}"
                if (model, seed) in done and not args.rescore:
                    continue
                if args.rescore:
                    if (model, seed) not in done:
                        continue
                    info = {k: v for k, v in done[(model, seed)].items()
                            if k not in ("model", "seed", "scoring_cpu_s", "protocol")}
                else:
                    info = train(model, seed, args.data, run_dir, _overrides(getattr(args, model)))
                scored_cpu = time.process_time()
                rows = []
                for phase, checkpoint in (("mle", "step-0000000.pt"), ("gan", "last.pt")):
                    curve, protocol = score_checkpoint(run_dir / "checkpoints" / checkpoint, temperatures, args.n)
                    rows += [{"model": model, "seed": seed, "phase": phase, **info, **row} for row in curve]
                    text = samples(run_dir / "checkpoints" / checkpoint, SAMPLES_SHOWN)
                    (out / f"samples-{model}-seed{seed}-{phase}.txt").write_text("\n".join(text) + "\n")
                with (out / "results.jsonl").open("a") as handle:
                    handle.writelines(json.dumps(row) + "\n" for row in rows)
                with (out / "runs.jsonl").open("a") as handle:
                    handle.write(json.dumps({"model": model, "seed": seed, **info,
                                             "scoring_cpu_s": round(time.process_time() - scored_cpu, 1),
                                             "protocol": protocol}) + "\n")
                print(f"{model} seed {seed}: {json.dumps(info)}", flush=True)
    baseline = json.loads(Path(args.baseline).read_text()) if args.baseline else None
    print(report(out, baseline))
    plot(out, out / "quality_text.png", baseline["results"] if baseline else None)


if __name__ == "__main__":
    main()
