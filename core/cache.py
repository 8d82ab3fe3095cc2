"""Where gankit keeps downloaded data and fitted evaluation networks."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """``$GANKIT_CACHE`` if set, else ``$XDG_CACHE_HOME/gankit`` (default ``~/.cache/gankit``),
    joined with ``parts`` and created."""
    root = os.environ.get("GANKIT_CACHE")
    if root:
        base = Path(root).expanduser()
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "gankit"
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
