"""The encoding of a table (mode-specific normalisation, one-hots) and its schema."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import make_table

from gankit.plugins.tabular.datasets import load
from gankit.plugins.tabular.options import TableOptions
from gankit.plugins.tabular.transformer import decode, layout_of


def test_encode_then_decode_returns_the_table(table_csv):
    dataset = load(table_csv, TableOptions())
    original = dataset.frame
    back = decode(dataset.tensors[0].numpy(), dataset.info.extra)
    assert list(back.columns) == list(original.columns)
    for name in ("group", "colour", "flag", "big", "site"):
        assert back[name].astype(str).tolist() == original[name].astype(str).tolist(), name
    assert back["colour"].isna().sum() == original["colour"].isna().sum() > 0
    np.testing.assert_allclose(back["height"], original["height"], rtol=1e-5)
    pd.testing.assert_series_equal(back["count"], original["count"])  # integral values with missing cells
    gap = (back["day"] - pd.to_datetime(original["day"])).abs().max()
    assert gap < pd.Timedelta(minutes=1)


def test_schema_is_inferred_and_stored_as_plain_json(table_csv):
    dataset = load(table_csv, TableOptions())
    extra = dataset.info.extra
    assert json.loads(json.dumps(extra)) == extra
    kinds = {column["name"]: column["kind"] for column in extra["columns"]}
    assert kinds == {"group": "categorical", "height": "continuous", "count": "continuous", "colour": "categorical",
                     "flag": "boolean", "day": "datetime", "site": "constant", "big": "boolean"}
    count = next(c for c in extra["columns"] if c["name"] == "count")
    assert count["integer"] and count["missing"] == dataset.frame["count"].isna().sum()
    height = next(c for c in extra["columns"] if c["name"] == "height")
    assert len(height["modes"]["means"]) >= 2  # the two bumps get a mode each
    assert sorted(c for c in next(c for c in extra["columns"] if c["name"] == "group")["categories"]) == ["a", "b", "c"]


def test_layout_puts_alpha_then_modes_and_one_hots(table_csv):
    dataset = load(table_csv, TableOptions())
    layout = layout_of(dataset.info.extra)
    rows = dataset.tensors[0]
    assert rows.shape[1] == layout.width
    assert rows.abs().max() <= 1
    for start, end in layout.softmax:
        assert (rows[:, start:end].sum(dim=1) == 1).all()
    assert layout.discrete_names == ("group", "colour", "flag", "big")
    assert layout.cond_width == 3 + 3 + 2 + 2  # colour has a missing category


def test_overrides_change_the_kinds(table_csv):
    options = TableOptions(discrete=("count",), exclude=("day",), datetime=())
    extra = load(table_csv, options).info.extra
    kinds = {column["name"]: column["kind"] for column in extra["columns"]}
    assert kinds["count"] == "categorical" and "day" not in kinds


def test_encoding_is_seeded_and_the_fit_is_cached(table_csv, monkeypatch):
    first = load(table_csv, TableOptions())
    import gankit.plugins.tabular.transformer as transformer

    monkeypatch.setattr(transformer, "_fit_modes", lambda *a, **k: pytest.fail("the cached fit was not used"))
    again = load(table_csv, TableOptions())
    assert (first.tensors[0] == again.tensors[0]).all()
    assert first.info.extra == again.info.extra


def test_a_data_frame_from_the_api_is_stored_for_the_run(tmp_path):
    from gankit.plugins.tabular.datasets import frame_file

    frame = make_table(50)
    path = frame_file(frame)
    assert path.suffix == ".parquet" and frame_file(frame) == path
    dataset = load(path, TableOptions())
    assert len(dataset) == 50 and dataset.frame["flag"].dtype == bool
