"""The tabular datasets: a CSV or Parquet file (``file``), the embedded UCI Adult table
(``adult``), and DataFrames from the Python API.

A dataset reads the table, infers its schema, fits the encoding (cached under
``GANKIT_CACHE/tabular``, keyed by the file's bytes and the options, so resuming, sampling
and evaluating do not fit it again) and holds the encoded rows with their conditions. Its
``draw`` is CTGAN's training-by-sampling; its ``frame`` is the table itself, which the
metrics compare samples with.

The embedded table is ``adult.csv.gz``: the 26,049-row training part of UCI Adult (Becker &
Kohavi 1996, CC BY 4.0, https://doi.org/10.24432/C5XW20), byte-identical after gunzip to
``shared/data/tabular/adult_train.csv`` (see docs/tabular.md for its provenance).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import torch

from gankit import GankitError
from gankit.atomic import atomic_write
from gankit.data import SkippedRecords
from gankit.cache import cache_dir
from gankit.options import options_to_dict
from gankit.specs import DataInfo

from .reading import read_table, require
from .sampler import ConditionSampler
from .schema import DISCRETE_KINDS, infer_schema
from .transformer import FORMAT, encode, fit, layout_of

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .options import TableOptions

logger = logging.getLogger("gankit")
ADULT = Path(__file__).with_name("adult.csv.gz")
UNFITTED_OPTIONS = ("target", "log_frequency", "clip")  # options that do not change the fitted encoding


class TableDataset(torch.utils.data.Dataset):
    """Encoded rows of a table with their conditions (see :mod:`.sampler`)."""

    def __init__(self, frame: "pd.DataFrame", params: dict[str, Any], options: "TableOptions", description: str):
        encoded, codes = encode(frame, params, options.data_seed)
        layout = layout_of(params)
        self.frame = frame.reset_index(drop=True)
        self.options = options
        self.layout = layout
        self.sampler = ConditionSampler(codes, layout, options.log_frequency)
        self.tensors = (torch.from_numpy(encoded), self.sampler.row_conditions(codes, options.data_seed + 1))
        self.info = DataInfo(shape=(layout.width,), value_range=(-1.0, 1.0), extra=params)
        self.description = description

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        rows, cond = self.tensors
        return rows[index], {key: value[index] for key, value in cond.items()}

    def draw(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """CTGAN's training-by-sampling, from the engine's seeded generator (resumable)."""
        index, cond = self.sampler.draw(batch_size, generator)
        return self.tensors[0][index], cond


def build_adult(options: "TableOptions", data_path: Path | None) -> TableDataset:
    """The embedded Adult table, or ``--data`` (the same columns from another file: its
    held-out part, the full file)."""
    return load(Path(data_path) if data_path else ADULT, options, name="adult" if data_path is None else None)


def build_file(options: "TableOptions", data_path: Path | None) -> TableDataset:
    if data_path is None:
        raise GankitError("dataset 'file' needs --data PATH: a CSV or Parquet file")
    return load(Path(data_path), options)


def read_frame(path: Path, options: "TableOptions") -> tuple["pd.DataFrame", list[dict[str, Any]], list[str], str,
                                                              SkippedRecords]:
    """The table in ``path`` as the datasets see it (``--rows`` subset, excluded columns
    dropped, dates parsed), its schema, notes, the file's sha256 and the rows skipped."""
    require("pandas", "sklearn")
    frame, digest, skipped = read_table(path, sep=options.sep, encoding=options.encoding)
    frame.columns = [str(column) for column in frame.columns]
    if options.rows is not None and options.rows < len(frame):
        frame = frame.sample(n=options.rows, random_state=options.data_seed).sort_index()
    frame, columns, notes = infer_schema(frame, options, str(path))
    return frame, columns, notes, digest, skipped


def load(path: Path, options: "TableOptions", *, name: str | None = None) -> TableDataset:
    """Read, type, fit (or take the cached fit) and encode the table in ``path``."""
    frame, columns, notes, digest, skipped = read_frame(path, options)
    fitted = _cached_fit(frame, columns, options, digest)
    params = {"format": FORMAT, "columns": fitted, "clip": options.clip, "target": options.target,
              "source": {"name": name or path.name, "path": str(path.resolve()), "sha256": digest,
                         "rows": len(frame)}}
    from .summary import summarise

    params["summary"] = summarise(frame, params)
    for line in [*notes, skipped.summary()] if skipped else notes:
        logger.warning("dataset %s: %s", path.name, line)
    return TableDataset(frame, params, options, _describe(path.name, frame, params, notes, skipped.summary()))


def _cached_fit(frame: "pd.DataFrame", columns: list[dict[str, Any]], options: "TableOptions",
                digest: str) -> list[dict[str, Any]]:
    settings = {k: v for k, v in options_to_dict(options).items() if k not in UNFITTED_OPTIONS}
    key = hashlib.sha256(json.dumps({"format": FORMAT, "data": digest, "options": settings},
                                    sort_keys=True, default=str).encode()).hexdigest()[:32]
    try:
        path = cache_dir("tabular") / f"fit-{key}.json"
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        path = None
    fitted = fit(frame, columns, modes=options.modes, threshold=options.mode_threshold, seed=options.data_seed)
    if path is not None:
        try:
            atomic_write(path, json.dumps(fitted))
        except OSError as exc:
            logger.warning("cannot cache the fitted encoding in %s (%s); the next run fits it again", path, exc)
    return fitted


def _describe(name: str, frame: "pd.DataFrame", params: Mapping[str, Any], notes: list[str], skipped: str) -> str:
    kinds = [column["kind"] for column in params["columns"]]
    discrete = sum(kind in DISCRETE_KINDS for kind in kinds)
    constant = kinds.count("constant")
    layout = layout_of(params)
    text = (f"{name}: {len(frame):,} rows, {len(kinds)} columns ({len(kinds) - discrete - constant} continuous, "
            f"{discrete} discrete" + (f", {constant} constant" if constant else "") +
            f"); rows encoded as {layout.width} values, conditions over {layout.cond_width} categories")
    return "; ".join([text, *notes, *([skipped] if skipped else [])])


# DataFrames from the Python API -------------------------------------------------------------------

def frame_file(frame: "pd.DataFrame") -> Path:
    """A DataFrame stored as Parquet under ``GANKIT_CACHE/tabular/frames``, named by its
    content, for ``--data``: a run records the path, so resuming and evaluating read the
    same table."""
    require("pandas", "pyarrow")
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise GankitError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    frame = frame.copy()
    frame.columns = [str(column) for column in frame.columns]
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    data = buffer.getvalue()
    path = cache_dir("tabular", "frames") / f"frame-{hashlib.sha256(data).hexdigest()[:24]}.parquet"
    if not path.is_file():
        atomic_write(path, data)
    return path


def train(frame: "pd.DataFrame", **options: Any) -> Any:
    """``gankit.train("tabular", ...)`` on a DataFrame: ``train(df, steps=3000, discrete=("zip",))``."""
    import gankit

    return gankit.train("tabular", dataset=options.pop("dataset", "file"), data=str(frame_file(frame)), **options)


__all__ = ["TableDataset", "build_adult", "build_file", "frame_file", "load", "read_frame", "train"]
