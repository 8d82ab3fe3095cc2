"""Evaluation: `gankit evaluate` and scoring during training (`--eval-every`, best.pt)."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

import gankit
from gankit.checkpoint import load_checkpoint
from gankit.cli import cli
from gankit.errors import GankitError
from gankit.evaluation import evaluate


def test_evaluate_scores_a_trained_run_better_than_an_untrained_one(gauss_plugin, tmp_path):
    trained = gankit.train("gauss", steps=400, ema_decay=0.98, seed=1, out=str(tmp_path / "t"), quiet=True)
    untrained = gankit.train("gauss", steps=1, seed=1, out=str(tmp_path / "u"), quiet=True)
    good = evaluate(trained.dir, n=500)["metrics"]["moments"]
    bad = evaluate(untrained.dir, n=500)["metrics"]["moments"]
    assert good["values"]["mean_error"] < 0.3 < bad["values"]["mean_error"]
    assert good["protocol"] == {"n": 500, "reference": "real subset"}
    assert evaluate(trained.dir, n=500) == evaluate(trained.dir, n=500)  # seeded


def test_evaluate_from_the_cli_prints_json(gauss_plugin, tmp_path):
    run = gankit.train("gauss", steps=5, out=str(tmp_path / "r"), quiet=True)
    result = CliRunner().invoke(cli, ["evaluate", str(run.dir), "-n", "100"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["step"] == 5 and data["n"] == 100 and "mean_error" in data["metrics"]["moments"]["values"]
    with pytest.raises(GankitError, match="unknown metric 'fid'.*moments"):
        evaluate(run.dir, metrics=["fid"])


def test_eval_every_logs_keeps_best_and_never_changes_training(gauss_plugin, tmp_path):
    options = dict(steps=60, seed=2, log_every=20, checkpoint_every=1000, quiet=True)
    plain = gankit.train("gauss", out=str(tmp_path / "plain"), **options)
    scored = gankit.train("gauss", out=str(tmp_path / "scored"), eval_every=20, eval_samples=200, **options)
    a, b = load_checkpoint(plain.dir / "checkpoints" / "last.pt"), load_checkpoint(scored.dir / "checkpoints" / "last.pt")
    assert all(torch.equal(a["generator"][k], b["generator"][k]) for k in a["generator"])
    evals = [r for r in scored.metrics if "eval/moments/mean_error" in r]
    assert [r["step"] for r in evals] == [20, 40, 60]
    best = b["best"]
    assert best["value"] == min(r["eval/moments/mean_error"] for r in evals)
    best_state = load_checkpoint(scored.dir / "checkpoints" / "best.pt")
    assert best_state["step"] == best["step"]


def test_eval_every_needs_a_metric(gauss_plugin, tmp_path, monkeypatch):
    from gankit.registry import get_registry

    monkeypatch.setattr(get_registry(), "metrics", {})
    with pytest.raises(GankitError, match="no metric with a primary value"):
        gankit.train("gauss", steps=2, eval_every=1, out=str(tmp_path / "r"), quiet=True)
