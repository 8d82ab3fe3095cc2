"""The tabular metrics against values worked out by hand (SDMetrics' definitions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import TINY

import gankit
from gankit.evaluation import evaluate
from gankit.plugins.tabular.datasets import read_frame
from gankit.plugins.tabular.metrics import column_shape
from gankit.plugins.tabular.scoring import score_frames
from gankit.plugins.tabular.options import TableOptions

NUMBER = {"name": "x", "kind": "continuous"}
CATEGORY = {"name": "c", "kind": "categorical"}


def test_ks_and_tv_complements():
    values = pd.Series(np.arange(100.0))
    assert column_shape(values, values, NUMBER) == 1.0
    assert column_shape(values, values + 50, NUMBER) == pytest.approx(0.5)  # KS statistic 0.5
    half = pd.Series(["a", "b"] * 50)
    assert column_shape(half, pd.Series(["a"] * 100), CATEGORY) == pytest.approx(0.5)  # TV distance 0.5
    with_missing = pd.Series(["a", None] * 50)
    assert column_shape(with_missing, pd.Series(["a"] * 100), CATEGORY) == pytest.approx(0.5)


@pytest.fixture(scope="module")
def adult_like(tmp_path_factory):
    """A table with a binary target that depends on the features, split in two."""
    folder = tmp_path_factory.mktemp("tabular-metrics")
    rng = np.random.default_rng(0)
    rows = 600
    age = rng.integers(18, 80, rows)
    job = rng.choice(["x", "y", "z"], rows)
    income = np.where((age > 45) ^ (job == "z") ^ (rng.random(rows) < 0.1), ">50K", "<=50K")
    frame = pd.DataFrame({"age": age, "job": job, "income": income})
    frame[:450].to_csv(folder / "fit.csv", index=False)
    frame[450:].to_csv(folder / "val.csv", index=False)
    options = TableOptions(target="income")
    return folder, read_frame(folder / "fit.csv", options)[0], read_frame(folder / "val.csv", options)[0]


def params_of(folder):
    from gankit.plugins.tabular.datasets import load

    return load(folder / "fit.csv", TableOptions(target="income")).info.extra


def test_a_copy_of_the_training_table_scores_perfectly_and_is_flagged(adult_like):
    folder, training, holdout = adult_like
    scores = score_frames(training, training, holdout, params_of(folder), seed=0)
    assert scores["quality"]["score"] == pytest.approx(1.0)
    assert scores["pairs"]["correlation_similarity" if "correlation_similarity" in scores["pairs"] else "score"] \
        == pytest.approx(1.0)
    assert scores["privacy"]["exact_copies"] == 1.0 and scores["privacy"]["dcr_synthetic"] == 0.0
    assert scores["privacy"]["dcr_ratio"] == 0.0 or scores["privacy"]["dcr_holdout"] == 0.0
    efficacy = scores["efficacy"]
    assert efficacy["tstr_auc"] > 0.8 and efficacy["tstr_over_trtr"] > 0.9


def test_a_shuffled_table_keeps_shapes_and_loses_pairs_and_efficacy(adult_like):
    folder, training, holdout = adult_like
    rng = np.random.default_rng(1)
    shuffled = training.apply(lambda column: column.to_numpy()[rng.permutation(len(column))])
    scores = score_frames(shuffled, training, holdout, params_of(folder), seed=0)
    assert scores["shapes"]["score"] == pytest.approx(1.0)
    assert scores["pairs"]["score"] < 0.95
    assert scores["efficacy"]["tstr_auc"] < 0.65 < scores["efficacy"]["trtr_auc"]


def test_gankit_evaluate_scores_a_run_with_held_out_rows(adult_like):
    folder, _, _ = adult_like
    gankit.train("tabular", dataset="file", data=str(folder / "fit.csv"), target="income", steps=3,
                 out=str(folder / "run"), **TINY)
    plain = evaluate(folder / "run", n=100)["metrics"]
    assert {"quality", "shapes", "pairs", "efficacy", "privacy"} == set(plain)
    assert "--metric-option holdout" in plain["efficacy"]["protocol"]["skipped"]
    held = evaluate(folder / "run", n=100, metric_options={"holdout": str(folder / "val.csv")})["metrics"]
    assert set(held["efficacy"]["values"]) >= {"tstr_auc", "trtr_auc", "tstr_f1", "trtr_f1", "tstr_over_trtr"}
    assert held["efficacy"]["protocol"]["test_rows"] == 150
    assert 0 <= held["privacy"]["values"]["closer_to_training"] <= 1
    assert 0 < held["quality"]["values"]["score"] <= 1
