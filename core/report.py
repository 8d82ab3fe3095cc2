"""``gankit report RUN``: one self-contained HTML file describing a run.

It holds loss curves and metrics over time (inline SVG drawn here, no JavaScript), the
latest preview with its files embedded as data URIs, and the configuration. Previews are
shown by file type, so any domain's preview works without code: images (PNG, JPEG, GIF,
WebP, SVG) as ``<img>``, sound (WAV, FLAC, OGG, MP3) as an ``<audio controls>`` player,
text as preformatted lines; an audio preview's spectrogram PNG sits beside its WAV and
is shown too. A paired preview (``DomainSpec.write_paired_preview``) names its versions
in the file name, ``step-N.VERSION.EXT``: files of one type with versions are shown side
by side, captioned with their version: the original first, the generated samples (no
version) last, captioned "gankit". Every piece of text from the run is escaped. Nothing
here imports torch.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .atomic import atomic_write
from .errors import GankitError
from .outputs import make_dirs, remove_empty_dirs, write_error

IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
               ".webp": "image/webp", ".svg": "image/svg+xml"}
AUDIO_TYPES = {".wav": "audio/wav", ".flac": "audio/flac", ".ogg": "audio/ogg", ".mp3": "audio/mpeg"}
TEXT_SUFFIXES = {".txt"}
MAX_EMBED_BYTES = 32 * 2**20  # a larger preview file is linked, not embedded
MAX_TEXT_LINES = 200
MAX_POINTS = 2000  # per series; longer series are thinned evenly
PREVIEW_NAME = re.compile(r"^step-(\d+)$")
ORIGINAL_VERSION = ".original"  # a paired preview's real samples: step-N.original.EXT
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def write_report(run: str | Path, out: str | Path | None = None, *, overwrite: bool = False) -> Path:
    """Write the report of the run directory ``run`` to ``out`` (default
    ``RUN/report.html``, which is the run's own and is replaced) and return its path. An
    ``out`` that already exists is replaced only with ``overwrite``. The file is written
    atomically: a failed write leaves what was there, and no folder it created."""
    run_dir = Path(run)
    target = Path(out) if out else run_dir / "report.html"
    if os.path.lexists(target) and (target.is_dir() or target.is_symlink()):
        raise GankitError(f"--out {str(target)!r} is a {'folder' if target.is_dir() else 'link'}; give the report's "
                          f"file name (report.html)")
    if out and os.path.lexists(target) and not overwrite:
        raise GankitError(f"--out {str(target)!r} already exists; pass --overwrite to replace it, or choose another "
                          f"name")
    document = render_report(run_dir, target.parent)
    created: list[Path] = []
    try:
        created = make_dirs(target.parent)
        atomic_write(target, document)
    except OSError as exc:
        remove_empty_dirs(created)
        raise write_error(exc, "report", target) from None
    return target


def render_report(run_dir: Path, report_dir: Path | None = None) -> str:
    """The report as an HTML document. ``report_dir`` is where it will be saved (links to
    files too large to embed are relative to it)."""
    config = _read_config(run_dir)
    records = _read_records(run_dir / "metrics.jsonl")
    preview_step, preview_files = latest_preview(run_dir / "samples")
    title = f"gankit report: {run_dir.resolve().name}"
    sections = [
        _summary(run_dir, config, records),
        _section("Losses and metrics", _charts(records)),
        _section("Latest preview" + (f" (step {preview_step})" if preview_files else ""),
                 _preview(preview_files, report_dir or run_dir)),
        _section("Configuration", _configuration(config)),
    ]
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{_e(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            f"<h1>{_e(title)}</h1>\n" + "\n".join(sections) + "\n</body>\n</html>\n")


# Reading the run --------------------------------------------------------------------------

def _read_config(run_dir: Path) -> dict[str, Any]:
    if not run_dir.is_dir():
        raise GankitError(f"{str(run_dir)!r} is not a run directory; pass the folder `gankit train --out` wrote")
    path = run_dir / "config.json"
    if not path.is_file():
        raise GankitError(f"{str(run_dir)!r} has no config.json, so it is not a gankit run directory "
                          f"(or its run never started); pass the folder `gankit train --out` wrote")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise GankitError(f"{str(path)!r} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise GankitError(f"{str(path)!r} does not hold a configuration table")
    return config


def _read_records(path: Path) -> list[dict[str, Any]]:
    """The records of ``metrics.jsonl``; a line cut short by a crash is skipped."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), (int, float)):
            records.append(record)
    return records


def latest_preview(samples_dir: Path) -> tuple[int | None, list[Path]]:
    """The newest preview's step and its files (``step-N.*``, sorted)."""
    by_step: dict[int, list[Path]] = {}
    if samples_dir.is_dir():
        for path in samples_dir.iterdir():
            match = PREVIEW_NAME.match(path.name.split(".", 1)[0])
            if match and path.is_file() and "." in path.name:
                by_step.setdefault(int(match.group(1)), []).append(path)
    if not by_step:
        return None, []
    step = max(by_step)
    return step, sorted(by_step[step])


# Sections -----------------------------------------------------------------------------------

def _section(heading: str, body: str) -> str:
    return f"<section>\n<h2>{_e(heading)}</h2>\n{body}\n</section>"


def _summary(run_dir: Path, config: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> str:
    provenance = config.get("provenance") or {}
    last_step = max((int(r["step"]) for r in records), default=0)
    facts = [
        ("run directory", str(run_dir.resolve())),
        ("domain / model / dataset", " / ".join(str(config.get(k, "?")) for k in ("domain", "model", "dataset"))),
        ("objective", str(config.get("objective", "?"))),
        ("last logged step", f"{last_step} of {config.get('steps', '?')}"),
        ("started", str(provenance.get("created", "?"))),
        ("command", str(provenance.get("command_line", "?"))),
        ("report written", time.strftime("%Y-%m-%dT%H:%M:%S%z")),
    ]
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts)
    return f'<section>\n<table class="summary">{rows}</table>\n</section>'


def _charts(records: Sequence[Mapping[str, Any]]) -> str:
    groups = chart_groups(records)
    if not groups:
        return "<p>No metrics logged yet (metrics.jsonl is written every --log-every steps).</p>"
    charts = []
    for title, keys in groups.items():
        series = {key: [(float(r["step"]), float(r[key])) for r in records if _is_number(r.get(key))] for key in keys}
        charts.append(line_chart(title, series))
    return '<div class="charts">' + "\n".join(charts) + "</div>"


def chart_groups(records: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Which keys share a chart: all losses (and the penalty) in one; each evaluation
    metric's values (``eval/METRIC/VALUE``) in one per metric; every other number alone."""
    keys: list[str] = []
    for record in records:
        keys += [k for k, v in record.items() if k not in ("step", "time") and _is_number(v) and k not in keys]
    groups: dict[str, list[str]] = {}
    for key in keys:
        if key.endswith("loss") or key == "penalty":
            title = "losses"
        elif "/" in key:
            title = key.rsplit("/", 1)[0]
        else:
            title = key
        groups.setdefault(title, []).append(key)
    return groups


def _preview(files: Sequence[Path], report_dir: Path) -> str:
    if not files:
        return "<p>No preview written yet (one is written every --sample-every steps and at the end).</p>"
    order = {"audio": 0, "image": 1, "text": 2, "other": 3}
    paired = any(preview_version(p) for p in files)
    parts = []
    for kind in order:
        group = sorted((p for p in files if _kind(p) == kind), key=_version_order)
        if paired and len(group) > 1:  # the versions of a paired preview, side by side
            row = "".join(render_file(p, report_dir, _version_label(p)) for p in group)
            parts.append(f'<div class="versions">{row}</div>')
        else:
            parts += [render_file(p, report_dir) for p in group]
    return '<div class="preview">' + "\n".join(parts) + "</div>"


def preview_version(path: Path) -> str:
    """Which version of a paired preview a file holds: its name between ``step-N`` and the
    extension (``.original``; ``""`` for the generated samples, and in unpaired previews)."""
    name = path.name
    return name[name.index("."):len(name) - len(path.suffix)]


def _version_order(path: Path) -> tuple[int, str]:
    """The original first, the generated samples last, other versions (a baseline) between."""
    version = preview_version(path)
    return (0 if version == ORIGINAL_VERSION else 2 if not version else 1), path.name


def _version_label(path: Path) -> str:
    return preview_version(path)[1:] or "gankit"


def render_file(path: Path, report_dir: Path, label: str | None = None) -> str:
    """One preview file as HTML, by its type; embedded unless it is larger than MAX_EMBED_BYTES.
    ``label`` starts its caption (a paired preview's version)."""
    kind, size = _kind(path), path.stat().st_size
    caption = (f"<figcaption>{f'<b>{_e(label)}</b><br>' if label else ''}{_e(path.name)} ({_size(size)})"
               f"</figcaption>")
    if kind == "text":
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        more = f"\n… {len(lines) - MAX_TEXT_LINES} more lines" if len(lines) > MAX_TEXT_LINES else ""
        body = f'<pre class="samples">{_e(chr(10).join(lines[:MAX_TEXT_LINES]) + more)}</pre>'
        return f"<figure>{body}{caption}</figure>"
    if kind == "other" or size > MAX_EMBED_BYTES:
        link = Path(os.path.relpath(path.resolve(), report_dir.resolve())).as_posix()
        return f'<p>{_e(path.name)} ({_size(size)}): <a href="{_e(link)}">open the file</a></p>'
    if kind == "image":
        uri = _data_uri(path, IMAGE_TYPES[path.suffix.lower()])
        return f'<figure><img src="{uri}" alt="{_e(path.name)}">{caption}</figure>'
    uri = _data_uri(path, AUDIO_TYPES[path.suffix.lower()])
    return f'<figure><audio controls preload="metadata" src="{uri}"></audio>{caption}</figure>'


def _configuration(config: Mapping[str, Any]) -> str:
    tables = []
    engine = {k: v for k, v in config.items() if not isinstance(v, dict)}
    tables.append(("Training options", engine))
    for key, title in (("model_options", "Model options"), ("dataset_options", "Dataset options"),
                       ("data_info", "Data"), ("provenance", "Provenance")):
        if isinstance(config.get(key), dict):
            tables.append((title, config[key]))
    out = []
    for title, values in tables:
        rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(_show(v))}</td></tr>" for k, v in values.items())
        out.append(f'<h3>{_e(title)}</h3>\n<table class="config">{rows or "<tr><td>(none)</td></tr>"}</table>')
    return "\n".join(out)


# The SVG chart ------------------------------------------------------------------------------

def line_chart(title: str, series: Mapping[str, Sequence[tuple[float, float]]], *,
               width: int = 720, height: int = 260) -> str:
    """A line chart of ``series`` (name → points) as an inline ``<svg class="chart">``:
    axes with round ticks, one line per series, a legend with each series' last value."""
    left, right, top, bottom = 64, 16, 48, 34
    points = {name: _thin([(x, y) for x, y in pts if math.isfinite(x) and math.isfinite(y)])
              for name, pts in series.items()}
    xs = [x for pts in points.values() for x, _ in pts]
    ys = [y for pts in points.values() for _, y in pts]
    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}" data-title="{_e(title)}">',
             f"<title>{_e(title)}</title>",
             f'<text x="{left}" y="16" class="chart-title">{_e(title)}</text>']
    if not xs:
        parts.append(f'<text x="{left}" y="{height // 2}">no finite values</text></svg>')
        return "".join(parts)
    x_lo, x_hi = _span(min(xs), max(xs))
    y_lo, y_hi = _span(min(ys), max(ys))
    x_ticks, y_ticks = nice_ticks(x_lo, x_hi, integer=True), nice_ticks(y_lo, y_hi)
    x_lo, x_hi = min(x_lo, x_ticks[0]), max(x_hi, x_ticks[-1])
    y_lo, y_hi = min(y_lo, y_ticks[0]), max(y_hi, y_ticks[-1])
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + (x - x_lo) / (x_hi - x_lo) * plot_w

    def py(y: float) -> float:
        return top + (1 - (y - y_lo) / (y_hi - y_lo)) * plot_h

    for tick, text in zip(y_ticks, tick_labels(y_ticks)):
        parts.append(f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="{py(tick):.1f}" y2="{py(tick):.1f}"/>'
                     f'<text class="tick" x="{left - 6}" y="{py(tick) + 4:.1f}" text-anchor="end">{_e(text)}</text>')
    for tick, text in zip(x_ticks, tick_labels(x_ticks)):
        parts.append(f'<text class="tick" x="{px(tick):.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                     f'{_e(text)}</text>')
    parts.append(f'<rect class="frame" x="{left}" y="{top}" width="{plot_w}" height="{plot_h}"/>')
    parts.append(f'<text class="tick" x="{left + plot_w}" y="{height - 4}" text-anchor="end">step</text>')
    legend_x, legend_y = left, 36
    for i, (name, pts) in enumerate(points.items()):
        colour = COLOURS[i % len(COLOURS)]
        if len(pts) == 1:
            parts.append(f'<circle cx="{px(pts[0][0]):.1f}" cy="{py(pts[0][1]):.1f}" r="3" fill="{colour}"/>')
        elif pts:
            coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
            parts.append(f'<polyline class="series" data-series="{_e(name)}" fill="none" stroke="{colour}" '
                         f'stroke-width="1.5" points="{coords}"/>')
        label = f"{name} (last {_num(pts[-1][1])})" if pts else f"{name} (no finite values)"
        if legend_x > left and legend_x + 6 * len(label) > width:  # a second row (within the top margin)
            legend_x, legend_y = left, legend_y + 12
        parts.append(f'<text class="legend" x="{legend_x}" y="{legend_y}" fill="{colour}">{_e(label)}</text>')
        legend_x += 16 + 6 * len(label)
    parts.append("</svg>")
    return "".join(parts)


def nice_ticks(lo: float, hi: float, count: int = 5, *, integer: bool = False) -> list[float]:
    """Round tick values (steps of 1, 2 or 5 × 10^k; whole numbers with ``integer``)
    covering [lo, hi] in about ``count`` steps."""
    raw = (hi - lo) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    if integer:
        step = max(step, 1)
    first = math.floor(lo / step) * step
    ticks, value = [], first
    while value < hi + step * 0.5:
        ticks.append(round(value, 12))
        value += step
    return ticks


def tick_labels(ticks: Sequence[float]) -> list[str]:
    """The ticks as text with as many significant digits (at least 4) as it takes to tell
    them apart: a learning rate decaying from 5e-4 to 4.9995e-4 gets 0.0004999, 0.0005..."""
    labels = [_num(tick) for tick in ticks]
    for digits in range(5, 16):
        if len(set(labels)) == len(labels):
            break
        labels = [f"{tick:.{digits}g}" for tick in ticks]
    return labels


def _span(lo: float, hi: float) -> tuple[float, float]:
    if hi > lo:
        return lo, hi
    pad = abs(lo) * 0.1 or 1.0
    return lo - pad, hi + pad


def _thin(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(points) <= MAX_POINTS:
        return points
    stride = len(points) / MAX_POINTS
    return [points[int(i * stride)] for i in range(MAX_POINTS - 1)] + [points[-1]]


# Small helpers ------------------------------------------------------------------------------

def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in AUDIO_TYPES:
        return "audio"
    if suffix in IMAGE_TYPES:
        return "image"
    return "text" if suffix in TEXT_SUFFIXES else "other"


def _data_uri(path: Path, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _num(value: float) -> str:
    return f"{value:.4g}"


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, (list, tuple)):
        return ", ".join(_show(v) for v in value) if value else "(none)"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 1024:.1f} KiB" if n >= 1024 else f"{n} bytes"


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1100px;
       padding: 0 1rem; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
h3 { font-size: 1rem; margin-bottom: .3rem; }
table { border-collapse: collapse; font-size: .9rem; }
th, td { text-align: left; padding: .15rem .8rem .15rem 0; vertical-align: top; }
th { font-weight: 600; color: #555; }
td { font-family: ui-monospace, monospace; word-break: break-all; }
.charts svg { display: block; margin: .5rem 0 1rem; max-width: 100%; height: auto; }
.chart-title { font-weight: 600; font-size: 13px; }
.tick, .legend { font-size: 11px; }
.tick { fill: #666; }
.grid { stroke: #eee; }
.frame { fill: none; stroke: #bbb; }
.preview figure { margin: 0 0 1rem; }
.preview img { min-width: min(480px, 100%); max-width: 100%; image-rendering: pixelated; border: 1px solid #ddd; }
.preview audio { width: 100%; max-width: 640px; display: block; }
.versions { display: flex; flex-wrap: wrap; gap: 0 1rem; }
.versions figure { flex: 1 1 14rem; }
figcaption { font-size: .8rem; color: #666; }
pre.samples { background: #f6f6f6; padding: .6rem; overflow-x: auto; }
"""
