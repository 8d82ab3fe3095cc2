"""Sampling to disk streams: any count is written a chunk at a time, refused up front when
it cannot fit, and a full disk, a file-size limit or Ctrl-C leaves no partial file."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import torch

import gankit
from gankit.errors import GankitError
from gankit.run import Run

TINY = dict(model="mlp", steps=2, batch_size=8, count=64, hidden=16, quiet=True)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    return gankit.train("image", out=str(tmp_path_factory.mktemp("streaming") / "run"), **TINY)


@contextlib.contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """``ulimit -f``: a write past ``limit`` bytes fails with EFBIG, as on a full disk
    (Python ignores SIGXFSZ, so the write raises instead of killing the process)."""
    resource = pytest.importorskip("resource")
    if signal.getsignal(signal.SIGXFSZ) != signal.SIG_IGN:
        pytest.skip("SIGXFSZ is not ignored here, so a file-size limit would kill the test process")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_npy_is_the_in_memory_samples_written_a_chunk_at_a_time(run, tmp_path, monkeypatch):
    sizes = []
    batches = Run._batches

    def recorded(self, *args):
        for start, batch in batches(self, *args):
            sizes.append(len(batch))
            yield start, batch

    monkeypatch.setattr("gankit.run.SAMPLE_CHUNK", 16)
    monkeypatch.setattr(Run, "_batches", recorded)
    paths = run.save_samples(tmp_path / "out", 100, format="npy", seed=3)
    assert paths == [tmp_path / "out" / "samples.npy", tmp_path / "out" / "samples.json"]
    assert max(sizes) == 16 and sum(sizes) == 100  # never more than one chunk in memory
    array = np.load(paths[0], allow_pickle=False)
    expected = run.domain.to_numpy(run.sample(100, seed=3), run.info)
    assert array.shape == (100, 1, 28, 28) and np.array_equal(array, expected)
    assert json.loads(paths[1].read_text())["shape"] == [100, 1, 28, 28]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["samples.json", "samples.npy"]  # no staging left


def test_native_files_are_named_in_order_across_chunks(run, tmp_path):
    paths = run.save_samples(tmp_path / "png", 300, seed=1)
    assert [p.name for p in paths] == [f"sample-{i:05d}.png" for i in range(300)]
    assert all(p.parent == tmp_path / "png" and p.stat().st_size > 0 for p in paths)
    assert len(list((tmp_path / "png").iterdir())) == 300


def test_an_absurd_count_is_refused_with_the_estimate_before_anything_is_written(run, tmp_path):
    for fmt in ("npy", "native"):
        with pytest.raises(GankitError, match=r"the 100,000,000,000 samples need about [\d.]+ TB, but .* free"):
            run.save_samples(tmp_path / fmt, 10**11, format=fmt)
        assert not (tmp_path / fmt).exists()
    with pytest.raises(GankitError, match=r"take about [\d.]+ TB in memory, more than .*save_samples\(out, n\)"):
        run.sample(10**11)


def test_a_disk_with_too_little_room_is_refused_up_front(run, tmp_path, monkeypatch):
    import shutil

    real = shutil.disk_usage
    monkeypatch.setattr("gankit.outputs.shutil.disk_usage", lambda path: real(path)._replace(free=50_000))
    with pytest.raises(GankitError, match=r"the 1,000 samples need about 3.1 MB, but .* has 50.0 kB free"):
        run.save_samples(tmp_path / "out", 1000, format="npy")
    assert not (tmp_path / "out").exists()


def test_a_full_disk_leaves_the_previous_files_and_no_partial_one(run, tmp_path):
    out = tmp_path / "out"
    run.save_samples(out, 4, format="npy")
    before = _files(out)
    with file_size_limit(64 * 1024), pytest.raises(GankitError, match=r"cannot write the samples to .*File too large"):
        run.save_samples(out, 300, format="npy")  # 940 kB
    assert _files(out) == before
    with file_size_limit(64 * 1024), pytest.raises(GankitError, match="cannot write the samples"):
        run.save_samples(tmp_path / "new" / "deeper", 300, format="npy")
    assert not (tmp_path / "new").exists()  # the folders it made are gone too


def test_ctrl_c_midway_leaves_no_partial_file(run, tmp_path, monkeypatch):
    out = tmp_path / "out"
    run.save_samples(out, 2)
    before = _files(out)
    batches = Run._batches

    def interrupted(self, *args):
        chunks = batches(self, *args)
        yield next(chunks)
        raise KeyboardInterrupt  # Ctrl-C while the second chunk is made

    monkeypatch.setattr(Run, "_batches", interrupted)
    for fmt in ("native", "npy"):
        with pytest.raises(KeyboardInterrupt, match=r"no samples written to .* \(partial files removed\)"):
            run.save_samples(out, 600, format=fmt)
        assert _files(out) == before


def test_samples_go_into_a_folder_never_onto_a_file(run, tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine\n")
    with pytest.raises(GankitError, match="is a file, not a folder"):
        run.save_samples(target, 2)
    assert target.read_text() == "mine\n"


def test_labels_of_a_huge_count_are_not_allocated_up_front(tmp_path):
    conditional = gankit.train("image", out=str(tmp_path / "c"), conditional=True, **TINY)
    first = conditional.sample(12, seed=0)
    assert torch.equal(first, conditional.sample(12, seed=0, labels=torch.arange(12) % 10))
    with pytest.raises(GankitError, match="in memory"):
        conditional.sample(10**12)  # a label per sample would be 8 TB before the check


def test_a_killed_writers_staging_folder_is_removed_by_the_next_write(run, tmp_path):
    """SIGKILL leaves `.gankit-PID-*.tmp` behind; the next sample into the folder removes it,
    but not the staging folder of a writer that is still running."""
    import subprocess
    import sys

    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    out = tmp_path / "out"
    orphan = out / f".gankit-{finished.pid}-x1y2.tmp"
    live = out / f".gankit-{os.getpid()}-a3b4.tmp"
    for folder in (orphan, live):
        folder.mkdir(parents=True)
        (folder / "samples.npy").write_bytes(b"partial")
    run.save_samples(out, 4, format="npy")
    assert not orphan.exists() and (live / "samples.npy").exists()
    assert sorted(p.name for p in out.iterdir()) == sorted([live.name, "samples.json", "samples.npy"])
