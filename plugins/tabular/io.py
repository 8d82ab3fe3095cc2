"""How tabular samples leave gankit: decoded to a table and written as CSV or Parquet, the
encoded rows as ``.npy``, and the conditions ``gankit sample --condition COLUMN=VALUE``
asks for.

``gankit sample RUN --out synth.csv`` (or ``.parquet``) writes one file; ``--out DIR`` writes
``DIR/samples.csv``, which a later call with ``start > 0`` extends (the contract's
one-file-for-all-samples form).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from gankit import GankitError
from gankit.specs import DataInfo

from .sampler import condition_vectors
from .schema import DISCRETE_KINDS
from .transformer import decode, layout_of

SAMPLES_FILE = "samples.csv"


def table(batch: torch.Tensor, info: DataInfo) -> Any:
    """A batch of encoded rows as a pandas DataFrame with the table's columns."""
    from .reading import require

    require("pandas")
    return decode(batch.detach().cpu().numpy(), info.extra)


def write_samples(batch: torch.Tensor, out_dir: Path, info: DataInfo, start: int = 0) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / SAMPLES_FILE
    frame = table(batch, info)
    if start > 0 and path.is_file():
        with path.open("a", encoding="utf-8", newline="") as handle:
            frame.to_csv(handle, index=False, header=False)
    else:
        write_csv(batch, path, info)
    return [path]


def write_csv(batch: torch.Tensor, path: Path, info: DataInfo) -> Path:
    from gankit.atomic import atomic_write

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, table(batch, info).to_csv(index=False))
    return path


def write_parquet(batch: torch.Tensor, path: Path, info: DataInfo) -> Path:
    import io

    from gankit.atomic import atomic_write

    from .reading import require

    require("pyarrow")
    buffer = io.BytesIO()
    table(batch, info).to_parquet(buffer, index=False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, buffer.getvalue())
    return path


def write_preview(batch: torch.Tensor, path: Path, info: DataInfo) -> Path:
    """An SVG of each column's real and synthetic distributions and both tables' pairwise
    associations (``gankit report`` shows it)."""
    from gankit.atomic import atomic_write

    from .preview import render

    target = path.with_name(path.name + ".svg")
    atomic_write(target, render(table(batch, info), info.extra))
    return target


def to_numpy(batch: torch.Tensor, info: DataInfo) -> np.ndarray:
    return batch.detach().cpu().numpy().astype(np.float32)


def from_numpy(array: np.ndarray, info: DataInfo) -> torch.Tensor:
    array = np.asarray(array)
    if array.ndim != 2 or array.shape[1] != info.shape[0] or not np.issubdtype(array.dtype, np.number):
        raise GankitError(f"tabular samples must be encoded rows, a float array of shape (N, {info.shape[0]}) as "
                          f"`gankit sample --format npy` writes; got {array.dtype} {array.shape}")
    return torch.from_numpy(array.astype(np.float32))


# Conditions for sampling -------------------------------------------------------------------------

def sample_conditions(where: Sequence[tuple[str, str]], n: int, info: DataInfo,
                      generator: torch.Generator) -> tuple[dict[str, torch.Tensor],
                                                           Callable[[torch.Tensor], torch.Tensor] | None]:
    """The conditions of ``n`` samples and the test they must pass. Without ``where``: a
    uniformly chosen discrete column per row and a category drawn by its frequency (the
    table's own distribution). With ``COLUMN=VALUE`` pairs (one column may take several
    values): the generator is conditioned on the rarest requested column, its values drawn by
    frequency, and every requested column is enforced by the returned test."""
    params, layout = info.extra, layout_of(info.extra)
    discrete = {column["name"]: column for column in params["columns"] if column["kind"] in DISCRETE_KINDS}
    names = list(layout.discrete_names)
    allowed = _allowed(where, discrete, params)
    if not allowed:
        if not names:
            nothing = torch.zeros(n, dtype=torch.long)
            return condition_vectors(nothing, nothing, layout), None
        column = torch.randint(len(names), (n,), generator=generator)
        category = torch.zeros(n, dtype=torch.long)
        for j, name in enumerate(names):
            rows = column == j
            category[rows] = _draw(discrete[name]["counts"], range(len(discrete[name]["counts"])), int(rows.sum()),
                                   generator)
        return condition_vectors(column, category, layout), None
    rarest = min(allowed, key=lambda name: sum(discrete[name]["counts"][i] for i in allowed[name]))
    j = names.index(rarest)
    category = _draw(discrete[rarest]["counts"], allowed[rarest], n, generator)
    spans = {name: layout.discrete[names.index(name)] for name in allowed}

    def accept(batch: torch.Tensor) -> torch.Tensor:
        keep = torch.ones(batch.shape[0], dtype=torch.bool)
        for name, indices in allowed.items():
            start, end = spans[name]
            chosen = batch[:, start:end].argmax(dim=1)
            keep &= torch.isin(chosen, torch.tensor(indices))
        return keep

    return condition_vectors(torch.full((n,), j, dtype=torch.long), category, layout), accept


def _allowed(where: Sequence[tuple[str, str]], discrete: Mapping[str, Any],
             params: Mapping[str, Any]) -> dict[str, list[int]]:
    """The category indices each named column may take."""
    kinds = {column["name"]: column["kind"] for column in params["columns"]}
    allowed: dict[str, list[int]] = {}
    for name, value in where:
        if name not in kinds:
            raise GankitError(f"--condition {name}={value}: the table has no column {name!r}; condition on one of: "
                              f"{', '.join(discrete) or '(none: it has no categorical column)'}")
        if name not in discrete:
            why = "is constant" if kinds[name] == "constant" else f"is {kinds[name]}"
            raise GankitError(f"--condition {name}={value}: column {name!r} {why}; conditions name categorical or "
                              f"boolean columns: {', '.join(discrete) or '(none)'}")
        categories = discrete[name]["categories"]
        matches = [i for i, category in enumerate(categories) if _same(category, value)]
        if not matches:
            shown = ", ".join(_show(c) for c in categories[:12]) + (", ..." if len(categories) > 12 else "")
            raise GankitError(f"--condition {name}={value}: column {name!r} has no value {value!r}; its values are: "
                              f"{shown}")
        allowed.setdefault(name, [])
        allowed[name] += [i for i in matches if i not in allowed[name]]
    return allowed


def _same(category: Any, text: str) -> bool:
    if category is None:
        return text.strip().lower() in ("", "nan", "none", "null", "missing")
    if isinstance(category, bool):
        return text.strip().lower() == str(category).lower()
    if isinstance(category, (int, float)):
        try:
            return float(text) == float(category)
        except ValueError:
            return False
    return str(category) == text


def _show(category: Any) -> str:
    return "(missing)" if category is None else str(category)


def _draw(counts: Sequence[int], indices: Sequence[int], n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` of ``indices``, each drawn with probability proportional to its count."""
    if n == 0:
        return torch.zeros(0, dtype=torch.long)
    weights = torch.tensor([float(counts[i]) for i in indices], dtype=torch.float64)
    picks = torch.multinomial(weights, n, replacement=True, generator=generator)
    return torch.tensor(list(indices), dtype=torch.long)[picks]

