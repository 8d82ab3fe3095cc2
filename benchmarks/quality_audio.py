"""The spoken-digit comparison of benchmarks/quality_audio.md: gankit's ``wavegan --preset cpu``
against a hand-written WaveGAN loop (benchmarks/wavegan_handwritten.py), each given 12
minutes of CPU time on one thread, on FSDD at 8 kHz with 8192-sample clips.

    export OMP_NUM_THREADS=1
    python benchmarks/quality_audio.py gankit --out /work/runs/audio          # 12 CPU-minutes
    python benchmarks/quality_audio.py handwritten --out /work/runs/audio     # 12 CPU-minutes
    python benchmarks/quality_audio.py evaluate --out /work/runs/audio        # scores.json
    python benchmarks/quality_audio.py judge --out /work/runs/audio           # + audio_judge.py's statistics
    python benchmarks/quality_audio.py spectrograms --out /work/runs/audio    # benchmarks/*.png
    python benchmarks/quality_audio.py table --out /work/runs/audio           # markdown

The budget is CPU time of a one-thread process, not wall-clock: the machine these numbers
come from is shared (load 4-8 on 2 cores), and wall-clock there measures the other jobs.
For gankit the driver swaps the training loop's clock (``time.monotonic`` inside
``gankit.engine``) for ``time.process_time`` before calling ``gankit.train``, so the
preset's own ``max_minutes`` stop, and the ``time`` and ``steps_per_s`` in metrics.jsonl,
count CPU seconds of this process from the first step. The hand-written loop checks
``time.process_time`` itself. Both exclude data loading and include everything in the loop
(gankit's logging, previews and checkpoints too).

``evaluate`` runs ``gankit evaluate`` (fd, is, spectral; 2000 clips against the same 2000
real clips, seed 0) on the gankit run and, with ``--samples``, on the hand-written loop's
clips, and scores two references the same way: 1000 real clips outside the reference
subset (real vs real; FD at n=1000, a little above the n=2000 floor) and Gaussian noise.
It also scores 500 clips of every intermediate checkpoint (FD against 500 real clips) for
the learning curves.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data" / "fsdd"
LENGTH = 8192
GANKIT_RUN = "gankit-cpu"
HANDWRITTEN = "handwritten"
N_EVAL = 2000
N_CURVE = 500
# The benchmark's data: 8 kHz, the first 8192 samples of each recording, zero-padded, and
# peak-normalised as the cpu preset does (the hand-written loop does the same).
DATA_OPTIONS = {"length": LENGTH, "normalize": True}


def cpu_clock() -> types.SimpleNamespace:
    """A stand-in for the ``time`` module whose ``monotonic`` is this process's CPU time."""
    clock = {name: getattr(time, name) for name in dir(time) if not name.startswith("_")}
    return types.SimpleNamespace(**{**clock, "monotonic": time.process_time})


def use_cpu_clock() -> None:
    """Make the training loop's clock (run time, ``--max-minutes``) this process's CPU time."""
    import gankit.engine.loop
    import gankit.engine.session
    import gankit.engine.stopping

    for module in (gankit.engine.loop, gankit.engine.session, gankit.engine.stopping):
        module.time = cpu_clock()


def train_gankit(out: Path, data: Path, minutes: float, overrides: dict[str, Any], name: str, seed: int) -> None:
    import gankit

    use_cpu_clock()
    options = {"preset": "cpu", **DATA_OPTIONS, "max_minutes": minutes, "checkpoint_every": 100, "keep_last": 0,
               "sample_every": 100, **overrides}
    started = time.monotonic()
    run = gankit.train("audio", dataset="fsdd", data=str(data), out=str(out / name), seed=seed, quiet=True, **options)
    records = [r for r in run.metrics if "time" in r]
    print(f"{name}: {run.step} steps, {records[-1]['time']:.0f} CPU-s of training, "
          f"{time.monotonic() - started:.0f} s wall in all", flush=True)


def train_handwritten(out: Path, data: Path, minutes: float, seed: int) -> None:
    target = out / HANDWRITTEN
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(HERE / "wavegan_handwritten.py"), "--data", str(data), "--cpu-minutes",
                    str(minutes), "--seed", str(seed), "--n", str(N_EVAL), "--snapshot-every", "50",
                    "--out", str(target / "samples.npy")], check=True)


def gankit_cli(*args: str) -> dict[str, Any]:
    """``gankit evaluate ARGS`` in a one-thread subprocess; its JSON."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "gankit", "evaluate", *args], check=True, capture_output=True,
                          text=True, env=env)
    return json.loads(done.stdout)


def flatten(result: dict[str, Any]) -> dict[str, float]:
    return {f"{metric}/{key}": value for metric, body in result["metrics"].items()
            for key, value in body["values"].items()}


def sample_options(data: Path) -> list[str]:
    args = ["--domain", "audio", "--dataset", "fsdd", "--data", str(data)]
    for key, value in DATA_OPTIONS.items():
        args += ["-o", key, str(value).lower()]
    return args


def references(out: Path, data: Path) -> dict[str, Path]:
    """Real clips outside the n=2000 reference subset, and Gaussian noise at the data's RMS."""
    x = real_clips(data)
    reference = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:N_EVAL]
    outside = torch.ones(len(x), dtype=torch.bool)
    outside[reference] = False
    rms = float(x.pow(2).mean().sqrt())
    noise = (torch.randn(N_EVAL, LENGTH, generator=torch.Generator().manual_seed(1)) * rms).clamp(-1, 1)
    paths = {"real (held out)": out / "real_outside.npy", "noise": out / "noise.npy"}
    held_out = x[outside][torch.randperm(int(outside.sum()), generator=torch.Generator().manual_seed(2))]
    np.save(paths["real (held out)"], held_out.numpy())  # shuffled: IS splits must not be single digits
    np.save(paths["noise"], noise.numpy())
    return paths


def curve_gankit(run: Path, data: Path) -> list[dict[str, float]]:
    import gankit

    times = {r["step"]: r["time"] for r in gankit.load(run).metrics if "time" in r}
    points = []
    for checkpoint in sorted((run / "checkpoints").glob("step-*.pt")):
        step = int(checkpoint.stem.split("-")[1])
        result = gankit.evaluate(checkpoint, n=N_CURVE, data=str(data), metrics=["fd"])
        points.append({"step": step, "cpu_s": times.get(step), "fd": result["metrics"]["fd"]["values"]["fd"]})
        print(run.name, points[-1], flush=True)
    return points


def curve_handwritten(target: Path, data: Path) -> list[dict[str, float]]:
    import gankit

    sys.path.insert(0, str(HERE))
    import wavegan_handwritten as hand

    snapshots = torch.load(target / "snapshots.pt", weights_only=True)
    points = []
    for entry in snapshots:
        generator = hand.Generator(entry["width"])
        generator.load_state_dict(entry["state"])
        clips = hand.draw(generator.eval(), N_CURVE, seed=1)
        result = gankit.evaluate_samples(clips, domain="audio", dataset="fsdd", data=str(data), options=DATA_OPTIONS,
                                         n=N_CURVE, metrics=["fd"])
        points.append({"step": entry["step"], "cpu_s": entry["cpu_s"], "fd": result["metrics"]["fd"]["values"]["fd"]})
        print(target.name, points[-1], flush=True)
    return points


def evaluate(out: Path, data: Path, names: list[str]) -> None:
    scores_path = out / "scores.json"
    scores: dict[str, Any] = json.loads(scores_path.read_text()) if scores_path.exists() else {}
    for name in names:
        target = out / name
        if name in scores:
            continue
        if name == HANDWRITTEN:
            result = gankit_cli("--samples", str(target / "samples.npy"), *sample_options(data), "-n", str(N_EVAL))
            summary = json.loads((target / "samples.json").read_text())
            scores[name] = {"steps": summary["steps"], "cpu_s": summary["cpu_s"], **flatten(result),
                            "protocol": result["metrics"], "curve": curve_handwritten(target, data)}
        else:
            import gankit

            run = gankit.load(target)
            records = [r for r in run.metrics if "time" in r]
            result = gankit_cli(str(target), "--data", str(data), "-n", str(N_EVAL))
            scores[name] = {"steps": run.step, "cpu_s": records[-1]["time"], **flatten(result),
                            "curve": curve_gankit(target, data)}
        print(name, {k: round(v, 3) for k, v in scores[name].items() if isinstance(v, float)}, flush=True)
        scores_path.write_text(json.dumps(scores, indent=1))
    if "references" not in scores:
        scores["references"] = {}
        for name, path in references(out, data).items():
            result = gankit_cli("--samples", str(path), *sample_options(data), "-n", str(N_EVAL))
            scores["references"][name] = {"n": result["n"], **flatten(result)}
            print(name, scores["references"][name], flush=True)
        scores_path.write_text(json.dumps(scores, indent=1))


def judge_all(out: Path, data: Path, names: list[str], n: int = 500) -> None:
    """benchmarks/audio_judge.py's listener-free statistics (spectral flatness, periodicity,
    silent share, mel L1, diversity) of ``n`` clips of each source against ``n`` reference clips."""
    import gankit

    sys.path.insert(0, str(HERE))
    from audio_judge import judge

    x = real_clips(data)
    reference = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:n]]
    sources = {name: (np.load(out / name / "samples.npy")[:n] if name == HANDWRITTEN
                      else gankit.load(out / name).sample(n, seed=0)[:, 0].numpy()) for name in names}
    sources["real (held out)"] = np.load(out / "real_outside.npy")[:n]
    sources["noise"] = np.load(out / "noise.npy")[:n]
    scores = json.loads((out / "scores.json").read_text())
    judged = {name: judge(clips, reference, 8000) for name, clips in sources.items()}
    scores["judge"] = {**scores.get("judge", {}), **judged}
    for name, values in judged.items():
        print(name, {k: round(v, 3) for k, v in values.items()}, flush=True)
    (out / "scores.json").write_text(json.dumps(scores, indent=1))


def real_clips(data: Path) -> torch.Tensor:
    """The benchmark's FSDD clips, N×8192."""
    import gankit.registry
    from gankit.options import build_options

    spec = gankit.registry.get_registry().dataset("audio", "fsdd")
    return spec.build(build_options(spec.options, DATA_OPTIONS, what="fsdd"), data).tensors[0][:, 0]


def spectrograms(out: Path, data: Path, names: list[str], count: int = 8) -> None:
    """PNG grids (4 per row) of the log-mel spectrograms of ``count`` clips of each source:
    the gankit runs named (G-EMA, latent seed 1), the hand-written loop (its first clips) and
    real clips (the first of the seed-0 reference subset)."""
    from PIL import Image

    import gankit
    from gankit.plugins.audio.io import save_spectrogram_grid

    x = real_clips(data)
    sources = {"real": x[torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:count]].numpy()}
    for name in names:
        if name == HANDWRITTEN:
            sources[name] = np.load(out / HANDWRITTEN / "samples.npy")[:count]
        else:
            sources[name] = gankit.load(out / name).sample(count, seed=1)[:, 0].numpy()
    for name, clips in sources.items():
        path = save_spectrogram_grid(clips, HERE / f"quality_audio_{name.replace('-', '_')}.png", 8000)
        Image.open(path).quantize(64).save(path, optimize=True)  # a third of the size, no visible change
        print(path, flush=True)


def table(out: Path) -> str:
    """The scores (every run in scores.json, then the references) and the judge's statistics
    as markdown tables."""
    scores = json.loads((out / "scores.json").read_text())
    runs = {name: entry for name, entry in scores.items() if name not in ("references", "judge")}
    rows = ["| clips | steps | CPU-min | FD ↓ | IS ↑ | RMS | silence | centroid (Hz) |",
            "|---|---|---|---|---|---|---|---|"]
    for name, entry in [*runs.items(), *scores.get("references", {}).items()]:
        steps = entry.get("steps", "–")
        minutes = f"{entry['cpu_s'] / 60:.1f}" if "cpu_s" in entry else "–"
        rows.append(f"| {name} | {steps} | {minutes} | {entry['fd/fd']:.2f} | {entry['is/is']:.2f} ± "
                    f"{entry['is/is_std']:.2f} | {entry['spectral/rms_fake']:.3f} | {entry['spectral/silence_fake']:.2f} "
                    f"| {entry['spectral/centroid_hz_fake']:.0f} |")
    first = next(iter(runs.values()))
    rows.append(f"| real reference (n={N_EVAL}) | | | 0 | {first['is/is_real']:.2f} ± {first['is/is_real_std']:.2f} "
                f"| {first['spectral/rms_real']:.3f} | {first['spectral/silence_real']:.2f} "
                f"| {first['spectral/centroid_hz_real']:.0f} |")
    if "judge" in scores:
        rows += ["", "| clips | flatness | periodicity | silent | mel L1 (dB) | diversity |", "|---|---|---|---|---|---|"]
        rows += [f"| {name} | {v['flatness']:.3f} | {v['periodicity']:.2f} | {v['silent']:.2f} | {v['mel_l1']:.1f} "
                 f"| {v['diversity']:.2f} |" for name, v in scores["judge"].items()]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["gankit", "handwritten", "evaluate", "judge", "spectrograms", "table"])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--minutes", type=float, default=12.0, help="CPU-minutes of training")
    parser.add_argument("--name", default=GANKIT_RUN, help="gankit: the run's folder under --out")
    parser.add_argument("--set", default="{}", help="gankit: JSON object of options over the preset's")
    parser.add_argument("--only", action="append",
                        help="evaluate, judge, spectrograms: these run folders (default: gankit-cpu and handwritten)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    data = args.data.resolve()
    if args.command == "gankit":
        train_gankit(args.out, data, args.minutes, json.loads(args.set), args.name, args.seed)
    elif args.command == "handwritten":
        train_handwritten(args.out, data, args.minutes, args.seed)
    elif args.command == "evaluate":
        evaluate(args.out, data, args.only or [GANKIT_RUN, HANDWRITTEN])
    elif args.command == "judge":
        judge_all(args.out, data, args.only or [GANKIT_RUN, HANDWRITTEN])
    elif args.command == "spectrograms":
        spectrograms(args.out, data, args.only or [GANKIT_RUN, HANDWRITTEN])
    else:
        print(table(args.out))


if __name__ == "__main__":
    main()
