"""The vocoder benchmark of benchmarks/quality_vocoder.md: gankit's vocoders (``vocos`` or
``hifigan``, ``--preset cpu``) trained on FSDD for a budget of CPU time on one thread, with
one speaker held out, then used to resynthesise FSDD's 300 test recordings beside
Griffin-Lim from the same mels.

    export OMP_NUM_THREADS=1
    python benchmarks/quality_vocoder.py train --out /work/runs/vocoder --minutes 30 --model vocos  # CPU-minutes
    python benchmarks/quality_vocoder.py evaluate --out /work/runs/vocoder --name vocos-cpu --name ...  # scores.json
    python benchmarks/quality_vocoder.py speed --out /work/runs/vocoder                # speed.json
    python benchmarks/quality_vocoder.py table --out /work/runs/vocoder                # markdown

``train`` swaps the training loop's clock for ``time.process_time`` (:func:`use_cpu_clock`),
so the preset's ``max_minutes`` stop, and ``time`` in metrics.jsonl, count CPU seconds of
this one-thread process from the first step.
The run holds out speaker ``theo`` (``-o holdout_speaker theo``) and trains on the other
five speakers' takes 5-49 (FSDD's standard split).

``evaluate`` vocodes every test recording (takes 0-4: 250 of the five training speakers,
50 of the held-out one) with ``gankit.vocode`` (the path ``gankit vocode`` takes), and
reconstructs each with Griffin-Lim (32 and 100 iterations) from the same mels. Every
version is scored against the original: STOI, PESQ narrow band, log-mel L1, multi-resolution
STFT distance (gankit.plugins.audio.vocoder_metrics), and the digit accuracy of gankit's
audio classifier (plugins/audio/classifier.py) trained on the training takes 5-49 of all
six speakers (the first 8192 samples of each recording, as the ``fsdd`` dataset reads them).

``speed`` runs ``gankit vocode --threads 1`` (in-process, through the CLI's ``main``) on
10 s and 10 minutes of speech (test recordings joined) and reports the real-time factor
and the peak resident memory of each process, and of the 10-minute file without chunking.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
from quality_audio import use_cpu_clock  # benchmarks/ is the script's folder, so on sys.path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data" / "fsdd"
RUN = "vocos-cpu"
HELD_OUT = "theo"
CLASSIFIER_LENGTH = 8192


def train(out: Path, data: Path, minutes: float, overrides: dict[str, Any], name: str, seed: int,
          model: str = "vocos", resume: bool = False) -> None:
    """Train (or with ``resume``, continue) ``out/NAME`` for ``minutes`` more CPU-minutes."""
    import gankit

    use_cpu_clock()
    options = {"preset": "cpu", "holdout_speaker": HELD_OUT, "max_minutes": minutes, "keep_last": 0, **overrides}
    started = time.monotonic()
    run = gankit.train("audio", model=model, dataset="mel", data=str(data), out=str(out / name), seed=seed,
                       quiet=True, resume=resume, **options)
    records = [r for r in run.metrics if "time" in r]
    print(f"{name}: {run.step} steps, {records[-1]['time']:.0f} CPU-s of training, mel L1 (train) "
          f"{records[-1]['aux/mel_l1']:.3f}, {time.monotonic() - started:.0f} s wall in all", flush=True)


def fsdd_files(data: Path) -> list[tuple[Path, int, str, int]]:
    from gankit.plugins.audio.datasets import parse_fsdd_name

    folder = data / "recordings" if (data / "recordings").is_dir() else data
    found = [(p, *parse_fsdd_name(p.name)) for p in sorted(folder.glob("*.wav"))]
    return [row for row in found if row[1] is not None]  # type: ignore[misc]


def classifier(data: Path, every: int = 1) -> Any:
    """gankit's audio classifier trained on FSDD's training takes (5-49) of all speakers
    (every ``every``-th of them: a smoke test)."""
    from gankit.plugins.audio import classifier as audio_classifier
    from gankit.plugins.audio.io import read_mono

    rows = [(path, digit) for path, digit, _, take in fsdd_files(data) if take >= 5][::every]
    x = torch.stack([clip8192(read_mono(path)[0]) for path, _ in rows]).unsqueeze(1)
    y = torch.tensor([digit for _, digit in rows])
    state = audio_classifier.train_classifier(x, y, "fsdd-train-takes-5-49", 8000)
    found = audio_classifier._restore(state, Path("memory"))
    print(f"classifier: held-out accuracy {state['accuracy']:.3f} on its own 10 % of the training takes", flush=True)
    return found.net.eval()


def clip8192(wave: np.ndarray) -> torch.Tensor:
    wave = np.asarray(wave, dtype=np.float32)[:CLASSIFIER_LENGTH]
    return torch.from_numpy(np.pad(wave, (0, CLASSIFIER_LENGTH - len(wave))))


def evaluate(out: Path, data: Path, names: list[str], every: int = 1) -> None:
    """Score the runs ``out/NAME`` (each a method ``gankit NAME``) beside Griffin-Lim and
    the originals on FSDD's test recordings: ``out/scores.json``."""
    import gankit
    from gankit.plugins.audio.io import read_mono
    from gankit.plugins.audio.melspec import LogMel, pad_to_hop, settings_of
    from gankit.plugins.audio.vocoder_metrics import griffin_lim, mel_l1, mrstft, pesq_scores, stoi_joined

    runs = {name: gankit.load(out / name) for name in names}
    settings = settings_of(runs[names[0]].info)
    if any(settings_of(run.info) != settings for run in runs.values()):
        raise SystemExit("the runs must share their mel settings (one Griffin-Lim baseline for all)")
    tests = [(path, digit, speaker) for path, digit, speaker, take in fsdd_files(data) if take < 5][::every]
    started = time.process_time()
    versions: dict[str, list[np.ndarray]] = {"original": [read_mono(path)[0] for path, _, _ in tests]}
    rtf = {}
    for name, run in runs.items():
        vocoded = out / "vocoded" / name
        result = gankit.vocode(run, [path for path, _, _ in tests], out=vocoded, progress=False)
        print(f"{name}: vocoded {len(tests)} test recordings: {result.summary()}", flush=True)
        versions[f"gankit {name}"] = [sf.read(vocoded / f"{path.stem}.wav", dtype="float32")[0] for path, _, _ in tests]
        rtf[name] = result.rtf
    analysis = LogMel(settings)
    for iterations in (32, 100):
        versions[f"griffin_lim_{iterations}"] = []
    for wave in versions["original"]:
        with torch.no_grad():
            mels = analysis(torch.from_numpy(pad_to_hop(wave, settings.hop))[None])
        for iterations in (32, 100):
            versions[f"griffin_lim_{iterations}"].append(
                griffin_lim(mels, settings, iterations=iterations)[0, 0, :len(wave)].numpy())
    print(f"Griffin-Lim: done after {time.process_time() - started:.0f} CPU-s", flush=True)
    net = classifier(data, every)
    scores: dict[str, Any] = {"files": [p.name for p, _, _ in tests], "digits": [d for _, d, _ in tests],
                              "speakers": [s for _, _, s in tests], "held_out": HELD_OUT,
                              "steps": {name: run.step for name, run in runs.items()}, "rtf_batch": rtf,
                              "methods": {}}
    for method, waves in versions.items():
        per_clip: dict[str, list[float]] = {"pesq_nb": [], "mel_l1": [], "mrstft": []}
        for reference, test in zip(versions["original"], waves):
            ref, deg = torch.from_numpy(reference)[None, None], torch.from_numpy(test[:len(reference)])[None, None]
            per_clip["pesq_nb"] += pesq_scores(reference[None], test[None, :len(reference)], 8000, "nb")
            per_clip["mel_l1"].append(float(mel_l1(ref, deg, settings)[0]))
            per_clip["mrstft"].append(float(mrstft(ref, deg, 8000)[0]))
        with torch.no_grad():
            logits = net(torch.stack([clip8192(w) for w in waves]).unsqueeze(1))
        per_clip["correct"] = (logits.argmax(1) == torch.tensor(scores["digits"])).float().tolist()
        per_clip["stoi_joined"] = {subset: stoi_joined([versions["original"][i] for i in rows],
                                                       [waves[i] for i in rows], 8000)
                                   for subset, rows in subsets(scores).items()}
        scores["methods"][method] = per_clip
        print(f"{method}: scored after {time.process_time() - started:.0f} CPU-s", flush=True)
    (out / "scores.json").write_text(json.dumps(scores) + "\n")
    spectrograms(versions, settings.sample_rate, f"gankit {names[0]}")


def spectrograms(versions: dict[str, list[np.ndarray]], rate: int, method: str, count: int = 4) -> None:
    """benchmarks/quality_vocoder.png: rows original, Griffin-Lim 32 and ``method`` for a few clips."""
    from gankit.plugins.audio.io import save_spectrogram_grid

    picks = np.linspace(0, len(versions["original"]) - 1, count).round().astype(int)
    rows = {"original": "original", "griffin_lim_32": "Griffin-Lim 32", method: method}
    clips = []
    for key in rows:
        for i in picks:
            clip = versions[key][i][:CLASSIFIER_LENGTH]
            clips.append(np.pad(clip, (0, CLASSIFIER_LENGTH - len(clip))))
    save_spectrogram_grid(np.stack(clips), HERE / "quality_vocoder.png", rate, columns=count,
                          row_labels=list(rows.values()))


def speed(out: Path, data: Path, name: str) -> None:
    """Real-time factor and peak memory of ``gankit vocode --threads 1`` (see the docstring)."""
    waves = [sf.read(path, dtype="float32")[0] for path, _, _, take in fsdd_files(data) if take < 5]
    joined = np.concatenate(waves)
    inputs = out / "speed"
    inputs.mkdir(exist_ok=True)
    for label, seconds in (("10s", 10), ("10min", 600)):
        reps = math.ceil(seconds * 8000 / len(joined))
        sf.write(inputs / f"{label}.wav", np.tile(joined, reps)[:seconds * 8000], 8000)
    report: dict[str, Any] = {}
    for label, chunk in (("10s", 256), ("10min", 256), ("10min_unchunked", 10**9)):
        source = inputs / f"{label.split('_')[0]}.wav"
        code = ("import resource, sys; from gankit.cli import main\n"
                f"main(['vocode', {str(out / name)!r}, {str(source)!r}, '--out', {str(out / 'speed-out')!r}, "
                f"'--threads', '1', '--quiet', '--chunk-frames', '{chunk}'])\n"
                "print('peak_kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
        line = [row for row in done.stdout.splitlines() if "real-time factor" in row][0]
        rtf = float(line.split("real-time factor ")[1].split()[0])
        cpu = float(line.split(" s of CPU")[0].split("(")[-1])
        audio = float(line.split(" s of audio")[0].split()[-1])
        peak = int(done.stdout.split("peak_kib")[1].split()[0])
        report[label] = {"rtf_wall": rtf, "rtf_cpu": round(cpu / audio, 4), "peak_mib": round(peak / 1024, 1),
                         "line": line}
        print(label, report[label], flush=True)
    (out / "speed.json").write_text(json.dumps(report, indent=2) + "\n")


def subsets(scores: dict[str, Any]) -> dict[str, list[int]]:
    """The test recordings' indices: all, the training speakers', the held-out speaker's."""
    speakers, held_out = scores["speakers"], scores["held_out"]
    return {f"all {len(speakers)} test recordings": list(range(len(speakers))),
            "the five training speakers' test recordings": [i for i, s in enumerate(speakers) if s != held_out],
            f"held-out speaker {held_out}'s test recordings": [i for i, s in enumerate(speakers) if s == held_out]}


def table(out: Path) -> str:
    scores = json.loads((out / "scores.json").read_text())
    lines = []
    for title, rows in subsets(scores).items():
        lines += [f"**{title} ({len(rows)})**", "", "| | STOI | PESQ-nb | log-mel L1 | MR-STFT | digit accuracy |",
                  "|---|---|---|---|---|---|"]
        for method, values in scores["methods"].items():
            cells = [f"{values['stoi_joined'][title]:.3f}"]
            for key in ("pesq_nb", "mel_l1", "mrstft", "correct"):
                array = np.array(values[key], dtype=float)[rows]
                cells.append(f"{np.nanmean(array):.3f}" if np.isfinite(array).any() else "-")
            lines.append(f"| {method.replace('_', ' ')} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["train", "evaluate", "speed", "table"])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--minutes", type=float, default=30.0, help="train: CPU-minutes of training")
    parser.add_argument("--name", action="append", help=f"the run's folder under --out [default: {RUN}]; "
                                                        "evaluate: several, each scored as a method")
    parser.add_argument("--set", default="{}", help="train: JSON object of options over the preset's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="train: continue the run for --minutes more")
    parser.add_argument("--model", default="vocos", help="train: the vocoder model (vocos or hifigan), cpu preset")
    parser.add_argument("--every", type=int, default=1, help="evaluate: every N-th recording only (a smoke test)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    data, names = args.data.resolve(), args.name or [RUN]
    if args.command == "train":
        train(args.out, data, args.minutes, json.loads(args.set), names[0], args.seed, args.model, args.resume)
    elif args.command == "evaluate":
        evaluate(args.out, data, names, args.every)
    elif args.command == "speed":
        speed(args.out, data, names[0])
    else:
        print(table(args.out))


if __name__ == "__main__":
    main()
