"""The engine end to end: run directory, checkpoints, resume, budgets, sampling."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import gankit
from gankit.checkpoint import load_checkpoint
from gankit.errors import GankitError


def _weights(run_dir):
    state = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    return state


def test_mlp_run_writes_the_run_directory(tmp_path):
    out = tmp_path / "run"
    run = gankit.train("image", model="mlp", steps=20, batch_size=16, count=200, log_every=5, sample_every=10,
                       out=str(out), quiet=True)
    assert run.step == 20
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "mlp" and config["dataset"] == "shapes"
    assert config["provenance"]["torch"] == torch.__version__
    assert "gankit.plugins.image" in config["provenance"]["plugins"]
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [5, 10, 15, 20]
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step-0000010.png", "step-0000020.png"]
    state = _weights(out)
    assert state["step"] == 20 and state["total_steps"] == 20 and state["format_version"] == 1
    assert {"generator", "discriminator", "generator_ema", "optimizer_g", "optimizer_d", "scaler_g", "scaler_d",
            "sampler", "rng", "config", "data_info"} <= set(state)

    paths = gankit.sample(out, 16, out=tmp_path / "png")
    assert len([p for p in paths if p.suffix == ".png"]) == 16
    gankit.sample(out, 16, out=tmp_path / "npy", format="npy")
    array = np.load(tmp_path / "npy" / "samples.npy")
    assert array.shape == (16, 1, 28, 28) and array.min() >= 0 and array.max() <= 1


def test_sampling_is_seeded_and_uses_the_ema(tmp_path):
    run = gankit.train("image", steps=5, batch_size=8, count=64, out=str(tmp_path / "r"), quiet=True)
    assert run.uses_ema
    assert torch.equal(run.sample(4, seed=1), run.sample(4, seed=1))
    assert not torch.equal(run.sample(4, seed=1), run.sample(4, seed=2))


@pytest.mark.parametrize(("dataset", "workers"), [("points", 0), ("points-loader", 0), ("points-loader", 2)])
def test_resume_equals_an_uninterrupted_run(gauss_plugin, tmp_path, dataset, workers):
    options = dict(dataset=dataset, num_workers=workers, batch_size=32, count=1000, quiet=True, log_every=50, seed=3,
                   ema_decay=0.99, penalty="r1")
    straight = gankit.train("gauss", steps=400, out=str(tmp_path / "straight"), **options)
    gankit.train("gauss", steps=200, out=str(tmp_path / "split"), **options)
    resumed = gankit.train("gauss", steps=400, out=str(tmp_path / "split"), resume=True, quiet=True)
    a, b = _weights(straight.dir), _weights(resumed.dir)
    for part in ("generator", "discriminator", "generator_ema"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), (part, key)
    steps = [json.loads(line)["step"] for line in (resumed.dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == [50, 100, 150, 200, 250, 300, 350, 400]


def test_resume_refuses_to_change_what_is_trained(gauss_plugin, tmp_path):
    gankit.train("gauss", steps=5, out=str(tmp_path / "r"), quiet=True)
    with pytest.raises(GankitError, match="'lr_g' cannot change when resuming"):
        gankit.train("gauss", steps=10, out=str(tmp_path / "r"), resume=True, lr_g=0.5)
    with pytest.raises(GankitError, match="already holds a gankit run"):
        gankit.train("gauss", steps=10, out=str(tmp_path / "r"))
    with pytest.raises(GankitError, match="already at step 5"):
        gankit.train("gauss", steps=5, out=str(tmp_path / "r"), resume=True)


def test_keep_last_prunes_step_checkpoints(gauss_plugin, tmp_path):
    run = gankit.train("gauss", steps=50, checkpoint_every=10, keep_last=2, out=str(tmp_path / "r"), quiet=True)
    names = sorted(p.name for p in (run.dir / "checkpoints").iterdir())
    assert names == ["last.pt", "step-0000040.pt", "step-0000050.pt"]


def test_max_minutes_stops_cleanly_with_a_checkpoint(gauss_plugin, tmp_path):
    run = gankit.train("gauss", steps=10**6, max_minutes=0.02, out=str(tmp_path / "r"), quiet=True)
    assert 0 < run.step < 10**6
    assert _weights(run.dir)["step"] == run.step


def test_max_minutes_zero_means_no_budget(gauss_plugin, tmp_path):
    run = gankit.train("gauss", steps=5, max_minutes=0, out=str(tmp_path / "r"), quiet=True)
    assert run.step == 5 and run.config.train.max_minutes == 0
    with pytest.raises(GankitError, match="max_minutes"):
        gankit.train("gauss", steps=5, max_minutes=-1, out=str(tmp_path / "s"), quiet=True)


def test_gradient_penalty_with_batchnorm_is_rejected(gauss_plugin, tmp_path):
    with pytest.raises(GankitError, match="BatchNorm"):
        gankit.train("gauss", steps=2, objective="wgan-gp", batchnorm=True, out=str(tmp_path / "r"), quiet=True)


def test_missing_and_empty_data_are_clear_errors(gauss_plugin, tmp_path):
    with pytest.raises(GankitError, match="needs --data"):
        gankit.train("gauss", dataset="points-file", steps=2, out=str(tmp_path / "a"), quiet=True)
    with pytest.raises(GankitError, match="the dataset is empty"):  # smaller than the batch is few-shot training
        gankit.train("gauss", count=0, batch_size=32, steps=2, out=str(tmp_path / "b"), quiet=True)


def test_checkpoint_with_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format_version": 1, "payload": print}, path)
    with pytest.raises(GankitError, match="is not a gankit checkpoint: it holds Python objects") as caught:
        load_checkpoint(path)
    assert "weights_only" not in str(caught.value)  # never advise loading it unsafely


def test_console_log_without_a_terminal(gauss_plugin, tmp_path, capsys):
    gankit.train("gauss", steps=20, log_every=10, out=str(tmp_path / "r"))
    err = capsys.readouterr().err
    assert "data: 4096 points" in err
    assert "step 10/20 d_loss=" in err and "step 20/20" in err


def test_resume_accepts_the_same_command_line_again(tmp_path):
    args = ["train", "image", "--batch-size", "8", "-o", "count", "64", "--lr-g", "2e-4", "--out", str(tmp_path / "r"),
            "--quiet"]
    from click.testing import CliRunner

    from gankit.cli import cli

    assert CliRunner().invoke(cli, [*args, "--steps", "4"]).exit_code == 0
    result = CliRunner().invoke(cli, [*args, "--steps", "8", "--resume"])
    assert result.exit_code == 0, result.output
    assert "(step 8)" in result.output
