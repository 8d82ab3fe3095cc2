"""CTGAN's encoding of a table row as a float vector, fitted once and kept as plain JSON.

A continuous column (numbers, datetimes as seconds) is normalised per mode (Xu et al. 2019,
section 4.2): a variational Gaussian mixture (scikit-learn's ``BayesianGaussianMixture``,
at most ``modes`` components, those with weight under ``mode_threshold`` dropped) is fitted
to it; each value is assigned a mode ``k`` drawn from its posterior over the modes, and
encoded as ``alpha = (x - mu_k) / (4 sigma_k)`` (clipped to [-0.99, 0.99]) followed by the
one-hot of ``k``. A column with missing values has one more "mode" for them. A discrete
column is a one-hot over its categories (missing is a category). Constant columns take no
room. The parameters (categories, ranges, mode means/stds/weights) are JSON, stored in the
run's ``DataInfo.extra``, so sampling needs nothing else (no pickle).

Encoding after the fit uses the mixture's parameters directly (the Gaussian posterior of
each value), which is also how a cached fit encodes the same table again.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from gankit import GankitError

from .schema import DISCRETE_KINDS

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

FORMAT = 2
STD_MULTIPLIER = 4.0  # CTGAN/rdt: alpha = (x - mu) / (4 sigma)
ALPHA_LIMIT = 0.99


@dataclass(frozen=True)
class Layout:
    """Where each modelled column lives in the encoded row and in the condition vector."""

    width: int
    tanh: tuple[int, ...]                                  # alpha positions
    softmax: tuple[tuple[int, int], ...]                   # [start, end) of every one-hot span
    discrete: tuple[tuple[int, int], ...]                  # the spans of discrete columns, in column order
    discrete_names: tuple[str, ...]
    cond_offsets: tuple[int, ...] = field(default=())      # each discrete column's start in the condition vector

    @property
    def cond_width(self) -> int:
        return sum(end - start for start, end in self.discrete)


def layout_of(params: Mapping[str, Any]) -> Layout:
    position, tanh, softmax, discrete, names, offsets, cond = 0, [], [], [], [], [], 0
    for column in modelled(params):
        if column["kind"] in DISCRETE_KINDS:
            span = (position, position + len(column["categories"]))
            softmax.append(span)
            discrete.append(span)
            names.append(column["name"])
            offsets.append(cond)
            cond += span[1] - span[0]
        else:
            tanh.append(position)
            span = (position + 1, position + 1 + mode_count(column))
            softmax.append(span)
        position = span[1]
    return Layout(position, tuple(tanh), tuple(softmax), tuple(discrete), tuple(names), tuple(offsets))


def modelled(params: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [column for column in params["columns"] if column["kind"] != "constant"]


def mode_count(column: Mapping[str, Any]) -> int:
    return len(column["modes"]["means"]) + int(column["missing"] > 0)


# Fitting ------------------------------------------------------------------------------------

def fit(frame: "pd.DataFrame", columns: Sequence[dict[str, Any]], *, modes: int, threshold: float,
        seed: int) -> list[dict[str, Any]]:
    """The schema's columns completed with what encoding and decoding need."""
    fitted = []
    for column in columns:
        column = dict(column)
        series = frame[column["name"]]
        if column["kind"] in DISCRETE_KINDS:
            counts = series.value_counts(sort=True, dropna=True)  # most frequent first
            column["categories"] = [_plain(value) for value in counts.index]
            column["counts"] = [int(count) for count in counts.to_numpy()]
            if column["missing"]:
                column["categories"].append(None)
                column["counts"].append(column["missing"])
        elif column["kind"] != "constant":
            values = numeric_values(series, column)
            present = values[~_isnan(values)]
            column["min"], column["max"] = float(present.min()), float(present.max())
            column["modes"] = _fit_modes(present, modes, threshold, seed)
        fitted.append(column)
    return fitted


def _fit_modes(values: "np.ndarray", modes: int, threshold: float, seed: int) -> dict[str, list[float]]:
    import numpy as np
    from sklearn.mixture import BayesianGaussianMixture

    loc, scale = float(values.mean()), float(values.std()) or 1.0
    standard = ((values - loc) / scale).reshape(-1, 1)
    components = max(1, min(modes, len(np.unique(standard))))
    mixture = BayesianGaussianMixture(n_components=components, weight_concentration_prior_type="dirichlet_process",
                                      weight_concentration_prior=0.001, n_init=1, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning after max_iter, as in CTGAN's fits
        mixture.fit(standard)
    keep = mixture.weights_ > threshold
    if not keep.any():
        keep = mixture.weights_ == mixture.weights_.max()
    weights = mixture.weights_[keep] / mixture.weights_[keep].sum()
    means = loc + scale * mixture.means_.reshape(-1)[keep]
    stds = scale * np.sqrt(mixture.covariances_.reshape(-1)[keep])
    stds = np.maximum(stds, 1e-6 * scale)
    return {"means": means.tolist(), "stds": stds.tolist(), "weights": weights.tolist()}


# Encoding -----------------------------------------------------------------------------------

def encode(frame: "pd.DataFrame", params: Mapping[str, Any], seed: int) -> tuple["np.ndarray", "np.ndarray"]:
    """The encoded rows (float32, ``layout.width`` wide) and, per discrete column, each
    row's category index (int64, rows x discrete columns): the condition sampler's input."""
    import numpy as np

    layout = layout_of(params)
    rng = np.random.default_rng(seed)
    out = np.zeros((len(frame), layout.width), dtype=np.float32)
    codes = np.zeros((len(frame), len(layout.discrete)), dtype=np.int64)
    position, discrete_index = 0, 0
    for column in modelled(params):
        series = frame[column["name"]]
        if column["kind"] in DISCRETE_KINDS:
            code = category_codes(series, column)
            out[np.arange(len(frame)), position + code] = 1.0
            codes[:, discrete_index] = code
            discrete_index += 1
            position += len(column["categories"])
        else:
            alpha, mode = _normalise(numeric_values(series, column), column, rng)
            out[:, position] = alpha
            out[np.arange(len(frame)), position + 1 + mode] = 1.0
            position += 1 + mode_count(column)
    return out, codes


def category_codes(series: "pd.Series", column: Mapping[str, Any]) -> "np.ndarray":
    """Each value's index in the column's categories (missing: the last one)."""
    import pandas as pd

    known = [value for value in column["categories"] if value is not None]
    lookup = {_key(value): index for index, value in enumerate(known)}
    missing = len(known)
    codes = [missing if pd.isna(value) else lookup.get(_key(_plain(value)), -1) for value in series.tolist()]
    import numpy as np

    codes = np.asarray(codes, dtype=np.int64)
    if (codes < 0).any() or (codes == missing).any() and column["missing"] == 0:
        bad = series.iloc[int(np.argmax((codes < 0) | (codes == missing)))]
        raise GankitError(f"column {column['name']!r} has the value {bad!r}, which the fitted table does not have")
    return codes


def _normalise(values: "np.ndarray", column: Mapping[str, Any],
               rng: "np.random.Generator") -> tuple["np.ndarray", "np.ndarray"]:
    """alpha and the mode of each value; a missing value gets alpha 0 and the last mode."""
    import numpy as np

    means, stds = np.asarray(column["modes"]["means"]), np.asarray(column["modes"]["stds"])
    weights = np.asarray(column["modes"]["weights"])
    missing = _isnan(values)
    x = np.where(missing, means[0], values)[:, None]
    log_post = np.log(weights) - np.log(stds) - 0.5 * ((x - means) / stds) ** 2
    post = np.exp(log_post - log_post.max(axis=1, keepdims=True)) + 1e-6
    post /= post.sum(axis=1, keepdims=True)
    mode = (rng.random((len(x), 1)) > np.cumsum(post, axis=1)).sum(axis=1).clip(max=len(means) - 1)
    alpha = ((x[:, 0] - means[mode]) / (STD_MULTIPLIER * stds[mode])).clip(-ALPHA_LIMIT, ALPHA_LIMIT)
    alpha = np.where(missing, 0.0, alpha)
    mode = np.where(missing, len(means), mode)
    return alpha.astype(np.float32), mode


def numeric_values(series: "pd.Series", column: Mapping[str, Any]) -> "np.ndarray":
    """A continuous column as float64 (datetimes: seconds since the epoch; missing: NaN)."""
    import numpy as np
    import pandas as pd

    if column["kind"] == "datetime":
        stamps = pd.to_datetime(series).astype("datetime64[ns]")
        values = stamps.to_numpy().astype("int64").astype(np.float64) / 1e9
        values[stamps.isna().to_numpy()] = np.nan
        return values
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


# Decoding -----------------------------------------------------------------------------------

def decode(rows: "np.ndarray", params: Mapping[str, Any]) -> "pd.DataFrame":
    """Encoded rows (or a generator's output: hard or soft one-hots) back to a table with
    the original columns (constant ones included), dtypes and categories."""
    import numpy as np
    import pandas as pd

    rows = np.asarray(rows, dtype=np.float64)
    layout = layout_of(params)
    if rows.ndim != 2 or rows.shape[1] != layout.width:
        raise GankitError(f"encoded rows must have shape (N, {layout.width}) for this table, got {rows.shape}")
    decoded, position = {}, 0
    for column in params["columns"]:
        name = column["name"]
        if column["kind"] == "constant":
            decoded[name] = _restore(pd.Series([column["value"]] * len(rows), dtype=object), column)
            continue
        if column["kind"] in DISCRETE_KINDS:
            span = len(column["categories"])
            codes = rows[:, position:position + span].argmax(axis=1)
            values = np.asarray(column["categories"], dtype=object)[codes]
            decoded[name] = _restore(pd.Series(values, dtype=object), column)
            position += span
            continue
        count = mode_count(column)
        alpha = rows[:, position].clip(-1.0, 1.0)
        mode = rows[:, position + 1:position + 1 + count].argmax(axis=1)
        means, stds = np.asarray(column["modes"]["means"]), np.asarray(column["modes"]["stds"])
        known = np.minimum(mode, len(means) - 1)
        values = alpha * STD_MULTIPLIER * stds[known] + means[known]
        if params.get("clip", True):
            values = values.clip(column["min"], column["max"])
        if column.get("integer") or column["kind"] == "datetime":
            values = np.round(values, 0 if column.get("integer") else 6)
        values[mode >= len(means)] = np.nan
        decoded[name] = _restore_numeric(values, column)
        position += 1 + count
    return pd.DataFrame(decoded)


def _restore_numeric(values: "np.ndarray", column: Mapping[str, Any]) -> "pd.Series":
    import numpy as np
    import pandas as pd

    if column["kind"] == "datetime":
        nanos = np.where(_isnan(values), 0, np.round(values * 1e9)).astype("int64")
        stamps = pd.Series(pd.to_datetime(nanos, unit="ns"))
        stamps[_isnan(values)] = pd.NaT
        return _restore(stamps, column)
    return _restore(pd.Series(values), column)


def _restore(series: "pd.Series", column: Mapping[str, Any]) -> "pd.Series":
    """The column's original dtype where its values allow it (an integer column with
    missing values stays float, as pandas reads it)."""
    try:
        return series.astype(column["dtype"])
    except (TypeError, ValueError):
        return series.infer_objects()


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _key(value: Any) -> Any:
    """A dictionary key that treats 1 and 1.0 alike, but not True and 1."""
    return (type(value) is bool, value)


def _isnan(values: "np.ndarray") -> "np.ndarray":
    import numpy as np

    return np.isnan(values)
