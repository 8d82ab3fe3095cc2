"""Kill a training run at random moments, resume it each time, and check nothing is lost.

    python benchmarks/fault_injection.py --kills 10

Trains a wide `mlp` on the embedded shapes data in a subprocess, checkpointing every 3
steps so that some kills land during a checkpoint write; after each SIGKILL it opens every
checkpoint file left behind (a file that does not load is corrupt), then resumes. When the
run finally completes, its weights are compared with an uninterrupted run of the same
seed. Prints: kills, kills during a checkpoint write (a temporary file was left), corrupt
checkpoints (must be 0), duplicated metric steps (must be 0), and whether the final
weights equal the uninterrupted run's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from gankit.checkpoint import load_checkpoint
from gankit.errors import GankitError

ARGS = ["--steps", "300", "--batch-size", "32", "-o", "count", "512", "-o", "hidden", "512", "--checkpoint-every", "3",
        "--keep-last", "2", "--log-every", "10", "--sample-every", "50", "--seed", "7", "--quiet"]


def gankit(out: Path, resume: bool) -> subprocess.Popen:
    env = {**os.environ, "GANKIT_LOAD_PLUGINS": "", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "gankit", "train", "image", *ARGS, "--out", str(out)]
    return subprocess.Popen(command + (["--resume"] if resume else ["--overwrite"] if out.exists() else []), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def weights(run: Path) -> dict[str, torch.Tensor]:
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    return {f"{part}.{k}": v for part in ("generator", "discriminator", "generator_ema") for k, v in state[part].items()}


def _wait_for_training(run: Path, process: subprocess.Popen, since: float) -> None:
    """Until the process has written a checkpoint (start-up, mostly importing torch, is not
    where the interesting kills are)."""
    folder = run / "checkpoints"
    while process.poll() is None:
        if folder.exists() and any(p.stat().st_mtime > since for p in folder.glob("step-*.pt")):
            return
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-wait", type=float, default=1.0, help="longest a run trains before the kill (s)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="gankit-faults-"))

    reference = root / "straight"
    straight = gankit(reference, resume=False)
    if straight.wait() != 0:
        raise SystemExit(f"the uninterrupted run failed: {straight.stderr.read().decode()}")

    run = root / "killed"
    kills = during_write = corrupt = 0
    while True:
        started = (run / "checkpoints" / "last.pt").exists()
        process = gankit(run, resume=started)
        if kills < args.kills:
            _wait_for_training(run, process, since=time.time())
            time.sleep(rng.uniform(0.0, args.max_wait))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()
                kills += 1
                folder = run / "checkpoints"
                during_write += bool(list(folder.glob(".*.tmp")))
                for path in folder.glob("*.pt"):
                    try:
                        load_checkpoint(path)
                    except GankitError:
                        corrupt += 1
                continue
        if process.wait() != 0:
            raise SystemExit(f"a resumed run failed: {process.stderr.read().decode()}")
        break

    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    a, b = weights(reference), weights(run)
    equal = a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    print(json.dumps({"kills": kills, "kills_during_checkpoint_write": during_write, "corrupt_checkpoints": corrupt,
                      "duplicated_metric_steps": len(steps) - len(set(steps)),
                      "final_weights_equal_uninterrupted": equal}))


if __name__ == "__main__":
    main()
