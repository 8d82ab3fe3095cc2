"""The tabular metrics, defined as SDMetrics defines them so numbers compare with SDV's:

- ``shapes``: per column, the KS complement (1 - the two-sample Kolmogorov-Smirnov
  statistic; numeric and datetime columns, missing values left out) or the TV complement
  (1 - the total variation distance of the category frequencies, missing a category);
  ``score`` is their mean (SDMetrics' "Column Shapes").
- ``pairs``: per column pair, the correlation similarity ``1 - |r_real - r_synth| / 2``
  (Pearson, both numeric) or the contingency similarity (1 - the total variation distance
  of the joint frequencies; numeric columns cut into 10 equal-width bins of the real range);
  ``score`` is their mean ("Column Pair Trends").
- ``quality``: the mean of the two ("Quality Score").
- ``efficacy`` and ``privacy`` need real rows the model was not trained on: ``gankit evaluate
  RUN --metric-option holdout HELDOUT.csv`` (otherwise they are skipped and say so). See
  their functions.

The real table is the evaluated dataset's (the run's, or ``--data``'s); the training table
is the file the run was trained on (``DataInfo.extra["source"]``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
import torch

from gankit.specs import EvalContext, MetricResult

from .schema import DISCRETE_KINDS
from .transformer import decode, numeric_values

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

PAIR_BINS = 10
NUMERIC = ("continuous", "datetime")


@dataclass
class Tables:
    synthetic: "pd.DataFrame"
    real: "pd.DataFrame"
    columns: list[Mapping[str, Any]]
    training: "pd.DataFrame | None" = None  # the run's training table (with held_out=True)
    holdout: "pd.DataFrame | None" = None   # real rows it was not trained on (with held_out=True)
    why_not: str = ""


def tables(fake: torch.Tensor, context: EvalContext, *, held_out: bool = False) -> Tables:
    """The synthetic table, the evaluated real table and, with ``held_out``, the training
    table and held-out rows: ``--metric-option holdout PATH``, or the evaluated table when it
    is not the training table (``gankit evaluate --data``)."""
    params = context.info.extra
    real = context.dataset.frame
    columns = [column for column in params["columns"] if column["name"] in real.columns]
    result = Tables(decode(fake.numpy(), params), real, columns)
    if not held_out:
        return result
    from .datasets import read_frame

    options = dataclasses.replace(context.dataset.options, rows=None)
    source = params.get("source", {})
    evaluated_is_training = context.dataset.info.extra.get("source", {}).get("sha256") == source.get("sha256")
    if evaluated_is_training:
        result.training = real
    elif source.get("path") and Path(source["path"]).is_file():
        result.training = read_frame(Path(source["path"]), options)[0].reset_index(drop=True)
    else:
        result.why_not = f"needs the training table, and {source.get('path')!r} is gone"
    holdout = getattr(context.options, "holdout", None)
    if holdout:
        result.holdout = read_frame(Path(holdout), options)[0].reset_index(drop=True)
    elif not evaluated_is_training:
        result.holdout = real
    elif not result.why_not:
        result.why_not = ("needs real rows the model was not trained on: gankit evaluate RUN --metric-option holdout "
                          "HELDOUT.csv")
    if result.holdout is None or result.training is None:
        result.training = result.holdout = None
    return result


# Column shapes and pair trends ---------------------------------------------------------------

def shapes(fake: torch.Tensor, context: EvalContext) -> MetricResult:
    return shapes_of(tables(fake, context))


def shapes_of(t: Tables) -> MetricResult:
    per_column = {column["name"]: column_shape(t.real[column["name"]], t.synthetic[column["name"]], column)
                  for column in t.columns}
    numeric = [v for c, v in zip(t.columns, per_column.values()) if c["kind"] in NUMERIC]
    discrete = [v for c, v in zip(t.columns, per_column.values()) if c["kind"] not in NUMERIC]
    values = {"score": float(np.mean(list(per_column.values())))}
    if numeric:
        values["ks_complement"] = float(np.mean(numeric))
    if discrete:
        values["tv_complement"] = float(np.mean(discrete))
    return MetricResult(values, {"real_rows": len(t.real), "synthetic_rows": len(t.synthetic),
                                 "columns": {k: round(v, 4) for k, v in per_column.items()},
                                 "definition": "SDMetrics KSComplement / TVComplement"})


def column_shape(real: "pd.Series", synthetic: "pd.Series", column: Mapping[str, Any]) -> float:
    if column["kind"] in NUMERIC:
        from scipy.stats import ks_2samp

        a, b = numeric_values(real, column), numeric_values(synthetic, column)
        a, b = a[~np.isnan(a)], b[~np.isnan(b)]
        if len(a) == 0 or len(b) == 0:
            return float(len(a) == len(b))
        return 1.0 - float(ks_2samp(a, b).statistic)
    p, q = _frequencies(_labels(real, column)), _frequencies(_labels(synthetic, column))
    return 1.0 - 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in set(p) | set(q))


def pairs(fake: torch.Tensor, context: EvalContext) -> MetricResult:
    return pairs_of(tables(fake, context))


def pairs_of(t: Tables) -> MetricResult:
    modelled = [column for column in t.columns if column["kind"] != "constant"]
    scores: dict[str, float] = {}
    kinds: dict[str, list[float]] = {"correlation": [], "contingency": []}
    for a, b in combinations(modelled, 2):
        if a["kind"] in NUMERIC and b["kind"] in NUMERIC:
            value = 1.0 - abs(_pearson(t.real, a, b) - _pearson(t.synthetic, a, b)) / 2.0
            kinds["correlation"].append(value)
        else:
            real = _pair_labels(t.real, t.real, a, b)
            synthetic = _pair_labels(t.synthetic, t.real, a, b)
            p, q = _frequencies(real), _frequencies(synthetic)
            value = 1.0 - 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in set(p) | set(q))
            kinds["contingency"].append(value)
        scores[f"{a['name']} / {b['name']}"] = value
    if not scores:
        return MetricResult({}, {"skipped": "column pair trends need at least two modelled columns"})
    values = {"score": float(np.mean(list(scores.values())))}
    values.update({f"{kind}_similarity": float(np.mean(v)) for kind, v in kinds.items() if v})
    return MetricResult(values, {"pairs": {k: round(v, 4) for k, v in scores.items()}, "bins": PAIR_BINS,
                                 "definition": "SDMetrics CorrelationSimilarity (Pearson) / ContingencySimilarity"})


def quality(fake: torch.Tensor, context: EvalContext) -> MetricResult:
    return quality_of(tables(fake, context))


def quality_of(t: Tables) -> MetricResult:
    shape, pair = shapes_of(t), pairs_of(t)
    parts = [shape.values["score"]] + ([pair.values["score"]] if "score" in pair.values else [])
    return MetricResult({"score": float(np.mean(parts)), "column_shapes": shape.values["score"],
                         **({"column_pair_trends": pair.values["score"]} if "score" in pair.values else {})},
                        {"definition": "SDMetrics QualityReport: mean of Column Shapes and Column Pair Trends"})


def _labels(series: "pd.Series", column: Mapping[str, Any]) -> list[Any]:
    """Values as comparable labels (missing as one label), for frequency tables."""
    return ["\x00missing" if _missing(v) else str(v) for v in series.tolist()]


def _missing(value: Any) -> bool:
    import pandas as pd

    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _frequencies(labels: list[Any]) -> dict[Any, float]:
    values, counts = np.unique(np.asarray(labels, dtype=object).astype(str), return_counts=True)
    return dict(zip(values.tolist(), (counts / max(counts.sum(), 1)).tolist()))


def _pearson(frame: "pd.DataFrame", a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    x, y = numeric_values(frame[a["name"]], a), numeric_values(frame[b["name"]], b)
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def _pair_labels(frame: "pd.DataFrame", real: "pd.DataFrame", a: Mapping[str, Any],
                 b: Mapping[str, Any]) -> list[str]:
    return [f"{x}\x01{y}" for x, y in zip(_binned(frame, real, a), _binned(frame, real, b))]


def _binned(frame: "pd.DataFrame", real: "pd.DataFrame", column: Mapping[str, Any]) -> list[str]:
    if column["kind"] not in NUMERIC:
        return _labels(frame[column["name"]], column)
    reference = numeric_values(real[column["name"]], column)
    reference = reference[~np.isnan(reference)]
    edges = np.histogram_bin_edges(reference, bins=PAIR_BINS) if len(reference) else np.array([0.0, 1.0])
    values = numeric_values(frame[column["name"]], column)
    bins = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, PAIR_BINS - 1)
    return ["missing" if np.isnan(v) else str(int(i)) for v, i in zip(values, bins)]


# ML efficacy ----------------------------------------------------------------------------------

def efficacy(fake: torch.Tensor, context: EvalContext) -> MetricResult:
    """Train scikit-learn's histogram gradient boosting on the synthetic rows and on as many
    real training rows (TRTR), both tested on the held-out real rows (TSTR): for a discrete
    target the AUC (binary; the rarer class of the training table is positive) or the
    accuracy, and F1 (macro when multiclass); for a numeric target R². ``tstr_over_trtr``
    is the ratio of the AUC, accuracy or R²."""
    target = getattr(context.options, "target", None) or context.info.extra.get("target")
    if not target:
        return MetricResult({}, {"skipped": "no target column: --metric-option target COLUMN (or train with "
                                            "-o target COLUMN)"})
    return efficacy_of(tables(fake, context, held_out=True), target, context.seed)


def efficacy_of(t: Tables, target: str, seed: int) -> MetricResult:
    by_name = {column["name"]: column for column in t.columns}
    if target not in by_name or by_name[target]["kind"] == "constant":
        return MetricResult({}, {"skipped": f"target {target!r} is not a modelled column of the table"})
    if t.training is None:
        return MetricResult({}, {"skipped": t.why_not})
    column = by_name[target]
    features = [c for c in t.columns if c["name"] != target and c["kind"] != "constant"]
    train_real = t.training.sample(n=min(len(t.synthetic), len(t.training)), random_state=seed)
    discrete = column["kind"] in DISCRETE_KINDS
    protocol: dict[str, Any] = {"target": target, "model": "HistGradientBoosting" + ("Classifier" if discrete
                                                                                      else "Regressor"),
                                "synthetic_rows": len(t.synthetic), "real_training_rows": len(train_real),
                                "test_rows": len(t.holdout)}
    test_x, test_y = _design(t.holdout, features), _target(t.holdout, column)
    values: dict[str, float] = {}
    for name, frame in (("tstr", t.synthetic), ("trtr", train_real)):
        values.update({f"{name}_{k}": v for k, v in _fit_and_score(_design(frame, features), _target(frame, column),
                                                                    test_x, test_y, features, discrete, column,
                                                                    t.training, seed).items()})
    main = next(k for k in ("auc", "accuracy", "r2") if f"tstr_{k}" in values)
    values["tstr_over_trtr"] = values[f"tstr_{main}"] / values[f"trtr_{main}"] if values[f"trtr_{main}"] else 0.0
    return MetricResult(values, protocol)


def _design(frame: "pd.DataFrame", features: list[Mapping[str, Any]]) -> np.ndarray:
    columns = []
    for column in features:
        if column["kind"] in NUMERIC:
            columns.append(numeric_values(frame[column["name"]], column))
        else:
            lookup = {str(v): i for i, v in enumerate(column["categories"]) if v is not None}
            columns.append(np.asarray([lookup.get(str(v), np.nan) if not _missing(v) else np.nan
                                       for v in frame[column["name"]].tolist()], dtype=np.float64))
    return np.stack(columns, axis=1) if columns else np.zeros((len(frame), 0))


def _target(frame: "pd.DataFrame", column: Mapping[str, Any]) -> np.ndarray:
    if column["kind"] in NUMERIC:
        return numeric_values(frame[column["name"]], column)
    return np.asarray(_labels(frame[column["name"]], column), dtype=object)


def _fit_and_score(x: np.ndarray, y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                   features: list[Mapping[str, Any]], discrete: bool, column: Mapping[str, Any],
                   training: "pd.DataFrame", seed: int) -> dict[str, float]:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import accuracy_score, f1_score, r2_score, roc_auc_score

    categorical = [c["kind"] not in NUMERIC for c in features]
    if not discrete:
        keep, test_keep = ~np.isnan(y), ~np.isnan(test_y)
        model = HistGradientBoostingRegressor(categorical_features=categorical or None, random_state=seed)
        model.fit(x[keep], y[keep])
        return {"r2": float(r2_score(test_y[test_keep], model.predict(test_x[test_keep])))}
    classes = np.unique(y)
    labels = np.unique(np.concatenate([test_y, y]))
    if len(classes) < 2:  # the synthetic table holds one class only: it predicts that class
        predicted = np.full(len(test_y), classes[0], dtype=object)
        scores = {"accuracy": float(accuracy_score(test_y, predicted))}
        binary = len(labels) == 2
        positive = _positive(training, column)
        if binary:
            scores["auc"] = 0.5
            scores["f1"] = float(f1_score(test_y == positive, predicted == positive, zero_division=0))
        else:
            scores["f1"] = float(f1_score(test_y, predicted, average="macro", zero_division=0))
        return scores
    model = HistGradientBoostingClassifier(categorical_features=categorical or None, random_state=seed)
    model.fit(x, y)
    predicted = model.predict(test_x)
    scores = {"accuracy": float(accuracy_score(test_y, predicted))}
    if len(np.unique(test_y)) == 2:
        positive = _positive(training, column)
        probability = model.predict_proba(test_x)[:, list(model.classes_).index(positive)] \
            if positive in model.classes_ else np.zeros(len(test_y))
        scores["auc"] = float(roc_auc_score(test_y == positive, probability))
        scores["f1"] = float(f1_score(test_y == positive, predicted == positive, zero_division=0))
    else:
        scores["f1"] = float(f1_score(test_y, predicted, average="macro", zero_division=0))
    return scores


def _positive(training: "pd.DataFrame", column: Mapping[str, Any]) -> str:
    labels, counts = np.unique(np.asarray(_labels(training[column["name"]], column), dtype=object).astype(str),
                               return_counts=True)
    return str(labels[int(np.argmin(counts))])
