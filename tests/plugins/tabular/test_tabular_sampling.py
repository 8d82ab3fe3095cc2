"""Samples keep the table's schema; sampling by condition; CSV/Parquet out of the CLI."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest
from conftest import TINY, make_table

import gankit
from gankit import GankitError
from gankit.plugins.tabular.io import table


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tabular-sampling")
    original = make_table(300)
    original.to_csv(folder / "t.csv", index=False)
    run = gankit.train("tabular", dataset="file", data=str(folder / "t.csv"), steps=150, out=str(folder / "run"),
                       seed=0, lr_g=1e-3, lr_d=1e-3, **TINY)
    return run, pd.read_csv(folder / "t.csv"), folder


def test_samples_keep_columns_dtypes_categories_and_ranges(trained):
    run, original, _ = trained
    synthetic = table(run.sample(400, seed=0), run.info)
    assert list(synthetic.columns) == list(original.columns)
    for name in ("height", "count", "flag", "big", "group", "colour", "site"):
        assert synthetic[name].dtype == original[name].dtype, name
    assert synthetic["day"].dtype.kind == "M"
    assert set(synthetic["group"]) <= set(original["group"])
    assert set(synthetic["colour"].dropna()) <= set(original["colour"].dropna())
    assert set(synthetic["site"]) == {"north"}
    present = synthetic["count"].dropna()
    assert (present == present.round()).all()
    assert original["height"].min() <= synthetic["height"].min() <= synthetic["height"].max() <= original["height"].max()
    assert synthetic["count"].isna().any() and synthetic["colour"].isna().any()  # missing cells are regenerated


def test_the_same_seed_gives_the_same_table(trained):
    run, _, _ = trained
    assert run.sample(50, seed=4).equal(run.sample(50, seed=4))
    assert not run.sample(50, seed=4).equal(run.sample(50, seed=5))


def test_conditions_hold_in_every_sample(trained):
    run, _, _ = trained
    rare = table(run.sample(60, seed=0, where={"group": "c"}), run.info)
    assert len(rare) == 60 and set(rare["group"]) == {"c"}
    several = table(run.sample(80, seed=0, where=[("group", "b"), ("group", "c"), ("flag", "true")]), run.info)
    assert set(several["group"]) <= {"b", "c"} and several["flag"].all()
    missing = table(run.sample(20, seed=0, where={"colour": ""}), run.info)
    assert missing["colour"].isna().all()


@pytest.mark.parametrize("where, message", [
    ({"shape": "round"}, "the table has no column 'shape'; condition on one of: group, colour, flag, big"),
    ({"group": "z"}, "column 'group' has no value 'z'; its values are: a, b, c"),
    ({"height": "10"}, "column 'height' is continuous; conditions name categorical or boolean columns"),
    ({"site": "north"}, "column 'site' is constant"),
])
def test_bad_conditions_are_named(trained, where, message):
    run, _, _ = trained
    with pytest.raises(GankitError, match=message):
        run.sample(5, where=where)


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "gankit", *args], capture_output=True, text=True, env=env, timeout=300)


def test_gankit_sample_writes_one_csv_or_parquet_file(trained):
    run, original, folder = trained
    done = cli("sample", str(run.dir), "-n", "120", "--out", str(folder / "synth.csv"),
               "--condition", "group=a", "--condition", "group=b")
    assert done.returncode == 0, done.stderr
    assert f"wrote 120 samples to {folder / 'synth.csv'}" in done.stdout
    synthetic = pd.read_csv(folder / "synth.csv")
    assert list(synthetic.columns) == list(original.columns) and len(synthetic) == 120
    assert set(synthetic["group"]) <= {"a", "b"}
    assert cli("sample", str(run.dir), "-n", "30", "--out", str(folder / "synth.parquet")).returncode == 0
    assert pd.read_parquet(folder / "synth.parquet").shape == (30, original.shape[1])
    assert cli("sample", str(run.dir), "-n", "7", "--out", str(folder / "dir")).returncode == 0
    assert len(pd.read_csv(folder / "dir" / "samples.csv")) == 7


def test_a_bad_condition_on_the_cli_is_one_line(trained):
    run, _, _ = trained
    done = cli("sample", str(run.dir), "-n", "5", "--condition", "group=z")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == ("error: --condition group=z: column 'group' has no value 'z'; its values are: "
                                   "a, b, c")
    assert "expects KEY=VALUE" in cli("sample", str(run.dir), "--condition", "group").stderr


def test_the_preview_is_an_svg_of_columns_and_pairs(trained):
    run, _, _ = trained
    previews = sorted((run.dir / "samples").glob("step-*.svg"))
    text = previews[-1].read_text()
    assert text.startswith("<svg") and "height" in text and "Cramér" in text
