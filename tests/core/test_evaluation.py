"""Evaluation: `gankit evaluate` and scoring during training (`--eval-every`, best.pt)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import gankit
from gankit.checkpoint import load_checkpoint
from gankit.cli import cli
from gankit.errors import GankitError
from gankit.evaluation import evaluate, evaluate_samples, generate


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


def test_eval_options_set_the_metric_options_of_eval_every(gauss_plugin, tmp_path):
    options = dict(steps=20, seed=2, log_every=20, checkpoint_every=1000, eval_every=20, eval_samples=200, quiet=True)
    plain = gankit.train("gauss", out=str(tmp_path / "plain"), **options)
    scaled = gankit.train("gauss", out=str(tmp_path / "scaled"), eval_options=("scale=3",), **options)
    [a], [b] = ([r["eval/moments/mean_error"] for r in run.metrics if "eval/moments/mean_error" in r]
                for run in (plain, scaled))
    assert b == pytest.approx(3 * a)
    with pytest.raises(GankitError, match="no metric here \\(moments\\) takes the option 'resize'; they take: scale"):
        gankit.train("gauss", out=str(tmp_path / "bad"), eval_options=("resize=clean",), **options)
    assert not (tmp_path / "bad").exists()  # refused before anything is written
    with pytest.raises(GankitError, match="give --eval-every N too"):
        gankit.train("gauss", out=str(tmp_path / "off"), **{**options, "eval_every": 0, "eval_options": ("scale=2",)})
    with pytest.raises(GankitError, match="expects KEY=VALUE entries"):
        gankit.train("gauss", out=str(tmp_path / "syntax"), eval_options=("scale",), **options)


def test_eval_every_needs_a_metric(gauss_plugin, tmp_path, monkeypatch):
    from gankit.registry import get_registry

    monkeypatch.setattr(get_registry(), "metrics", {})
    with pytest.raises(GankitError, match="no metric with a primary value"):
        gankit.train("gauss", steps=2, eval_every=1, out=str(tmp_path / "r"), quiet=True)


def test_samples_made_elsewhere_score_exactly_like_the_run_that_made_them(gauss_plugin, tmp_path):
    run = gankit.train("gauss", steps=50, seed=3, out=str(tmp_path / "r"), quiet=True)
    generator = gankit.load(run.dir).generator
    array = generate(generator, 300, seed=1, device=torch.device("cpu")).numpy()  # evaluate's latents: seed + 1
    path = tmp_path / "samples.npy"
    np.save(path, array)
    expected = evaluate(run.dir, n=300)["metrics"]
    assert evaluate_samples(path, run=run.dir, n=300)["metrics"] == expected
    by_name = evaluate_samples(array, domain="gauss", dataset="points", n=300)  # the run's dataset, named
    assert by_name["metrics"] == expected and by_name["samples"] == 300
    shifted = evaluate_samples(array + 3.0, domain="gauss", n=300)["metrics"]["moments"]["values"]
    assert shifted["mean_error"] > expected["moments"]["values"]["mean_error"] + 2


def test_evaluate_samples_from_the_cli(gauss_plugin, tmp_path):
    path = tmp_path / "s.npy"
    np.save(path, np.random.default_rng(0).normal(size=(200, 2)).astype(np.float32))
    result = CliRunner().invoke(cli, ["evaluate", "--samples", str(path), "--domain", "gauss", "-n", "150"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["n"] == 150 and data["dataset"] == "points" and "mean_error" in data["metrics"]["moments"]["values"]
    assert "give a RUN_OR_CHECKPOINT" in CliRunner().invoke(cli, ["evaluate"]).output
    bad = CliRunner().invoke(cli, ["evaluate", "--samples", str(tmp_path / "missing.npy"), "--domain", "gauss"])
    assert isinstance(bad.exception, GankitError) and "must be an existing .npy file" in str(bad.exception)
    unknown = CliRunner().invoke(cli, ["evaluate", "--samples", str(path), "--domain", "gauss", "-o", "nope", "1"])
    assert isinstance(unknown.exception, GankitError) and "nope" in str(unknown.exception)


def test_evaluate_samples_needs_reference_data_and_a_reader(gauss_plugin, monkeypatch):
    import dataclasses

    from gankit.registry import get_registry

    with pytest.raises(GankitError, match="a run .RUN. or --domain and --dataset"):
        evaluate_samples(np.zeros((10, 2), np.float32))
    registry = get_registry()
    domain = registry.domains["gauss"]
    monkeypatch.setitem(registry.domains, "gauss", dataclasses.replace(domain, from_numpy=None))
    with pytest.raises(GankitError, match="cannot read samples from an array"):
        evaluate_samples(np.zeros((10, 2), np.float32), domain="gauss")
