"""``gankit export``: a run's generator as safetensors plus its configuration as JSON, for
use without pickle (and without gankit's checkpoint format)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from . import __version__
from .checkpoint import find_checkpoint, load_checkpoint
from .errors import GankitError

WEIGHTS = "generator.safetensors"
CONFIG = "generator.json"


def export(run_or_checkpoint: str | Path, out: str | Path, *, format: str = "safetensors") -> list[Path]:
    """Write the run's sampling generator (the EMA one when there is one) to
    ``out/generator.safetensors`` and what is needed to rebuild it to ``out/generator.json``.
    ``gankit.load(out)`` opens the folder again."""
    if format != "safetensors":
        raise GankitError(f"unknown export format {format!r}; use safetensors")
    from safetensors.torch import save_file

    state = load_checkpoint(find_checkpoint(run_or_checkpoint))
    uses_ema = state.get("generator_ema") is not None
    weights = state["generator_ema"] if uses_ema else state["generator"]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in weights.items()}, str(out / WEIGHTS),
              metadata={"format": "gankit-generator", "gankit": __version__})
    meta = {"format": "gankit-generator", "gankit_version": __version__, "step": state["step"],
            "total_steps": state["total_steps"], "uses_ema": uses_ema, "config": state["config"],
            "data_info": state["data_info"]}
    (out / CONFIG).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return [out / WEIGHTS, out / CONFIG]


def is_export(path: Path) -> bool:
    return path.is_dir() and (path / WEIGHTS).is_file() and (path / CONFIG).is_file()


def load_export(path: Path) -> dict[str, Any]:
    """An exported folder as the parts of a checkpoint that sampling needs."""
    from safetensors.torch import load_file

    meta = json.loads((path / CONFIG).read_text(encoding="utf-8"))
    if meta.get("format") != "gankit-generator":
        raise GankitError(f"{str(path / CONFIG)!r} is not a gankit generator export")
    return {"config": meta["config"], "data_info": meta["data_info"], "step": meta["step"],
            "total_steps": meta["total_steps"], "generator": load_file(str(path / WEIGHTS)), "generator_ema": None,
            "exported_with_ema": meta["uses_ema"]}
