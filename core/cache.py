"""Where gankit keeps downloaded data and fitted evaluation networks."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import GankitError

CACHE_ENV = "GANKIT_CACHE"


class CacheError(GankitError, OSError):
    """The cache folder cannot be created. A :class:`GankitError` (the CLI prints it as one
    line) and an ``OSError``, so code that treats a cache as optional (the decoded-data
    cache: decode every time instead) keeps catching it as it catches other I/O errors."""


def cache_dir(*parts: str) -> Path:
    """``$GANKIT_CACHE`` if set, else ``$XDG_CACHE_HOME/gankit`` (default ``~/.cache/gankit``),
    joined with ``parts`` and created."""
    root = os.environ.get(CACHE_ENV)
    if root:
        base = Path(root).expanduser()
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "gankit"
    path = base.joinpath(*parts)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CacheError(f"cannot create gankit's cache folder {str(path)!r}: {exc.strerror or exc}; "
                         f"set {CACHE_ENV} to a writable folder") from None
    return path
