"""The preview of a tabular run: one SVG with a small real-vs-synthetic histogram per column
and the heat maps of both tables' pairwise associations (Cramér's V, :mod:`.summary`), so
``gankit report`` shows at a glance which columns and which column pairs the model gets
wrong. Drawn as plain SVG: no plotting library."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, Mapping

from .summary import HISTOGRAM_BINS, associations, histogram
from .transformer import modelled

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

REAL, FAKE = "#1f77b4", "#d62728"
PANEL_W, PANEL_H, PER_ROW = 180, 110, 5
MAX_HISTOGRAMS = 30
CELL = 14


def render(frame: "pd.DataFrame", params: Mapping[str, Any]) -> str:
    summary = params["summary"]
    columns = [column for column in modelled(params) if column["name"] in summary["columns"]][:MAX_HISTOGRAMS]
    parts, y = [], 24
    parts.append(_text(8, 16, f"{len(frame)} synthetic rows: real (blue) and synthetic (red) distributions", 13))
    for index, column in enumerate(columns):
        x0, y0 = 8 + (index % PER_ROW) * PANEL_W, y + (index // PER_ROW) * PANEL_H
        synthetic = histogram(frame[column["name"]], column, HISTOGRAM_BINS)
        parts.append(_histogram(x0, y0, column["name"], summary["columns"][column["name"]], synthetic))
    y += ((len(columns) + PER_ROW - 1) // PER_ROW) * PANEL_H + 10
    names = summary["pairs"]["names"]
    if len(names) > 1:
        synthetic = associations(frame, params, names)
        parts.append(_text(8, y + 14, "pairwise association (Cramér's V): real, synthetic, |difference|", 13))
        size = len(names) * CELL
        label = 110
        real = summary["pairs"]["real"]
        for k, (title, matrix) in enumerate((("real", real), ("synthetic", synthetic.tolist()),
                                             ("|difference|", abs(synthetic - real).tolist()))):
            parts.append(_heatmap(8 + label + k * (size + 30), y + 40, title, matrix, names if k == 0 else None, label))
        y += 40 + size + 20
    width = max(8 + PER_ROW * PANEL_W, 8 + 110 + 3 * (len(names) * CELL + 30))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y + 10}" '
            f'font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n' + "\n".join(parts) +
            "\n</svg>\n")


def _histogram(x0: int, y0: int, name: str, real: list[float], synthetic: list[float]) -> str:
    width, height = PANEL_W - 16, PANEL_H - 34
    top = max(max(real), max(synthetic), 1e-9)
    bar = width / len(real)
    parts = [_text(x0, y0 + 12, name[:26], 11),
             f'<rect x="{x0}" y="{y0 + 18}" width="{width}" height="{height}" fill="none" stroke="#ccc"/>']
    for i, (r, s) in enumerate(zip(real, synthetic)):
        for offset, value, colour in ((0.0, r, REAL), (0.5, s, FAKE)):
            h = height * value / top
            parts.append(f'<rect x="{x0 + (i + offset) * bar:.1f}" y="{y0 + 18 + height - h:.1f}" '
                         f'width="{bar / 2:.1f}" height="{h:.1f}" fill="{colour}"/>')
    return "\n".join(parts)


def _heatmap(x0: int, y0: int, title: str, matrix: list[list[float]], names: list[str] | None, label: int) -> str:
    parts = [_text(x0, y0 - 4, title, 11)]
    for i, row in enumerate(matrix):
        if names is not None:
            parts.append(f'<text x="{x0 - 4}" y="{y0 + i * CELL + 11}" font-size="9" text-anchor="end">'
                         f'{html.escape(names[i][:18])}</text>')
        for j, value in enumerate(row):
            shade = int(255 * (1 - min(max(value, 0.0), 1.0)))
            parts.append(f'<rect x="{x0 + j * CELL}" y="{y0 + i * CELL}" width="{CELL}" height="{CELL}" '
                         f'fill="rgb({shade},{shade},255)"><title>{value:.2f}</title></rect>')
    return "\n".join(parts)


def _text(x: float, y: float, text: str, size: int) -> str:
    return f'<text x="{x}" y="{y}" font-size="{size}">{html.escape(text)}</text>'
