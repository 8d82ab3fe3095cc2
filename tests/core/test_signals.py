"""Ctrl-C and SIGTERM during `gankit train`: a checkpoint, the --resume command, exit 130."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

TRAIN = ["-m", "gankit", "train", "image", "--model", "mlp", "--batch-size", "16", "-o", "count", "256",
         "--log-every", "5", "--sample-every", "0", "--checkpoint-every", "100000"]


def _start(out: Path, steps: int) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GANKIT_LOAD_PLUGINS": ""}
    return subprocess.Popen([sys.executable, *TRAIN, "--steps", str(steps), "--out", str(out)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_steps(process: subprocess.Popen, metrics: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if metrics.is_file() and metrics.read_text().count("d_loss") >= 2:
            return
        if process.poll() is not None:
            raise AssertionError(f"training ended early: {process.communicate()}")
        time.sleep(0.1)
    process.kill()
    raise AssertionError("training did not log in time")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_training_with_a_checkpoint_and_the_resume_command(tmp_path, signum):
    out = tmp_path / "run"
    process = _start(out, steps=1_000_000)
    _wait_for_steps(process, out / "metrics.jsonl")
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, (stdout, stderr)
    assert f"{signal.Signals(signum).name} received" in stderr and "--resume" in stderr
    assert "Traceback" not in stderr
    state = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    step = int(state["step"])
    assert step >= 10
    logged = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert logged[-1] == step  # the losses up to the stop are logged, none after

    resumed = subprocess.run([sys.executable, *TRAIN, "--steps", str(step + 5), "--out", str(out), "--resume",
                              "--quiet"], env={**os.environ, "OMP_NUM_THREADS": "1", "GANKIT_LOAD_PLUGINS": ""},
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert int(torch.load(out / "checkpoints" / "last.pt", weights_only=True)["step"]) == step + 5
