"""The plugin from the command line: listed, trained, sampled, evaluated, plotted."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np


def gankit(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "gankit", *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_gankit_plugins_lists_toy2d():
    rows = {row["name"]: row for row in json.loads(gankit("plugins", "--json").stdout)}
    assert rows["toy2d"]["version"] == "0.1.0" and rows["toy2d"]["error"] is None
    assert rows["toy2d"]["registered"] == {"domains": ["toy2d"], "models": ["toy2d/mlp"],
                                           "datasets": ["toy2d/ring8", "toy2d/grid25"],
                                           "metrics": ["toy2d/modes", "toy2d/quality"]}


def test_train_help_lists_models_datasets_and_options():
    output = gankit("train", "toy2d", "--help").stdout
    for text in ("mlp (default)", "ring8 (default)", "grid25", "-o radius FLOAT", "-o spacing FLOAT", "-o std FLOAT",
                 "-o count INT", "-o conditional BOOL", "--preset quick"):
        assert text in output, text


def test_train_sample_evaluate_and_plot(tmp_path):
    run = tmp_path / "run"
    gankit("train", "toy2d", "--dataset", "grid25", "--steps", "20", "--batch-size", "32", "-o", "count", "500",
           "-o", "hidden", "16", "-o", "std", "0.1", "--eval-every", "10", "--eval-samples", "200", "--out", str(run),
           "--quiet")
    assert (run / "checkpoints" / "best.pt").is_file() and (run / "samples" / "step-0000020.png").is_file()
    config = json.loads((run / "config.json").read_text())
    assert config["dataset_options"]["std"] == 0.1 and config["provenance"]["plugins"]["toy2d"] == "0.1.0"

    gankit("sample", str(run), "-n", "5", "--out", str(tmp_path / "points"))
    assert len(list((tmp_path / "points").glob("sample-*.txt"))) == 5
    gankit("sample", str(run), "-n", "7", "--format", "npy", "--out", str(tmp_path / "npy"))
    assert np.load(tmp_path / "npy" / "samples.npy").shape == (7, 2)

    scores = json.loads(gankit("evaluate", str(run), "-n", "200").stdout)
    assert scores["metrics"]["modes"]["values"]["total"] == 25
    assert 0 <= scores["metrics"]["quality"]["values"]["high_quality"] <= 1

    plotted = json.loads(gankit("toy2d-plot", str(run), "-n", "300", "--out", str(tmp_path / "plot.png")).stdout)
    assert plotted["plot"] == str(tmp_path / "plot.png") and (tmp_path / "plot.png").stat().st_size > 1000
    assert plotted["total"] == 25 and plotted["step"] == 20
