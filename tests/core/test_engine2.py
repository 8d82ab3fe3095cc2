"""Engine 2's contract: tensor and dict conditions, several discriminator heads with
feature matching, auxiliary losses, accumulation, optimisers and learning-rate schedules."""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch

import gankit
from gankit.engine.optim import LRSchedule
from gankit.errors import GankitError
from gankit.rundir import read_metrics

TINY = dict(batch_size=32, log_every=5, sample_every=0, quiet=True)


def _fit_error(run, plugin, n: int = 512) -> float:
    """Mean |G(z, c) − W c| over fresh conditions: how well G learned the pairing."""
    generator = torch.Generator().manual_seed(123)
    c = torch.rand(n, plugin.COND_DIM, generator=generator) * 2 - 1
    z = run.generator.sample_latent(n, generator=generator)
    with torch.no_grad():
        fake = run.generator(z, c)
    return float((fake - c @ plugin.W.T).abs().mean())


def test_tensor_conditions_two_heads_feature_matching_and_aux_loss_learn(paired_plugin, tmp_path):
    untrained = gankit.train("paired", steps=1, out=str(tmp_path / "u"), **TINY)
    run = gankit.train("paired", steps=200, out=str(tmp_path / "run"), **TINY)
    before, after = _fit_error(untrained, paired_plugin), _fit_error(run, paired_plugin)
    assert after < 0.1 < before, (before, after)  # the data's noise is 0.05 (mean |noise| 0.04)
    records = [r for r in read_metrics(run.dir) if "d_loss" in r]
    assert {"fm_loss", "aux/l1"} <= set(records[-1])
    assert records[-1]["aux/l1"] < records[0]["aux/l1"]
    effective = json.loads((run.dir / "config.json").read_text())["effective"]
    assert effective["aux_losses"] == {"l1": 5.0} and effective["feature_matching"] == 2.0
    assert effective["objective"] == "lsgan"


def test_dict_conditions_and_a_deterministic_generator(paired_plugin, tmp_path):
    run = gankit.train("paired", steps=150, out=str(tmp_path / "run"), dict_condition=True, latent_dim=0, **TINY)
    assert run.generator.sample_latent(4) is None
    generator = torch.Generator().manual_seed(0)
    c = torch.rand(256, 3, generator=generator) * 2 - 1
    with torch.no_grad():
        fake = run.generator(None, {"c": c})
    assert float((fake - c @ paired_plugin.W.T).abs().mean()) < 0.15


def test_aux_weights_change_and_turn_off_terms(paired_plugin, tmp_path):
    run = gankit.train("paired", steps=5, out=str(tmp_path / "off"), aux_weights=("l1=0",), **TINY)
    assert "aux/l1" not in read_metrics(run.dir)[-1]
    assert json.loads((run.dir / "config.json").read_text())["effective"]["aux_losses"] == {"l1": 0.0}
    with pytest.raises(GankitError, match="no auxiliary loss 'mel'.*l1"):
        gankit.train("paired", steps=5, out=str(tmp_path / "bad"), aux_weights=("mel=1",), **TINY)
    with pytest.raises(GankitError, match="NAME=WEIGHT"):
        gankit.train("paired", steps=5, out=str(tmp_path / "bad2"), aux_weights=("l1",), **TINY)


def test_feature_matching_needs_features(paired_plugin, tmp_path):
    with pytest.raises(GankitError, match="--feature-matching needs a discriminator that returns its feature maps"):
        gankit.train("paired", steps=5, out=str(tmp_path / "r"), features=False, **TINY)
    run = gankit.train("paired", steps=5, out=str(tmp_path / "ok"), features=False, feature_matching=0.0, **TINY)
    assert "fm_loss" not in read_metrics(run.dir)[-1]


def test_dry_run_lists_the_effective_values(paired_plugin):
    from click.testing import CliRunner

    from gankit.cli import cli

    result = CliRunner().invoke(cli, ["train", "paired", "--dry-run", "--aux-weights", "l1=2.5"])
    assert result.exit_code == 0, result.output
    effective = json.loads(result.output)["effective"]
    assert effective["aux_losses"] == {"l1": 2.5} and effective["feature_matching"] == 2.0
    assert effective["penalty"] == "none" and effective["optimizers"]["g"]["betas"] == [0.8, 0.99]


def test_cli_trains_a_conditional_plugin_end_to_end(paired_plugin, tmp_path):
    from click.testing import CliRunner

    from gankit.cli import cli

    out = tmp_path / "cli"
    result = CliRunner().invoke(cli, ["train", "paired", "--steps", "20", "--batch-size", "32", "--log-every", "10",
                                       "--out", str(out), "--quiet", "-o", "count", "256"])
    assert result.exit_code == 0, result.output
    assert (out / "checkpoints" / "last.pt").is_file()
    assert "aux/l1" in read_metrics(out)[-1]


def _final_weights(run) -> list[torch.Tensor]:
    state = torch.load(run.dir / "checkpoints" / "last.pt", weights_only=True)
    return [*state["generator"].values(), *state["discriminator"].values()]


def test_accumulation_keeps_the_effective_batch(gauss_plugin, tmp_path):
    """Two micro-batches of 16 update like one batch of 32 (no BatchNorm: exact up to rounding),
    with a penalty too (R1 is a per-sample mean)."""
    common = dict(steps=6, batch_size=32, penalty="r1", ema_decay=0.0, out=None, quiet=True, sample_every=0)
    whole = gankit.train("gauss", **{**common, "out": str(tmp_path / "whole")})
    split = gankit.train("gauss", **{**common, "out": str(tmp_path / "split")}, accumulate=2)
    for a, b in zip(_final_weights(whole), _final_weights(split)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    with pytest.raises(GankitError, match="accumulate"):
        gankit.train("gauss", **{**common, "out": str(tmp_path / "bad")}, accumulate=3)


def test_schedules_are_functions_of_the_step():
    cosine = LRSchedule("cosine", horizon=100)
    assert cosine.factor(0) == 1.0 and cosine.factor(50) == pytest.approx(0.5) and cosine.factor(100) == 0.0
    assert cosine.factor(150) == 0.0
    assert LRSchedule("linear", horizon=10).factor(5) == pytest.approx(0.5)
    exponential = LRSchedule("exponential", horizon=10, decay=0.9, unit="epoch")
    assert exponential.factor(7, epoch=2) == pytest.approx(0.81)
    assert LRSchedule("exponential", horizon=10, decay=0.9).factor(3) == pytest.approx(0.729)
    warm = LRSchedule("constant", horizon=10, warmup=4)
    assert [warm.factor(s) for s in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]


def test_a_resumed_run_follows_the_same_schedule_and_optimiser(gauss_plugin, tmp_path):
    options = dict(batch_size=32, log_every=2, sample_every=0, checkpoint_every=4, quiet=True, lr_schedule="cosine",
                   lr_warmup=2, optimizer_g="adamw", weight_decay_g=0.05, ema_decay=0.0, lr_g=2e-4)
    straight = gankit.train("gauss", steps=8, out=str(tmp_path / "straight"), **options)
    shutil.copytree(straight.dir, tmp_path / "resumed")  # as if killed after the checkpoint of step 4
    shutil.copyfile(tmp_path / "resumed" / "checkpoints" / "step-0000004.pt",
                    tmp_path / "resumed" / "checkpoints" / "last.pt")
    with pytest.raises(GankitError, match="lr_schedule"):
        gankit.train("gauss", steps=8, out=str(tmp_path / "resumed"), resume=True, lr_schedule="linear")
    resumed = gankit.train("gauss", steps=8, out=str(tmp_path / "resumed"), resume=True, **options)
    for a, b in zip(_final_weights(straight), _final_weights(resumed)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    records = read_metrics(resumed.dir)
    assert [r["lr_g"] for r in records] == pytest.approx([r["lr_g"] for r in read_metrics(straight.dir)])
    assert records[-1]["lr_g"] == pytest.approx(2e-4 * 0.5 * (1 + math.cos(math.pi * 7 / 8)))
    state = torch.load(resumed.dir / "checkpoints" / "last.pt", weights_only=True)
    assert state["optimizer_g"]["param_groups"][0]["weight_decay"] == 0.05
    assert state["horizon"] == 8


def test_more_steps_on_resume_keep_the_schedule_horizon(gauss_plugin, tmp_path):
    options = dict(batch_size=32, log_every=1, sample_every=0, quiet=True, lr_schedule="linear", ema_decay=0.0, lr_g=2e-4)
    gankit.train("gauss", steps=4, out=str(tmp_path / "r"), **options)
    run = gankit.train("gauss", steps=6, out=str(tmp_path / "r"), resume=True, **options)
    lrs = [r["lr_g"] for r in read_metrics(run.dir)]
    assert lrs[:4] == pytest.approx([2e-4 * (1 - s / 4) for s in range(4)])
    assert lrs[4:] == [0.0, 0.0]  # continuous: the horizon stays at the 4 steps the run started with


def test_the_generator_phase_keeps_parameters_a_plugin_froze(gauss_plugin, tmp_path, monkeypatch):
    original = gauss_plugin.PointDiscriminator.__init__

    def frozen_first_layer(self, options, dim):
        original(self, options, dim)
        self.net[0].requires_grad_(False)

    monkeypatch.setattr(gauss_plugin.PointDiscriminator, "__init__", frozen_first_layer)
    run = gankit.train("gauss", steps=3, out=str(tmp_path / "r"), batch_size=32, checkpoint_every=1, keep_last=0,
                       quiet=True)
    first, last = (torch.load(run.dir / "checkpoints" / f"step-{s:07d}.pt", weights_only=True)["discriminator"]
                   for s in (1, 3))
    torch.testing.assert_close(first["net.0.weight"], last["net.0.weight"], rtol=0, atol=0)
    assert not torch.equal(first["net.2.weight"], last["net.2.weight"])


def test_a_lazy_penalty_is_logged_only_when_computed(gauss_plugin, tmp_path):
    run = gankit.train("gauss", steps=4, out=str(tmp_path / "r"), batch_size=32, penalty="r1", penalty_every=2,
                       log_every=1, quiet=True)
    records = read_metrics(run.dir)
    assert ["penalty" in r for r in records] == [True, False, True, False]
    assert all(r["penalty"] > 0 for r in records if "penalty" in r)


def test_sampling_from_conditions_through_the_api_and_the_cli(paired_plugin, tmp_path):
    import numpy as np
    from click.testing import CliRunner

    from gankit.cli import cli

    run = gankit.train("paired", steps=150, out=str(tmp_path / "run"), **TINY)
    c = np.random.default_rng(0).uniform(-1, 1, size=(40, 3)).astype(np.float32)
    fake = run.sample(conditions=torch.from_numpy(c), seed=1)
    assert fake.shape == (40, 2)
    assert float((fake - torch.from_numpy(c) @ paired_plugin.W.T).abs().mean()) < 0.15
    torch.testing.assert_close(gankit.sample(run, conditions=torch.from_numpy(c), seed=1), fake)
    np.save(tmp_path / "c.npy", c)
    result = CliRunner().invoke(cli, ["sample", str(run.dir), "--conditions", str(tmp_path / "c.npy"), "--format",
                                      "npy", "--seed", "1", "--out", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    assert "wrote 40 samples" in result.output
    np.testing.assert_allclose(np.load(tmp_path / "s" / "samples.npy"), fake.numpy(), rtol=1e-6, atol=1e-6)
    with pytest.raises(GankitError, match="generates from conditions"):
        run.sample(4)
    with pytest.raises(GankitError, match="3 conditions were given for 4 samples"):
        run.sample(4, conditions=torch.zeros(3, 3))
    result = CliRunner().invoke(cli, ["sample", str(run.dir), "--conditions", str(tmp_path / "missing.npy")])
    assert result.exit_code != 0 and "does not exist" in str(result.exception)


def test_evaluation_generates_from_the_real_subsets_conditions(paired_plugin, tmp_path):
    from gankit.evaluation import generate, real_subset

    run = gankit.train("paired", steps=150, out=str(tmp_path / "run"), **TINY)
    dataset = paired_plugin.Pairs(paired_plugin.PairedDataOptions(count=256))
    real, cond = real_subset(dataset, 64, seed=0)
    assert cond.shape == (64, 3) and cond.dtype == torch.float32
    fake = generate(run.generator, 64, seed=1, device=torch.device("cpu"), labels=cond)
    assert float((fake - real).abs().mean()) < 0.15  # paired: each fake near the real sample of its condition


ENGINE2_KEYS = ("optimizer_g", "optimizer_d", "weight_decay_g", "weight_decay_d", "lr_schedule", "lr_decay",
                "lr_decay_unit", "lr_warmup", "accumulate", "feature_matching", "aux_weights", "overwrite", "effective")


def test_class_conditional_checkpoints_from_before_engine_2_still_load_and_resume(tmp_path):
    """A checkpoint in the previous format: no horizon, no aux-loss state, a config without
    Engine 2's keys. It samples by label and resumes."""
    options = dict(model="mlp", conditional=True, count=256, batch_size=16, quiet=True, sample_every=0)
    run = gankit.train("image", steps=4, out=str(tmp_path / "old"), **options)
    path = run.dir / "checkpoints" / "last.pt"
    state = torch.load(path, weights_only=True)
    for key in ("horizon", "aux_losses"):
        del state[key]
    for key in ENGINE2_KEYS:
        state["config"].pop(key, None)
    torch.save(state, path)
    old = gankit.load(run.dir)
    assert old.sample(4, labels=3).shape == (4, 1, 28, 28)
    resumed = gankit.train("image", steps=6, out=str(run.dir), resume=True, **options)
    assert resumed.step == 6


class _Drawn(torch.utils.data.Dataset):
    """Points whose batches the dataset draws itself: only rows 0..9 of 100, in pairs."""

    def __init__(self):
        from gankit.specs import DataInfo

        self.x = torch.arange(100, dtype=torch.float32).unsqueeze(1)
        self.info = DataInfo(shape=(1,), value_range=None)

    def __len__(self) -> int:
        return 100

    def __getitem__(self, i: int):
        return self.x[i], -1

    def draw(self, batch_size: int, generator: torch.Generator):
        idx = torch.randint(10, (batch_size,), generator=generator)
        return self.x[idx], torch.full((batch_size,), -1)


def test_a_dataset_that_draws_its_batches_is_asked_for_each_one_resumably():
    from gankit.data import BatchStream

    stream = BatchStream(_Drawn(), 8, seed=1, device=torch.device("cpu"))
    assert stream.mode == "draw"
    batches = [stream.next()[0] for _ in range(30)]
    assert all(float(b.max()) < 10 for b in batches) and stream.epoch == 2  # 12 batches an epoch
    again = BatchStream(_Drawn(), 8, seed=1, device=torch.device("cpu"))
    again.load_state_dict({"epoch": 1, "index": 2, "seed": 1})
    assert torch.equal(again.next()[0], batches[14])
    other_rank = BatchStream(_Drawn(), 8, seed=1, device=torch.device("cpu"), rank=1, world_size=2)
    assert not torch.equal(other_rank.next()[0], batches[0])
