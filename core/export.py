"""``gankit export``: a run's generator as safetensors plus its configuration as JSON, for
use without pickle (and without gankit's checkpoint format)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import __version__
from .checkpoint import check_sampling_state, find_checkpoint, load_checkpoint
from .errors import GankitError
from .outputs import StagedFolder, check_free_space

WEIGHTS = "generator.safetensors"
CONFIG = "generator.json"
MAX_CONFIG_BYTES = 64 * 2**20  # a generator.json holds options and a tokenizer, never this much


def export(run_or_checkpoint: str | Path, out: str | Path, *, format: str = "safetensors") -> list[Path]:
    """Write the run's sampling generator (the EMA one when there is one) to
    ``out/generator.safetensors`` and what is needed to rebuild it to ``out/generator.json``.
    ``gankit.load(out)`` opens the folder again. Both files appear together or not at all
    (:class:`gankit.outputs.StagedFolder`)."""
    if format != "safetensors":
        raise GankitError(f"unknown export format {format!r}; use safetensors")
    from safetensors.torch import save

    path = find_checkpoint(run_or_checkpoint)
    state = load_checkpoint(path)
    check_sampling_state(state, path)
    uses_ema = state.get("generator_ema") is not None
    weights = state["generator_ema"] if uses_ema else state["generator"]
    blob = save({k: v.contiguous() for k, v in weights.items()},
                metadata={"format": "gankit-generator", "gankit": __version__})
    meta = {"format": "gankit-generator", "gankit_version": __version__, "step": state["step"],
            "total_steps": state["total_steps"], "uses_ema": uses_ema, "config": state["config"],
            "data_info": state["data_info"]}
    text = json.dumps(meta, indent=2) + "\n"
    with StagedFolder(out, "export") as folder:
        check_free_space(folder.target, len(blob) + len(text), "export")
        (folder.staging / WEIGHTS).write_bytes(blob)
        (folder.staging / CONFIG).write_text(text, encoding="utf-8")
        folder.commit()
    return [Path(out) / WEIGHTS, Path(out) / CONFIG]


def is_export(path: Path) -> bool:
    return path.is_dir() and (path / WEIGHTS).is_file() and (path / CONFIG).is_file()


def load_export(path: Path) -> dict[str, Any]:
    """An exported folder as the parts of a checkpoint that sampling needs. Only the file
    structure is checked here; :class:`gankit.run.Run` checks the configuration's values
    and the model's size before building it."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    config_path = path / CONFIG
    try:
        if config_path.stat().st_size > MAX_CONFIG_BYTES:
            raise GankitError(f"{str(config_path)!r} is {config_path.stat().st_size:,} bytes, too large for a gankit "
                              f"generator export; the file is damaged or not gankit's")
        meta = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise GankitError(f"cannot read {str(config_path)!r}: {getattr(exc, 'strerror', None) or exc}") from None
    except ValueError as exc:
        raise GankitError(f"{str(config_path)!r} is not valid JSON ({exc}); export the run again") from None
    if not isinstance(meta, dict) or meta.get("format") != "gankit-generator":
        raise GankitError(f"{str(config_path)!r} is not a gankit generator export")
    if not isinstance(meta.get("uses_ema"), bool):
        raise GankitError(f"{str(config_path)!r} is damaged or not gankit's: its 'uses_ema' must be true or false")
    try:
        weights = load_file(str(path / WEIGHTS))
    except (SafetensorError, OSError, ValueError) as exc:
        raise GankitError(f"cannot read {str(path / WEIGHTS)!r}: it is damaged or not a safetensors file "
                          f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    return {"config": meta.get("config"), "data_info": meta.get("data_info"), "step": meta.get("step"),
            "total_steps": meta.get("total_steps"), "generator": weights, "generator_ema": None,
            "exported_with_ema": meta["uses_ema"]}
