"""Break training runs in every way issue 19 names, resume them, and check nothing is lost.

    nice -n 10 python benchmarks/fault_injection.py --kills 10 --sigterms 3

Trains a wide `mlp` on the embedded shapes data in subprocesses (`python -m gankit`),
checkpointing every 3 steps so that some faults land during a checkpoint write, and
compares every run that was broken and resumed with an uninterrupted run of the same seed.
Four kinds of fault:

- **SIGKILL** at random moments (``--kills``): every checkpoint left behind must open; the
  run resumes each time.
- **SIGTERM** (``--sigterms``): the run must exit 130 with a checkpoint of the step it names
  and the ``--resume`` command; it resumes each time.
- **A full disk**: the run directory on a small tmpfs where ``mount`` is allowed (a real
  ENOSPC), else a file-size limit (``RLIMIT_FSIZE`` in the child: EFBIG). The run must fail
  with one line, leave ``last.pt`` byte-identical and no temporary file; it then resumes
  with room to spare.
- **Concurrent writers**: two ``train`` processes started at once on one ``--out``, then a
  ``--resume`` while the survivor runs: exactly one writer wins, the others are refused
  with one line and change nothing.

Each broken run must end with weights equal to the uninterrupted run's. Prints one JSON
line: runs (processes started), faults (injected), corrupt files (checkpoints that did not
open; must be 0), lost files (a checkpoint or metrics line lost, a file a refused writer
changed; must be 0), duplicated metric steps (must be 0) and whether every final state
equals the uninterrupted run's. Measured on 2 CPU cores with `--kills 10 --sigterms 3`
(tmpfs): 21 runs, 16 faults (10 SIGKILL, 2 of them during a checkpoint write; 3 SIGTERM;
1 full disk; 2 concurrent writers), corrupt files 0, lost files 0, duplicated metric steps 0,
final weights equal in all four scenarios; with `--full-disk fsize` (RLIMIT_FSIZE) the same.
Details: benchmarks/fault_injection.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch

from gankit.checkpoint import checkpoint_step, load_checkpoint
from gankit.errors import GankitError

ARGS = ["--steps", "300", "--batch-size", "32", "-o", "count", "512", "-o", "hidden", "512", "--checkpoint-every", "3",
        "--keep-last", "2", "--log-every", "3", "--sample-every", "50", "--seed", "7", "--quiet"]
FULL_DISK_BYTES = 32 * 2**20  # a checkpoint of this run is 19.5 MB: room for one, then ENOSPC


class Tally:
    def __init__(self) -> None:
        self.runs = self.faults = self.corrupt = self.lost = 0
        self.by_kind: dict[str, int] = {}
        self.equal: dict[str, bool] = {}

    def fault(self, kind: str) -> None:
        self.faults += 1
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1


def gankit(tally: Tally, out: Path, *, resume: bool, limit: Callable[[], None] | None = None) -> subprocess.Popen:
    tally.runs += 1
    env = {**os.environ, "GANKIT_LOAD_PLUGINS": "", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "gankit", "train", "image", *ARGS, "--out", str(out)]
    command += ["--resume"] if resume else ["--overwrite"] if (out / "checkpoints" / "last.pt").exists() else []
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=limit)


def weights(run: Path) -> dict[str, torch.Tensor]:
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    return {f"{part}.{k}": v for part in ("generator", "discriminator", "generator_ema") for k, v in state[part].items()}


def metric_steps(run: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def check_checkpoints(tally: Tally, run: Path) -> None:
    for path in (run / "checkpoints").glob("*.pt"):
        try:
            load_checkpoint(path)
        except GankitError:
            tally.corrupt += 1


def check_consistent(tally: Tally, run: Path) -> None:
    """The metrics log reaches the step of last.pt (a logged step past it would be repeated on
    resume and is trimmed then; one short of it is a lost line)."""
    last = checkpoint_step(run / "checkpoints" / "last.pt")
    logged = [step for step in metric_steps(run) if step <= last]
    tally.lost += bool(last and (not logged or last - max(logged) >= 3))


def _wait_for_training(run: Path, process: subprocess.Popen, since: float) -> None:
    """Until the process has written a checkpoint (start-up, mostly importing torch, is not
    where the interesting faults are)."""
    folder = run / "checkpoints"
    while process.poll() is None:
        if folder.exists() and any(p.stat().st_mtime > since for p in folder.glob("step-*.pt")):
            return
        time.sleep(0.02)


def finish(tally: Tally, run: Path, reference: dict[str, torch.Tensor], kind: str) -> None:
    """Resume the run to its end (unless it got there) and compare it with the reference."""
    last = run / "checkpoints" / "last.pt"
    if not last.exists() or checkpoint_step(last) < 300:
        process = gankit(tally, run, resume=last.exists())
        if process.wait() != 0:
            raise SystemExit(f"{kind}: the resumed run failed: {process.stderr.read()}")
    steps = metric_steps(run)
    tally.lost += len(steps) != len(set(steps)) or steps[-1] != 300
    final = weights(run)
    tally.equal[kind] = final.keys() == reference.keys() and all(torch.equal(final[k], reference[k]) for k in final)


def kills(tally: Tally, run: Path, count: int, rng: random.Random, max_wait: float) -> None:
    while tally.by_kind.get("sigkill", 0) < count:
        process = gankit(tally, run, resume=(run / "checkpoints" / "last.pt").exists())
        _wait_for_training(run, process, since=time.time())
        time.sleep(rng.uniform(0.0, max_wait))
        if process.poll() is not None:
            break  # it finished first
        process.send_signal(signal.SIGKILL)
        process.wait()
        tally.fault("sigkill")
        tally.by_kind["sigkill_during_write"] = (tally.by_kind.get("sigkill_during_write", 0)
                                                 + bool(list((run / "checkpoints").glob(".*.tmp"))))
        check_checkpoints(tally, run)


def sigterms(tally: Tally, run: Path, count: int, rng: random.Random, max_wait: float) -> None:
    while tally.by_kind.get("sigterm", 0) < count:
        process = gankit(tally, run, resume=(run / "checkpoints" / "last.pt").exists())
        _wait_for_training(run, process, since=time.time())
        time.sleep(rng.uniform(0.0, max_wait))
        if process.poll() is not None:
            break
        process.send_signal(signal.SIGTERM)
        code, err = process.wait(), process.stderr.read()
        tally.fault("sigterm")
        stopped = re.search(r"the run stopped at step (\d+) with a checkpoint; continue it with: .* --resume", err)
        saved = checkpoint_step(run / "checkpoints" / "last.pt")
        tally.lost += code != 130 or stopped is None or int(stopped.group(1)) != saved
        check_checkpoints(tally, run)


def _mount_tmpfs(folder: Path, size: int) -> bool:
    folder.mkdir()
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True).returncode == 0


def _limit_file_size() -> None:
    """In the child: no file larger than 1 MB (config, metrics and previews fit, a checkpoint does not)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (2**20, resource.RLIM_INFINITY))


def disk_full(tally: Tally, root: Path, reference: dict[str, torch.Tensor], *, tmpfs: bool = True) -> str:
    """A checkpoint write that runs out of room. On a small tmpfs (where mount is allowed) a
    fresh run fills it: a real ENOSPC. Elsewhere a run is stopped after its first checkpoint
    (SIGTERM) and resumed under a file-size limit: EFBIG. Either way the run must fail in
    one line with last.pt byte-identical and no temporary file, then resume with room."""
    small = root / "small"
    if tmpfs and _mount_tmpfs(small, FULL_DISK_BYTES):
        kind, run, limit = "tmpfs", small / "run", None
    else:
        kind, run, limit = "RLIMIT_FSIZE", root / "disk-full", _limit_file_size
        sigterms(tally, run, tally.by_kind.get("sigterm", 0) + 1, random.Random(0), 0.0)
    try:
        last = run / "checkpoints" / "last.pt"
        before = last.read_bytes() if last.exists() else None
        process = gankit(tally, run, resume=before is not None, limit=limit)
        code, err = process.wait(), process.stderr.read()
        lines = err.strip().splitlines()
        tally.fault("disk_full")
        tally.lost += not (code == 2 and len(lines) == 1 and "cannot write the checkpoint" in lines[0]
                           and "last.pt) is intact" in lines[0] and "Traceback" not in err)
        tally.lost += not last.exists() or (before is not None and last.read_bytes() != before)
        tally.lost += bool(list(run.rglob(".*.tmp")))
        check_checkpoints(tally, run)
        if kind == "tmpfs":
            shutil.copytree(run, root / "disk-full")
    finally:
        if kind == "tmpfs":
            subprocess.run(["umount", str(small)], capture_output=True)
    check_consistent(tally, root / "disk-full")
    finish(tally, root / "disk-full", reference, "disk_full")
    return kind


def concurrent(tally: Tally, root: Path, reference: dict[str, torch.Tensor]) -> None:
    """Two fresh runs at once on one --out, then a --resume while the survivor runs."""
    run = root / "shared"
    first, second = gankit(tally, run, resume=False), gankit(tally, run, resume=False)
    while not (run / "checkpoints" / "last.pt").exists() and None in (first.poll(), second.poll()):
        time.sleep(0.02)
    third = gankit(tally, run, resume=True)
    codes = [p.wait() for p in (first, second, third)]
    errors = [p.stderr.read() for p in (first, second, third)]
    refused = [e for c, e in zip(codes, errors) if c != 0]
    for _ in refused:
        tally.fault("concurrent_writer")
    tally.lost += codes.count(0) != 1 or not all(re.search(r"in use by process \d+", e) for e in refused)
    tally.lost += any(len(e.strip().splitlines()) != 1 or "Traceback" in e for e in refused)
    check_checkpoints(tally, run)
    finish(tally, run, reference, "concurrent")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--sigterms", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-wait", type=float, default=1.0, help="longest a run trains before a signal (s)")
    parser.add_argument("--full-disk", choices=("auto", "fsize"), default="auto",
                        help="auto: a small tmpfs where mount is allowed, else a file-size limit; fsize: the limit")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="gankit-faults-"))
    tally = Tally()
    started = time.time()

    straight = gankit(tally, root / "straight", resume=False)
    if straight.wait() != 0:
        raise SystemExit(f"the uninterrupted run failed: {straight.stderr.read()}")
    reference = weights(root / "straight")

    runs = ["disk-full", "shared"]
    if args.kills:
        kills(tally, root / "killed", args.kills, rng, args.max_wait)
        finish(tally, root / "killed", reference, "sigkill")
        runs.append("killed")
    if args.sigterms:
        sigterms(tally, root / "terminated", args.sigterms, rng, args.max_wait)
        finish(tally, root / "terminated", reference, "sigterm")
        runs.append("terminated")
    disk = disk_full(tally, root, reference, tmpfs=args.full_disk == "auto")
    concurrent(tally, root, reference)

    duplicated = sum(len(steps) - len(set(steps)) for steps in (metric_steps(root / run) for run in runs))
    print(json.dumps({"runs": tally.runs, "faults": tally.faults, "by_kind": tally.by_kind, "full_disk": disk,
                      "corrupt_files": tally.corrupt, "lost_files": tally.lost, "duplicated_metric_steps": duplicated,
                      "final_weights_equal_uninterrupted": tally.equal, "wall_s": round(time.time() - started)}))
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
