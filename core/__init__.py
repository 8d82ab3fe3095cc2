"""gankit: a plugin-based, multi-domain GAN toolkit on PyTorch.

The API (``train``, ``load``, ``sample``) is imported on first use, so ``import gankit``
stays light for the CLI and plugins.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_API = {"train": "api", "sample": "api", "load": "run", "Run": "run", "GankitError": "errors",
        "hookimpl": "hookspecs", "evaluate": "evaluation", "evaluate_samples": "evaluation",
        "vocode": "plugins.audio"}


def __getattr__(name: str) -> Any:
    if name in _API:
        import importlib

        return getattr(importlib.import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module 'gankit' has no attribute {name!r}")


__all__ = ["__version__", *_API]
