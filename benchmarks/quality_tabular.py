"""Quality of the tabular domain (issue 18; results in quality_tabular.md).

``adult``: gankit's ``ctgan`` against the ``ctgan`` package (sdv-dev/CTGAN 0.12.x) on UCI Adult
at equal CPU time, one thread each, several seeds. The shared training part of Adult
(``shared/data/tabular/adult_train.csv``) is split 80/20, stratified by ``income`` (seed 0):
both tools train on the 80% and are scored by the same code (``gankit.plugins.tabular.scoring
.score_frames``, SDMetrics' definitions) on as many synthetic rows as training rows, against
the training rows and the 20% held out. Each tool runs in its own process with a budget of
CPU seconds counted from the process's start, preprocessing (the mixture fits) included:
gankit stops at the first log step past it (a listener sends SIGINT: the run ends cleanly
with a checkpoint), the package at the first epoch end past it (its epoch loop is wrapped).

``second``: a table that is not Adult, scikit-learn's bundled breast-cancer data (569 rows,
30 measurements and the diagnosis; no download), split 80/20 and run end to end through the
CLI only: ``gankit train`` / ``sample`` / ``evaluate``.

The package needs pandas < 3 (through rdt); it is installed outside the venv so the venv's
torch and pandas stay as they are::

    pip install --no-deps --target /tmp/h8ctgan ctgan==0.12.1 rdt==2.0.0 pandas==2.3.3 Faker pytz
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/quality_tabular.py adult --work /tmp/qt --budget 240 \\
        --seeds 0 1 2 --ctgan-path /tmp/h8ctgan
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/quality_tabular.py second --work /tmp/qt
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

ADULT = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "tabular" / "adult_train.csv"
DISCRETE = ["workclass", "education", "marital-status", "occupation", "relationship", "race", "sex", "native-country",
            "income"]
BATCH = 500
LOG_EVERY = 10


def split(source: Path, out: Path, target: str, seed: int = 0) -> tuple[Path, Path]:
    """80/20, stratified by ``target``, rows kept in file order."""
    import numpy as np
    import pandas as pd

    frame = pd.read_csv(source)
    rng = np.random.default_rng(seed)
    held = np.zeros(len(frame), dtype=bool)
    for value in sorted(frame[target].astype(str).unique()):
        rows = np.flatnonzero(frame[target].astype(str).to_numpy() == value)
        held[rng.permutation(rows)[:round(0.2 * len(rows))]] = True
    out.mkdir(parents=True, exist_ok=True)
    fit, val = out / "fit.csv", out / "val.csv"
    frame[~held].to_csv(fit, index=False)
    frame[held].to_csv(val, index=False)
    return fit, val


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# Workers: one process per tool and seed ---------------------------------------------------------

def gankit_worker(args: argparse.Namespace) -> None:
    """Train gankit's ctgan until the CPU budget is spent, then sample."""
    import signal
    import types

    import torch

    torch.set_num_threads(1)
    import gankit
    from gankit import hookimpl
    from gankit.callbacks import Callback, CallbackSpec
    from gankit.testing import plugin_registered

    marks: dict[str, float] = {}

    class Budget(Callback):
        def on_run_start(self, run):
            marks["loop_start"] = cpu()

        def on_log(self, step, record):
            marks["loop_end"], marks["steps"] = cpu(), step
            if cpu() > args.budget and "stopped" not in marks:
                marks["stopped"] = step
                os.kill(os.getpid(), signal.SIGINT)

    plugin = types.SimpleNamespace(register_callbacks=hookimpl(
        lambda register: register(CallbackSpec(name="cpu-budget", description="stop at a CPU budget", build=Budget))))
    with plugin_registered(plugin, name="cpu-budget"):
        try:
            gankit.train("tabular", dataset="file", data=str(args.data), target="income", seed=args.seed,
                         steps=10**6, log_every=LOG_EVERY, sample_every=10**6, checkpoint_every=10**6,
                         out=str(args.out / "run"), device="cpu", callbacks=("cpu-budget",), quiet=True)
        except KeyboardInterrupt:
            pass
    trained = cpu()
    run = gankit.load(args.out / "run")
    run.save_samples(args.out / "synthetic.csv", args.rows, seed=args.seed)
    steps = int(marks["steps"])
    loop = marks["loop_end"] - marks["loop_start"]
    result = {"tool": "gankit", "seed": args.seed, "cpu_train": trained, "cpu_preprocess": marks["loop_start"],
              "steps": steps, "epochs": steps * BATCH / args.fit_rows, "cpu_loop": loop,
              "rows_per_cpu_s": steps * BATCH / loop, "cpu_sample": cpu() - trained}
    (args.out / "result.json").write_text(json.dumps(result, indent=2))


def ctgan_worker(args: argparse.Namespace) -> None:
    """Train the ctgan package until the CPU budget is spent (checked at each epoch's end),
    then sample."""
    import pandas as pd
    import torch

    torch.set_num_threads(1)
    import ctgan.synthesizers.ctgan as module
    from ctgan import CTGAN

    marks: dict[str, float] = {"epochs": 0}

    def budgeted(iterable, **kwargs):
        marks["loop_start"] = cpu()
        for epoch in iterable:
            if cpu() > args.budget:
                break
            yield epoch
            marks["epochs"] = epoch + 1
            marks["loop_end"] = cpu()

    module.tqdm = budgeted  # the epoch loop: `for i in tqdm(range(epochs), disable=...)`
    torch.manual_seed(args.seed)
    data = pd.read_csv(args.data)
    model = CTGAN(epochs=10**6, enable_gpu=False)
    model.set_random_state(args.seed)
    model.fit(data, DISCRETE)
    trained = cpu()
    model.sample(args.rows).to_csv(args.out / "synthetic.csv", index=False)
    steps = marks["epochs"] * max(len(data) // BATCH, 1)
    loop = marks["loop_end"] - marks["loop_start"]
    result = {"tool": "ctgan 0.12.1", "seed": args.seed, "cpu_train": trained, "cpu_preprocess": marks["loop_start"],
              "steps": steps, "epochs": marks["epochs"], "cpu_loop": loop, "rows_per_cpu_s": steps * BATCH / loop,
              "cpu_sample": cpu() - trained}
    (args.out / "result.json").write_text(json.dumps(result, indent=2))


# The comparisons --------------------------------------------------------------------------------

def adult(args: argparse.Namespace) -> None:
    import pandas as pd

    from gankit.plugins.tabular.datasets import read_frame
    from gankit.plugins.tabular.scoring import score_frames
    from gankit.plugins.tabular.options import TableOptions

    fit, val = split(ADULT, args.work, "income")
    rows = len(pd.read_csv(fit))
    jobs = []  # every tool and seed at once: each process is timed by its own CPU clock
    for seed in args.seeds:
        for tool, extra in (("gankit", {}), ("ctgan", {"PYTHONPATH": str(args.ctgan_path)})):
            out = args.work / f"{tool}-seed{seed}"
            out.mkdir(parents=True, exist_ok=True)
            env = {**os.environ, "OMP_NUM_THREADS": "1", "GANKIT_CACHE": str(out / "cache"), **extra}
            command = [sys.executable, __file__, f"{tool}-worker", "--data", str(fit), "--out", str(out), "--seed",
                       str(seed), "--budget", str(args.budget), "--rows", str(rows), "--fit-rows", str(rows)]
            print("$", " ".join(shlex.quote(c) for c in command), flush=True)
            jobs.append((seed, out, subprocess.Popen(command, env=env)))  # as nice as this process
    for _, out, job in jobs:
        if job.wait() != 0:
            raise SystemExit(f"{out.name} failed")
    options = TableOptions(target="income")
    training, holdout = read_frame(fit, options)[0], read_frame(val, options)[0]
    results = []
    for seed, out, _ in jobs:
        params = json.loads((args.work / f"gankit-seed{seed}" / "run" / "config.json").read_text())["data_info"]["extra"]
        started = time.process_time()
        synthetic = read_frame(out / "synthetic.csv", TableOptions(max_categories=10**6))[0]
        scores = score_frames(synthetic, training, holdout, params, target="income", seed=seed)
        record = {**json.loads((out / "result.json").read_text()), **scores, "cpu_score": time.process_time() - started}
        results.append(record)
        print(json.dumps(record), flush=True)
    (args.work / "adult-results.json").write_text(json.dumps(results, indent=2))
    print(table(results))


def table(results: list[dict]) -> str:
    import numpy as np

    rows = [("quality score", "quality", "score"), ("column shapes", "shapes", "score"),
            ("column pair trends", "pairs", "score"), ("TSTR AUC (income)", "efficacy", "tstr_auc"),
            ("TRTR AUC", "efficacy", "trtr_auc"), ("TSTR F1", "efficacy", "tstr_f1"), ("TRTR F1", "efficacy", "trtr_f1"),
            ("DCR synthetic (median)", "privacy", "dcr_synthetic"), ("DCR held-out (median)", "privacy", "dcr_holdout"),
            ("exact copies", "privacy", "exact_copies"), ("closer to training", "privacy", "closer_to_training"),
            ("CPU s, total to the end of training", None, "cpu_train"), ("CPU s, preprocessing", None, "cpu_preprocess"),
            ("epochs", None, "epochs"), ("steps", None, "steps"), ("rows/CPU-s (training loop)", None, "rows_per_cpu_s")]
    tools = sorted({r["tool"] for r in results})
    lines = ["| | " + " | ".join(tools) + " |", "|---|" + "---|" * len(tools)]
    for label, group, key in rows:
        cells = []
        for tool in tools:
            values = [(r[group] if group else r)[key] for r in results if r["tool"] == tool]
            cells.append(f"{np.mean(values):.3f} ± {np.std(values):.3f}" if len(values) > 1 else f"{values[0]:.3f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def second(args: argparse.Namespace) -> None:
    """scikit-learn's breast-cancer table, through the CLI only."""
    from sklearn.datasets import load_breast_cancer

    work = args.work / "breast-cancer"
    work.mkdir(parents=True, exist_ok=True)
    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.assign(target=bunch.target.map(dict(enumerate(bunch.target_names))))
    frame.to_csv(work / "breast_cancer.csv", index=False)
    fit, val = split(work / "breast_cancer.csv", work, "target")
    run = work / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GANKIT_CACHE": str(work / "cache")}
    commands = [
        f"gankit train tabular --dataset file --data {fit} -o target target --batch-size 50 --steps {args.steps} "
        f"--log-every 100 --sample-every 1000 --checkpoint-every 1000 --device cpu --seed 0 --out {run} --overwrite",
        f"gankit sample {run} -n 455 --out {work / 'synthetic.csv'}",
        f"gankit sample {run} -n 100 --condition target=malignant --out {work / 'malignant.csv'}",
        f"gankit evaluate {run} -n 455 --metric-option holdout {val}",
    ]
    for command in commands:
        print("$", command, flush=True)
        started = time.time()
        done = subprocess.run(shlex.split(command), env=env, capture_output=True, text=True)
        print(done.stdout[-6000:], done.stderr[-2000:], f"[{time.time() - started:.0f} s wall]", flush=True)
        if done.returncode:
            raise SystemExit(f"failed: {command}")
        if command.startswith("gankit evaluate"):
            (work / "evaluate.json").write_text(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["adult", "second", "gankit-worker", "ctgan-worker"])
    parser.add_argument("--work", type=Path, default=Path("/tmp/quality-tabular"))
    parser.add_argument("--budget", type=float, default=240.0, help="CPU seconds per training run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--ctgan-path", type=Path, default=Path("/tmp/h8ctgan"))
    parser.add_argument("--steps", type=int, default=2000, help="second: training steps")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows", type=int, default=0)
    parser.add_argument("--fit-rows", type=int, default=0)
    args = parser.parse_args()
    {"adult": adult, "second": second, "gankit-worker": gankit_worker, "ctgan-worker": ctgan_worker}[args.what](args)


if __name__ == "__main__":
    main()
