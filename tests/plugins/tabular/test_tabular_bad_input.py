"""Bad tables: each gives one clear line (the CLI shows no traceback) or a counted handling."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import make_table

from gankit import GankitError
from gankit.plugins.tabular.datasets import load
from gankit.plugins.tabular.options import TableOptions


def refused(path, **options) -> str:
    with pytest.raises(GankitError) as error:
        load(path, TableOptions(**options))
    message = str(error.value)
    assert "\n" not in message
    return message


def test_an_empty_file_is_refused(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    assert "is empty" in refused(tmp_path / "empty.csv")


def test_a_header_without_rows_is_refused(tmp_path):
    (tmp_path / "header.csv").write_text("a,b,c\n")
    assert "no data rows" in refused(tmp_path / "header.csv")


def test_ragged_rows_are_skipped_and_counted(tmp_path):
    lines = ["a,b,c"] + [f"{i},{i % 3},x{i % 2}" for i in range(40)]
    lines[5] += ",extra"
    lines[9] = "7,8"
    (tmp_path / "ragged.csv").write_text("\n".join(lines) + "\n")
    dataset = load(tmp_path / "ragged.csv", TableOptions())
    assert len(dataset) == 38
    assert "skipped 2 of 40 rows: 2 not 3 fields like the header (first: line 6)" in dataset.description


def test_an_all_missing_column_is_kept_as_it_is(tmp_path):
    frame = make_table(60).assign(empty=np.nan)
    frame.to_csv(tmp_path / "t.csv", index=False)
    dataset = load(tmp_path / "t.csv", TableOptions())
    assert "column 'empty' is empty (every value missing): reproduced as is, not modelled" in dataset.description
    column = next(c for c in dataset.info.extra["columns"] if c["name"] == "empty")
    assert column["kind"] == "constant" and column["value"] is None


def test_a_constant_column_is_reproduced_not_modelled(tmp_path):
    make_table(60).to_csv(tmp_path / "t.csv", index=False)
    dataset = load(tmp_path / "t.csv", TableOptions())
    assert "column 'site' is constant ('north')" in dataset.description
    from gankit.plugins.tabular.transformer import decode

    assert set(decode(dataset.tensors[0][:5].numpy(), dataset.info.extra)["site"]) == {"north"}


def test_a_column_with_ten_thousand_levels_is_refused_by_name(tmp_path):
    frame = pd.DataFrame({"id": [f"user-{i}" for i in range(10_000)], "x": np.arange(10_000) % 7})
    frame.to_csv(tmp_path / "ids.csv", index=False)
    message = refused(tmp_path / "ids.csv")
    assert "column 'id' has 10,000 distinct values" in message and "-o exclude id" in message
    assert len(load(tmp_path / "ids.csv", TableOptions(exclude=("id",)))) == 10_000


def test_a_file_that_is_not_utf8_names_the_encoding_option(tmp_path):
    (tmp_path / "latin.csv").write_bytes("name,n\ncaf\xe9,1\nthé,2\nabc,3\n".encode("latin-1"))
    message = refused(tmp_path / "latin.csv")
    assert "not utf-8 text (byte 0xe9 on line 2)" in message and "-o encoding latin-1" in message
    dataset = load(tmp_path / "latin.csv", TableOptions(encoding="latin-1"))
    assert sorted(dataset.frame["name"]) == ["abc", "café", "thé"]


def test_unknown_columns_in_options_are_named(tmp_path):
    make_table(30).to_csv(tmp_path / "t.csv", index=False)
    assert "no column 'zip'" in refused(tmp_path / "t.csv", discrete=("zip",))
    assert "every column is excluded" in refused(tmp_path / "t.csv", exclude=tuple(make_table(2).columns))


def test_unterminated_quotes_and_unknown_formats_are_refused(tmp_path):
    (tmp_path / "quote.csv").write_text('a,b\n1,"open\n2,3\n')
    assert "CSV" in refused(tmp_path / "quote.csv")
    (tmp_path / "table.xlsx").write_bytes(b"PK\x03\x04")
    assert ".csv" in refused(tmp_path / "table.xlsx")


def test_the_cli_prints_one_line_and_no_traceback(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "gankit", "train", "tabular", "--dataset", "file", "--data",
                           str(tmp_path / "empty.csv"), "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("error: ") and "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()
