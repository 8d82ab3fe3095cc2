"""The schema of a table: each column's kind, inferred from its values and the user's
overrides, with the checks that refuse a table that cannot be modelled faithfully.

Kinds: ``continuous`` (numbers; ``integer`` is recorded when every value is whole),
``datetime`` (modelled as continuous seconds), ``categorical`` (strings, or numbers named
in ``-o discrete``), ``boolean`` (categorical over True/False) and ``constant`` (one value,
or no value at all, in every row: reproduced as is, not modelled). Missing values are kept:
a categorical column gets a "missing" category, a continuous one a "missing" mode, so
samples have missing values at the rate the data has them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from gankit import GankitError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .options import TableOptions

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")
DISCRETE_KINDS = ("categorical", "boolean")


def infer_schema(frame: "pd.DataFrame", options: "TableOptions",
                 where: str) -> tuple["pd.DataFrame", list[dict[str, Any]], list[str]]:
    """The table reduced to its kept columns (datetimes parsed, infinities made missing),
    one schema entry per column (name, kind, dtype, missing count) and notes on what was
    handled specially (constant columns, infinities)."""
    import pandas as pd

    named = [*options.discrete, *options.continuous, *options.datetime, *options.exclude]
    if options.target:
        named.append(options.target)
    unknown = [name for name in named if name not in frame.columns]
    if unknown:
        columns = ", ".join(map(str, frame.columns))
        raise GankitError(f"{where} has no column {unknown[0]!r}; its columns are: {columns}")
    duplicated = frame.columns[frame.columns.duplicated()].tolist()
    if duplicated:
        raise GankitError(f"{where} has two columns named {duplicated[0]!r}; rename one")
    frame = frame.drop(columns=list(options.exclude))
    if frame.shape[1] == 0:
        raise GankitError(f"{where}: every column is excluded; keep at least one")
    if len(frame) < 2:
        raise GankitError(f"{where} has {len(frame)} data row; a table needs at least 2")
    columns, notes, kept = [], [], {}
    for name in frame.columns:
        series, column = _typed(frame[name], str(name), options, where, notes)
        kept[str(name)] = series
        columns.append(column)
    if all(column["kind"] == "constant" for column in columns):
        raise GankitError(f"{where}: every column is constant ({', '.join(c['name'] for c in columns)}); there is "
                          f"nothing to model")
    return pd.DataFrame(kept, index=frame.index), columns, notes


def _typed(series: "pd.Series", name: str, options: "TableOptions", where: str,
           notes: list[str]) -> tuple["pd.Series", dict[str, Any]]:
    import numpy as np
    import pandas as pd

    dtype = str(series.dtype)
    if pd.api.types.is_float_dtype(series) and np.isinf(series.to_numpy(dtype=float, na_value=np.nan)).any():
        count = int(np.isinf(series.to_numpy(dtype=float, na_value=np.nan)).sum())
        notes.append(f"column {name!r}: {count} infinite values taken as missing")
        series = series.replace([np.inf, -np.inf], np.nan)
    present = series.dropna()
    column: dict[str, Any] = {"name": name, "dtype": dtype, "missing": int(series.isna().sum())}
    if present.empty:
        notes.append(f"column {name!r} is empty (every value missing): reproduced as is, not modelled")
        return series, {**column, "kind": "constant", "value": None}
    kind = _kind(series, present, name, options, where)
    if kind == "datetime":
        series, present = _dates(series, name, where), None
        column["dtype"] = dtype if dtype.startswith("datetime64") else "datetime64[ns]"
        column["source_dtype"] = dtype
        present = series.dropna()
    if present.nunique() == 1 and column["missing"] == 0:
        value = present.iloc[0]
        notes.append(f"column {name!r} is constant ({value!r}): reproduced as is, not modelled")
        return series, {**column, "kind": "constant", "value": _plain(value if kind != "datetime" else str(value))}
    if kind == "continuous" and present.nunique() == 1:
        kind = "categorical"  # one value and missing cells: two states, not a distribution
    if kind in DISCRETE_KINDS:
        levels = present.nunique()
        if levels > options.max_categories:
            raise GankitError(f"{where}: column {name!r} has {levels:,} distinct values, more than max_categories "
                              f"{options.max_categories} (an ID or free text?); leave it out with -o exclude {name}, "
                              f"or raise -o max_categories")
    if kind == "continuous":
        values = present.to_numpy(dtype=float)
        column["integer"] = bool(np.all(np.mod(values, 1) == 0))
    return series, {**column, "kind": kind}


def _kind(series: "pd.Series", present: "pd.Series", name: str, options: "TableOptions", where: str) -> str:
    import pandas as pd

    if name in options.discrete:
        return "boolean" if pd.api.types.is_bool_dtype(series) else "categorical"
    if name in options.datetime:
        return "datetime"
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if name in options.continuous:
        if not numeric:
            raise GankitError(f"{where}: column {name!r} (-o continuous) is not numeric (dtype {series.dtype}, e.g. "
                              f"{present.iloc[0]!r}); model it as categorical or fix its values")
        return "continuous"
    if pd.api.types.is_bool_dtype(series) or _is_boolean_text(present):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    if numeric:
        return "continuous"
    if present.map(lambda value: isinstance(value, str) and bool(ISO_DATE.match(value))).all():
        return "datetime"
    return "categorical"


def _is_boolean_text(present: "pd.Series") -> bool:
    return present.map(lambda value: isinstance(value, bool)).all()


def _dates(series: "pd.Series", name: str, where: str) -> "pd.Series":
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series):
        return series.dt.tz_localize(None) if getattr(series.dt, "tz", None) is not None else series
    try:
        parsed = pd.to_datetime(series, format="ISO8601") if series.dropna().map(
            lambda v: isinstance(v, str) and bool(ISO_DATE.match(v))).all() else pd.to_datetime(series, format="mixed")
    except (ValueError, TypeError) as exc:
        raise GankitError(f"{where}: column {name!r} (-o datetime) has a value that is not a date: "
                          f"{str(exc).splitlines()[0]}") from None
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert(None)
    return parsed


def _plain(value: Any) -> Any:
    """A JSON-able Python scalar for a numpy/pandas scalar."""
    if hasattr(value, "item"):
        value = value.item()
    return value
