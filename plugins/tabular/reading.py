"""Reading a table: CSV (optionally gzipped) or Parquet files, and the checks that turn a bad
file into one clear line instead of a traceback or a silently wrong table.

What is refused (``GankitError``): a missing or empty file, a file that is not text in the
stated encoding, a header without data rows, a CSV the parser cannot read at all (an
unterminated quote), a Parquet file pyarrow cannot open. What is skipped and counted
(:class:`gankit.data.SkippedRecords`): CSV rows whose number of fields differs from the
header's (a ragged file); blank lines are ignored, as pandas does.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import importlib
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gankit import GankitError
from gankit.data import SkippedRecords

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
INSTALL = "pip install 'gankit[tabular]'"


def require(*modules: str) -> None:
    """Import ``modules`` or say which are missing and how to install them."""
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append({"sklearn": "scikit-learn"}.get(name, name))
    if missing:
        raise GankitError(f"the tabular domain needs {', '.join(missing)}: {INSTALL}")


def read_table(path: Path, *, sep: str = ",", encoding: str = "utf-8") -> tuple["pd.DataFrame", str, SkippedRecords]:
    """The table in ``path`` with the sha256 of its bytes and the rows skipped."""
    require("pandas")
    path = Path(path)
    if not path.is_file():
        raise GankitError(f"{str(path)!r} is not a file; give --data a CSV or Parquet file")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return _read_parquet(path), digest, SkippedRecords("rows")
    if name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise GankitError(f"{str(path)!r} is not a readable gzip file ({exc}); give a CSV, a .csv.gz or a "
                              f"Parquet file") from None
        name = name[:-3]
    if not name.endswith(CSV_SUFFIXES):
        raise GankitError(f"{str(path)!r}: the tabular datasets read .csv (also .tsv, .txt, .csv.gz) and .parquet "
                          f"files; convert it to one of them")
    frame, skipped = read_csv_bytes(data, str(path), sep="\t" if name.endswith(".tsv") and sep == "," else sep,
                                    encoding=encoding)
    return frame, digest, skipped


def read_csv_bytes(data: bytes, where: str, *, sep: str = ",",
                   encoding: str = "utf-8") -> tuple["pd.DataFrame", SkippedRecords]:
    """A CSV held in ``data``: decoded, its ragged rows skipped and counted, then parsed by
    pandas (types inferred as ``pandas.read_csv`` infers them)."""
    import pandas as pd

    if not data.strip():
        raise GankitError(f"{where} is empty; a table needs a header line and data rows")
    text = _decode(data, where, encoding)
    fields, bad_lines, records = _scan(text, where, sep)
    skipped = SkippedRecords("rows", total=records)
    for line in bad_lines:
        skipped.add(f"not {fields} fields like the header", f"line {line}")
    if records == 0:
        raise GankitError(f"{where} has a header but no data rows; a table needs at least 2 rows")
    if len(bad_lines) == records:
        raise GankitError(f"{where}: no row has the header's {fields} fields ({skipped.summary()}); check the "
                          f"separator (-o sep) and quoting")
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, skiprows=[line - 1 for line in bad_lines], low_memory=False)
    except (ValueError, pd.errors.ParserError) as exc:
        raise GankitError(f"cannot parse {where} as CSV: {str(exc).strip().splitlines()[-1]}") from None
    return frame, skipped


def _decode(data: bytes, where: str, encoding: str) -> str:
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        return data.decode(codec)
    except LookupError:
        raise GankitError(f"unknown text encoding {encoding!r} (-o encoding); use e.g. utf-8, latin-1, "
                          f"cp1252") from None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise GankitError(f"{where} is not {encoding} text (byte 0x{data[exc.start]:02x} on line {line}); pass the "
                          f"file's encoding, e.g. -o encoding latin-1") from None


def _scan(text: str, where: str, sep: str) -> tuple[int, list[int], int]:
    """The header's field count, the (1-based) lines of rows with another count, and the
    number of data rows, with Python's csv module (pandas would fill short rows with NaN
    and refuse long ones)."""
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    try:
        header = next(reader, None)
        while header is not None and not header:
            header = next(reader, None)
        if header is None:
            raise GankitError(f"{where} is empty; a table needs a header line and data rows")
        bad, records, line = [], 0, reader.line_num
        for row in reader:
            start, line = line + 1, reader.line_num
            if not row:
                continue
            records += 1
            if len(row) != len(header):
                bad.append(start)
    except csv.Error as exc:
        raise GankitError(f"cannot read {where} as CSV near line {reader.line_num}: {exc}; check its quoting") from None
    return len(header), bad, records


def _read_parquet(path: Path) -> "pd.DataFrame":
    import pandas as pd

    try:
        importlib.import_module("pyarrow")
    except ImportError:
        raise GankitError(f"reading Parquet ({path.name}) needs pyarrow: {INSTALL}") from None
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises its own ArrowInvalid, OSError, ...
        raise GankitError(f"cannot read {str(path)!r} as Parquet: {exc}") from None


def frame_from(value: Any, where: str) -> "pd.DataFrame":
    """A copy of a DataFrame given through the API, with string column names."""
    import pandas as pd

    if not isinstance(value, pd.DataFrame):
        raise GankitError(f"{where}: expected a pandas DataFrame, got {type(value).__name__}")
    frame = value.copy()
    frame.columns = [str(column) for column in frame.columns]
    return frame
