"""Nothing is lost: non-finite losses, full disks, killed writes, and pickle-free export."""

from __future__ import annotations

import errno
import json
import math

import pytest
import torch
from click.testing import CliRunner

import gankit
from gankit.checkpoint import load_checkpoint
from gankit.cli import cli
from gankit.errors import GankitError


def _steps(run_dir):
    return [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _finite(run_dir):
    state = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    return all(torch.isfinite(t).all() for part in ("generator", "discriminator") for t in state[part].values())


def test_non_finite_loss_stops_with_the_step_and_last_checkpoint(gauss_plugin, tmp_path):
    with pytest.raises(GankitError, match=r"non-finite loss between steps 20 and 40 .*last\.pt.*--on-nan"):
        gankit.train("gauss", steps=100, log_every=20, checkpoint_every=20, nan_from=100, nan_until=110,
                     out=str(tmp_path / "r"), quiet=True)
    assert load_checkpoint(tmp_path / "r" / "checkpoints" / "last.pt")["step"] == 20  # D is called 3 times a step
    assert _finite(tmp_path / "r")


def test_skip_leaves_out_the_bad_updates(gauss_plugin, tmp_path):
    run = gankit.train("gauss", steps=100, log_every=20, on_nan="skip", nan_from=100, nan_until=110,
                       out=str(tmp_path / "r"), quiet=True)
    skipped = [r.get("skipped_updates", 0) for r in run.metrics]
    assert sum(skipped) > 0 and all(math.isfinite(r["d_loss"]) for r in run.metrics)
    assert run.step == 100 and _finite(run.dir)


def test_rollback_returns_to_the_checkpoint_and_goes_on(gauss_plugin, tmp_path):
    run = gankit.train("gauss", steps=100, log_every=20, checkpoint_every=20, on_nan="rollback", nan_from=100,
                       nan_until=110, out=str(tmp_path / "r"), quiet=True)
    assert run.step == 100 and _finite(run.dir)
    assert _steps(run.dir) == [20, 40, 60, 80, 100]  # the rolled-back interval is logged once


def test_a_full_disk_keeps_the_previous_checkpoint(gauss_plugin, tmp_path, monkeypatch):
    import gankit.checkpoint as checkpoint_module

    real_save = checkpoint_module.torch.save
    calls = {"n": 0}

    def failing_save(obj, handle):
        calls["n"] += 1
        if calls["n"] == 2:
            handle.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(obj, handle)

    monkeypatch.setattr(checkpoint_module.torch, "save", failing_save)
    with pytest.raises(GankitError, match="No space left on device.*last.pt\\) is intact"):
        gankit.train("gauss", steps=40, checkpoint_every=20, out=str(tmp_path / "r"), quiet=True)
    folder = tmp_path / "r" / "checkpoints"
    assert load_checkpoint(folder / "last.pt")["step"] == 20
    assert not list(folder.glob(".*.tmp"))


def test_a_write_killed_midway_leaves_last_intact_and_resume_cleans_up(gauss_plugin, tmp_path, monkeypatch):
    gankit.train("gauss", steps=20, out=str(tmp_path / "r"), quiet=True)
    folder = tmp_path / "r" / "checkpoints"
    (folder / ".step-0000040.pt.abc.tmp").write_bytes(b"half a checkpoint")  # what a kill -9 leaves
    assert load_checkpoint(folder / "last.pt")["step"] == 20
    run = gankit.train("gauss", steps=40, out=str(tmp_path / "r"), resume=True, quiet=True)
    assert run.step == 40 and not list(folder.glob(".*.tmp"))


def test_unwritable_output_is_a_clear_error(gauss_plugin, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(GankitError, match="cannot create the run directory"):
        gankit.train("gauss", steps=2, out=str(blocker / "run"), quiet=True)


def test_export_to_safetensors_loads_without_pickle(tmp_path):
    run = gankit.train("image", steps=5, batch_size=8, count=64, out=str(tmp_path / "r"), quiet=True)
    result = CliRunner().invoke(cli, ["export", str(run.dir), "--out", str(tmp_path / "x")])
    assert result.exit_code == 0, result.output
    weights = (tmp_path / "x" / "generator.safetensors").read_bytes()
    assert b"pickle" not in weights[:2000] and weights[8:9] == b"{"  # a JSON header, no pickle
    exported = gankit.load(tmp_path / "x")
    assert torch.equal(exported.sample(4, seed=2), run.sample(4, seed=2))
    assert json.loads((tmp_path / "x" / "generator.json").read_text())["uses_ema"] is True
