"""Every tabular metric at once, for a synthetic table made anywhere (the benchmarks score
the ``ctgan`` package's tables with it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from .metrics import Tables, efficacy_of, pairs_of, quality_of, shapes_of
from .privacy import privacy_of

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def score_frames(synthetic: "pd.DataFrame", training: "pd.DataFrame", holdout: "pd.DataFrame",
                 params: Mapping[str, Any], *, target: str | None = None, seed: int = 0) -> dict[str, dict[str, float]]:
    """Every tabular metric for a synthetic table made anywhere (SDV's CTGAN, say), against
    the training table and held-out rows, typed by a run's ``DataInfo.extra`` (``params``):
    what ``gankit evaluate`` reports, without re-encoding the synthetic rows."""
    columns = [column for column in params["columns"] if column["name"] in training.columns]
    t = Tables(synthetic.reset_index(drop=True), training.reset_index(drop=True), columns,
               training.reset_index(drop=True), holdout.reset_index(drop=True))
    results = {"quality": quality_of(t), "shapes": shapes_of(t), "pairs": pairs_of(t), "privacy": privacy_of(t, seed)}
    if target or params.get("target"):
        results["efficacy"] = efficacy_of(t, target or params["target"], seed)
    return {name: dict(result.values) for name, result in results.items()}
