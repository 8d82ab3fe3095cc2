"""A run directory is its run's alone: no writing into a user's folder (or /), one process
at a time, no skeletons left by a failed start, and atomic writes that keep the old file."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import gankit
from gankit.atomic import atomic_link, atomic_write
from gankit.checkpoint import load_checkpoint
from gankit.cli import cli
from gankit.errors import GankitError
from gankit.rundir import LOCK, MARKER, RunLock, is_run_dir, prepare_run_dir

TINY = dict(model="mlp", steps=2, batch_size=8, count=64, hidden=16, quiet=True)
CLI_TINY = ["--steps", "2", "--batch-size", "8", "-o", "count", "64", "-o", "hidden", "16", "--quiet"]


def _train(out: Path | str, **options):
    return gankit.train("image", out=str(out), **{**TINY, **options})


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A finished two-step run, copied by the tests that change it."""
    out = tmp_path_factory.mktemp("finished") / "run"
    _train(out)
    return out


def _copy_run(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


# Refusing folders that are not a run's ---------------------------------------------------

def test_a_users_folder_is_refused_and_left_byte_identical(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "config.json").write_text('{"learning_rate": 3}\n')
    (folder / "notes.txt").write_text("do not lose me\n")
    (folder / "samples").mkdir()
    (folder / "samples" / "holiday.png").write_bytes(b"\x89PNG not really")
    before = _snapshot(folder)
    for extra in ({}, {"overwrite": True}):
        with pytest.raises(GankitError, match=r"is not empty and is not a gankit run .*'config.json', 'notes.txt'"):
            _train(folder, **extra)
    result = CliRunner().invoke(cli, ["train", "image", "--out", str(folder), *CLI_TINY])
    assert isinstance(result.exception, GankitError) and "choose a new or empty folder" in str(result.exception)
    assert _snapshot(folder) == before
    assert sorted(os.listdir(folder)) == ["config.json", "notes.txt", "samples"]


def test_the_filesystem_root_is_refused_before_anything_is_written(monkeypatch):
    root = Path(os.path.abspath(os.sep))
    listing = sorted(os.listdir(root))
    real_mkdir, real_open = os.mkdir, os.open

    def guarded_mkdir(path, *args, **kwargs):
        assert Path(path).parent != root, f"wrote {path} into the filesystem root"
        return real_mkdir(path, *args, **kwargs)

    def guarded_open(path, flags, *args, **kwargs):
        assert not (flags & os.O_CREAT and Path(path).parent == root), f"created {path} in the filesystem root"
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", guarded_mkdir)
    monkeypatch.setattr(os, "open", guarded_open)
    with pytest.raises(GankitError, match=r"^--out '/' is not empty and is not a gankit run"):
        _train(root)
    result = CliRunner().invoke(cli, ["train", "image", "--out", str(root), "--overwrite", *CLI_TINY])
    assert isinstance(result.exception, GankitError), result.output
    assert sorted(os.listdir(root)) == listing


def test_a_model_too_large_to_build_is_refused_before_it_is_allocated(tmp_path):
    """-o hidden 1e9 asks for about 1e18 parameters; it is measured on the meta device and
    refused, with what to do, before any memory or file is touched."""
    with pytest.raises(GankitError, match=r"model 'mlp' with these options describes a model of .* parameters .*"
                                          r"check its -o options .*GANKIT_MAX_PARAMETERS"):
        gankit.train("image", model="mlp", hidden=10**9, steps=1, out=str(tmp_path / "huge"), quiet=True)
    assert not (tmp_path / "huge").exists()


def test_the_size_check_leaves_a_seeded_run_bit_identical(tmp_path, monkeypatch):
    """The meta-device build inside the check must not draw from the seeded RNG."""
    from gankit.engine import session

    options = dict(model="mlp", steps=2, batch_size=8, count=64, quiet=True, sample_every=0, seed=5)
    checked = gankit.train("image", out=str(tmp_path / "checked"), **options)
    monkeypatch.setattr(session, "check_model_size", lambda *args, **kwargs: None)
    unchecked = gankit.train("image", out=str(tmp_path / "unchecked"), **options)
    a = load_checkpoint(checked.checkpoint_path)["generator"]
    b = load_checkpoint(unchecked.checkpoint_path)["generator"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_file_as_out_is_a_clear_error(tmp_path):
    target = tmp_path / "weights.bin"
    target.write_bytes(b"data")
    with pytest.raises(GankitError, match=r"is a file, not a folder; choose a new or empty folder"):
        _train(target)
    assert target.read_bytes() == b"data"


def test_an_empty_folder_is_used(tmp_path):
    run = _train(tmp_path)
    assert run.step == 2 and is_run_dir(tmp_path)
    assert json.loads((tmp_path / MARKER).read_text())["format"] == 1
    assert not (tmp_path / LOCK).exists()


# Existing runs: --resume, --overwrite -----------------------------------------------------

def test_an_existing_run_needs_resume_or_overwrite(finished_run, tmp_path):
    run_dir = _copy_run(finished_run, tmp_path / "run")
    before = _snapshot(run_dir)
    with pytest.raises(GankitError, match="already holds a gankit run; pass --resume to continue it or --overwrite"):
        _train(run_dir, seed=5)
    assert _snapshot(run_dir) == before


def test_overwrite_replaces_a_run(finished_run, tmp_path):
    run_dir = _copy_run(finished_run, tmp_path / "run")
    (run_dir / "report.html").write_text("<html>old</html>")
    (run_dir / "checkpoints" / ".step-0000009.pt.abc.tmp").write_bytes(b"left by a kill")
    run = _train(run_dir, seed=5, steps=3, overwrite=True)
    assert run.step == 3 and json.loads((run_dir / "config.json").read_text())["seed"] == 5
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["last.pt", "step-0000003.pt"]
    assert not (run_dir / "report.html").exists() and not (run_dir / LOCK).exists()


def test_overwrite_never_removes_what_a_run_does_not_write(finished_run, tmp_path):
    run_dir = _copy_run(finished_run, tmp_path / "run")
    (run_dir / "notes.txt").write_text("mine")
    before = _snapshot(run_dir)
    with pytest.raises(GankitError, match=r"--overwrite removes only a run's own files, .* holds 'notes.txt'; move it"):
        _train(run_dir, overwrite=True)
    assert _snapshot(run_dir) == before


def test_entries_a_run_added_are_recorded_for_overwrite(tmp_path):
    """A plugin's run files (the text domain's tokenizer/) are the run's: the marker lists
    them when the run ends, so --overwrite may remove them."""
    with prepare_run_dir(tmp_path / "run", resume=False) as claimed:
        (claimed.path / "vocabulary").mkdir()
        (claimed.path / "checkpoints" / "last.pt").write_bytes(b"a result")
    assert json.loads((tmp_path / "run" / MARKER).read_text())["entries"] == ["vocabulary"]
    prepare_run_dir(tmp_path / "run", resume=False, overwrite=True).release()
    assert os.listdir(tmp_path / "run") == []  # replaced, and the replacement produced nothing


def test_resume_and_overwrite_together_are_refused(finished_run):
    with pytest.raises(GankitError, match="pass only one of them"):
        _train(finished_run, steps=4, resume=True, overwrite=True)


def test_a_resumed_run_that_started_with_overwrite_does_not_overwrite(finished_run, tmp_path):
    run_dir = _copy_run(finished_run, tmp_path / "run")
    _train(run_dir, overwrite=True)
    assert _train(run_dir, steps=4, resume=True).step == 4
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["step"] == 4


# One process per run directory ------------------------------------------------------------

LOCKER = """
import sys
from pathlib import Path
from gankit.rundir import RunLock
lock = RunLock.acquire(Path(sys.argv[1]))
print("locked", flush=True)
sys.stdin.read()
lock.release()
"""


def test_a_run_in_use_by_another_process_is_refused(finished_run, tmp_path):
    run_dir = _copy_run(finished_run, tmp_path / "run")
    child = subprocess.Popen([sys.executable, "-c", LOCKER, str(run_dir)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "locked"
        before = _snapshot(run_dir)
        for options in ({"resume": True, "steps": 4}, {"overwrite": True}, {}):
            with pytest.raises(GankitError, match=rf"^run '.*' is in use by process {child.pid} \(started .*\); "
                                                  r"wait for it to finish or stop it$"):
                _train(run_dir, **options)
        result = CliRunner().invoke(cli, ["train", "image", "--out", str(run_dir), "--resume", "--steps", "4",
                                          "--quiet"])
        assert f"in use by process {child.pid}" in str(result.exception)
        assert _snapshot(run_dir) == before  # not even the holder's lock file
    finally:
        child.stdin.close()
        child.wait(timeout=60)
    assert not (run_dir / LOCK).exists()
    assert _train(run_dir, steps=4, resume=True).step == 4


def test_a_second_lock_in_the_same_process_conflicts(tmp_path):
    with RunLock.acquire(tmp_path):
        with pytest.raises(GankitError, match=rf"in use by process {os.getpid()}"):
            RunLock.acquire(tmp_path)
    assert not (tmp_path / LOCK).exists()
    RunLock.acquire(tmp_path).release()


def test_a_stale_lock_is_taken_over_with_a_message(finished_run, tmp_path):
    run_dir = _copy_run(finished_run, tmp_path / "run")
    stale = {"pid": 4_999_999, "host": socket.gethostname(), "started": "2020-01-01 00:00:00"}
    (run_dir / LOCK).write_text(json.dumps(stale))
    with pytest.warns(UserWarning, match=r"took over the stale lock of run .*: process 4999999 \(started 2020"):
        run = _train(run_dir, steps=4, resume=True)
    assert run.step == 4 and not (run_dir / LOCK).exists()


def test_resume_refuses_a_run_that_moved_on_while_it_loaded(finished_run, tmp_path):
    """A resume that loaded step N while the run was still writing N+k would train on from
    N over the newer steps: refused once the lock is taken."""
    run_dir = _copy_run(finished_run, tmp_path / "run")
    with pytest.raises(GankitError, match=r"moved on to step 2 while this process loaded step 1 .* resume again"):
        prepare_run_dir(run_dir, resume=True, resume_step=1)
    assert not (run_dir / LOCK).exists()
    prepare_run_dir(run_dir, resume=True, resume_step=2).release()


def test_resume_removes_leftover_temporary_files(finished_run, tmp_path):
    run_dir = _copy_run(finished_run, tmp_path / "run")
    (run_dir / ".config.json.ab12.tmp").write_text("{")
    (run_dir / ".metrics.jsonl.tmp").write_text("")
    _train(run_dir, steps=3, resume=True)
    assert not list(run_dir.glob(".*.tmp"))


# A failed start leaves nothing ------------------------------------------------------------

def test_a_failed_start_leaves_no_folder_behind(tmp_path):
    out = tmp_path / "new" / "run"
    with pytest.raises(GankitError, match="unknown augmentation"):
        _train(out, augment="nonsense")
    with pytest.raises(GankitError):
        _train(out, penalty="gp", model="dcgan")
    result = CliRunner().invoke(cli, ["train", "image", "--out", str(out), "-o", "hidden", "0", "--steps", "2"])
    assert isinstance(result.exception, GankitError)
    assert not (tmp_path / "new").exists()
    assert _train(out).step == 2  # and nothing is held: the same folder trains next


def test_a_failed_start_in_an_empty_folder_leaves_it_empty(tmp_path):
    with pytest.raises(GankitError, match="unknown augmentation"):
        _train(tmp_path, augment="nonsense")
    assert tmp_path.is_dir() and os.listdir(tmp_path) == []


def test_a_claim_released_without_results_is_removed_and_one_with_results_kept(tmp_path):
    prepare_run_dir(tmp_path / "a" / "b", resume=False).release()
    assert not (tmp_path / "a").exists()
    claimed = prepare_run_dir(tmp_path / "c", resume=False)
    (claimed.path / "metrics.jsonl").write_text('{"step": 1}\n')
    claimed.release()
    claimed.release()  # idempotent
    assert sorted(os.listdir(tmp_path / "c")) == ["checkpoints", MARKER, "metrics.jsonl", "samples"]


# atomic_write / atomic_link ----------------------------------------------------------------

def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "state.bin"
    atomic_write(target, b"old")

    def failing(handle):
        handle.write(b"half of the new")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic_write(target, failing)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["state.bin"]


def test_atomic_write_forms_and_permissions(tmp_path):
    reference = tmp_path / "reference"
    reference.write_text("x")
    atomic_write(tmp_path / "text", "héllo")
    atomic_write(tmp_path / "bytes", b"\x00\x01")
    atomic_write(tmp_path / "callable", lambda handle: handle.write(b"called"), fsync=False)
    assert (tmp_path / "text").read_text(encoding="utf-8") == "héllo"
    assert (tmp_path / "bytes").read_bytes() == b"\x00\x01" and (tmp_path / "callable").read_bytes() == b"called"
    assert (tmp_path / "text").stat().st_mode & 0o777 == reference.stat().st_mode & 0o777  # the umask, not 0600
    (tmp_path / "text").chmod(0o600)
    atomic_write(tmp_path / "text", "again")
    assert (tmp_path / "text").stat().st_mode & 0o777 == 0o600  # a replaced file keeps its mode


def test_atomic_link_points_the_target_at_the_source(tmp_path):
    source, target = tmp_path / "step-2.pt", tmp_path / "last.pt"
    source.write_bytes(b"two")
    target.write_bytes(b"one")
    atomic_link(source, target)
    assert target.read_bytes() == b"two" and os.path.samefile(source, target)
    assert sorted(os.listdir(tmp_path)) == ["last.pt", "step-2.pt"]
