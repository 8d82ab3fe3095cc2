"""The privacy metric: distance to the closest training record (DCR) of synthetic rows
against held-out real rows, and exact copies (see :func:`privacy`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
import torch

from gankit.specs import EvalContext, MetricResult

from .metrics import NUMERIC, Tables, _missing, tables
from .transformer import numeric_values

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

DCR_CHUNK = 512


def privacy(fake: torch.Tensor, context: EvalContext) -> MetricResult:
    """Distance to the closest training record (DCR): for each synthetic row and each
    held-out real row, the smallest distance to a training row, with the Gower-style distance
    SDMetrics' DCR metrics use (the mean over columns of |a - b| / the column's range for
    numeric columns, 0/1 for categories; a missing value against a present one counts 1).
    ``dcr_ratio`` is the synthetic median over the held-out median: near 1, synthetic rows sit
    as far from the training rows as new real rows do; well below 1, the model copies.
    ``closer_to_training`` is the share of synthetic rows nearer to the training table than to
    the held-out rows (0.5 for a model that does not memorise; training subsampled to the
    held-out size); ``exact_copies`` the share that equal a training row, beside
    ``exact_copies_holdout``, the same share for held-out rows (duplicates in the data)."""
    return privacy_of(tables(fake, context, held_out=True), context.seed)


def privacy_of(t: Tables, seed: int) -> MetricResult:
    if t.training is None:
        return MetricResult({}, {"skipped": t.why_not})
    columns = [column for column in t.columns if column["kind"] != "constant"]
    rng = np.random.default_rng(seed)
    holdout = t.holdout.iloc[rng.permutation(len(t.holdout))[:len(t.synthetic)]]
    train_small = t.training.iloc[rng.permutation(len(t.training))[:len(holdout)]]
    encode = _distance_encoder(t.training, columns)
    train, synth, held, small = (encode(frame) for frame in (t.training, t.synthetic, holdout, train_small))
    dcr_synthetic, dcr_holdout = _closest(synth, train, len(columns)), _closest(held, train, len(columns))
    to_small, to_held = _closest(synth, small, len(columns)), _closest(synth, held, len(columns))
    values = {
        "dcr_synthetic": float(np.median(dcr_synthetic)),
        "dcr_holdout": float(np.median(dcr_holdout)),
        "dcr_ratio": float(np.median(dcr_synthetic) / np.median(dcr_holdout)) if np.median(dcr_holdout) > 0 else 1.0,
        "closer_to_training": float(np.mean(to_small < to_held)),
        "exact_copies": float(np.mean(dcr_synthetic < 1e-9)),
        "exact_copies_holdout": float(np.mean(dcr_holdout < 1e-9)),
    }
    return MetricResult(values, {"training_rows": len(t.training), "synthetic_rows": len(t.synthetic),
                                 "holdout_rows": len(holdout), "distance": "mean over columns: |a-b|/range "
                                                                           "(numeric), 0/1 (categories)"})


def _distance_encoder(training: "pd.DataFrame", columns: list[Mapping[str, Any]]) -> Any:
    """Rows as (numeric part scaled by the training range, with missing flags; one-hot
    categories), so that L1 on the first and mismatches on the second give the distance."""
    ranges = {}
    for column in columns:
        if column["kind"] in NUMERIC:
            values = numeric_values(training[column["name"]], column)
            span = np.nanmax(values) - np.nanmin(values) if np.isfinite(values).any() else 0.0
            ranges[column["name"]] = (np.nanmin(values) if np.isfinite(values).any() else 0.0, span or 1.0)

    def encode(frame: "pd.DataFrame") -> tuple[torch.Tensor, torch.Tensor]:
        numeric, onehots = [], []
        for column in columns:
            if column["kind"] in NUMERIC:
                low, span = ranges[column["name"]]
                values = (numeric_values(frame[column["name"]], column) - low) / span
                numeric += [np.nan_to_num(values, nan=0.0), np.isnan(values).astype(np.float64)]
            else:
                lookup = {str(v): i for i, v in enumerate(column["categories"])}
                codes = [lookup.get("None" if _missing(v) else str(v), len(lookup)) for v in frame[column["name"]]]
                onehots.append(np.eye(len(lookup) + 1)[codes])
        num = torch.from_numpy(np.stack(numeric, 1) if numeric else np.zeros((len(frame), 0)))
        cat = torch.from_numpy(np.concatenate(onehots, 1) if onehots else np.zeros((len(frame), 0)))
        return num, cat

    return encode


def _closest(rows: tuple[torch.Tensor, torch.Tensor], reference: tuple[torch.Tensor, torch.Tensor],
             columns: int) -> np.ndarray:
    (num, cat), (ref_num, ref_cat) = rows, reference
    categorical = cat.shape[1] and int(cat[0].sum().item())
    best = []
    for start in range(0, len(num), DCR_CHUNK):
        distance = torch.zeros(len(num[start:start + DCR_CHUNK]), len(ref_num), dtype=torch.float64)
        if num.shape[1]:
            distance += torch.cdist(num[start:start + DCR_CHUNK], ref_num, p=1)
        if categorical:
            distance += categorical - cat[start:start + DCR_CHUNK] @ ref_cat.T
        best.append(distance.min(dim=1).values)
    return (torch.cat(best) / max(columns, 1)).numpy()
