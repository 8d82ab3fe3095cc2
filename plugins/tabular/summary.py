"""What a preview compares samples with: each column's real distribution and the real
table's pairwise associations, small enough to live in ``DataInfo.extra["summary"]``.

Continuous columns are cut into equal-width bins over their observed range (missing values
in a bin of their own), discrete columns keep their categories, and the association of two
columns is Cramér's V of the binned pair, so numeric, categorical and mixed pairs share one
0-to-1 scale in the heat maps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from .schema import DISCRETE_KINDS
from .transformer import category_codes, modelled, numeric_values

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

HISTOGRAM_BINS = 20
PAIR_BINS = 10
MAX_PAIR_COLUMNS = 24  # heat maps of more columns are unreadable; the first 24 modelled ones are shown


def summarise(frame: "pd.DataFrame", params: Mapping[str, Any]) -> dict[str, Any]:
    columns = {column["name"]: histogram(frame[column["name"]], column, HISTOGRAM_BINS)
               for column in modelled(params)}
    names = [column["name"] for column in modelled(params)][:MAX_PAIR_COLUMNS]
    return {"columns": columns, "pairs": {"names": names, "real": associations(frame, params, names).tolist()}}


def binned(series: "pd.Series", column: Mapping[str, Any], bins: int) -> tuple[np.ndarray, int]:
    """Each value's bin (continuous: equal-width over the column's range, missing last;
    discrete: its category) and the number of bins."""
    if column["kind"] in DISCRETE_KINDS:
        codes = category_codes_lenient(series, column)
        return codes, len(column["categories"]) + 1
    values = numeric_values(series, column)
    low, high = column["min"], column["max"]
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    index = np.clip(np.floor(np.nan_to_num(scaled, nan=0.0) * bins), 0, bins - 1).astype(np.int64)
    return np.where(np.isnan(values), bins, index), bins + 1


def category_codes_lenient(series: "pd.Series", column: Mapping[str, Any]) -> np.ndarray:
    """Category indices, with values the table does not have in a last bin of their own."""
    try:
        return category_codes(series, column)
    except Exception:  # a sample outside the categories cannot happen, another table's can
        known = {value: index for index, value in enumerate(column["categories"])}
        return np.asarray([known.get(value, len(column["categories"])) for value in series.tolist()], dtype=np.int64)


def histogram(series: "pd.Series", column: Mapping[str, Any], bins: int) -> list[float]:
    codes, size = binned(series, column, bins)
    counts = np.bincount(codes, minlength=size).astype(np.float64)
    return (counts / max(counts.sum(), 1.0)).round(5).tolist()


def associations(frame: "pd.DataFrame", params: Mapping[str, Any], names: list[str]) -> np.ndarray:
    """Cramér's V of every pair of ``names`` (1 on the diagonal)."""
    by_name = {column["name"]: column for column in params["columns"]}
    codes = [binned(frame[name], by_name[name], PAIR_BINS) for name in names]
    matrix = np.eye(len(names))
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            matrix[i, j] = matrix[j, i] = cramers_v(codes[i], codes[j])
    return matrix.round(4)


def cramers_v(a: tuple[np.ndarray, int], b: tuple[np.ndarray, int]) -> float:
    (x, nx), (y, ny) = a, b
    table = np.bincount(x * ny + y, minlength=nx * ny).reshape(nx, ny).astype(np.float64)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return 0.0
    n = table.sum()
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / n
    chi2 = ((table - expected) ** 2 / expected).sum()
    return float(np.sqrt(chi2 / (n * (min(table.shape) - 1))))
