"""What every check of the conformance kit shares: the check names, the errors, the
failure prefix and the ``plugin_registered`` context manager. Imports none of the kit's
other modules."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Iterator

from ..registry import plugin_manager

# Modules a plugin must not import when it is loaded (``gankit --help`` loads every plugin).
HEAVY_MODULES = ("torch", "torchaudio", "torchvision", "transformers", "tensorflow", "jax", "matplotlib",
                 "scipy", "sklearn")

CHECKS = ("registration", "options", "dataset", "model", "train", "checkpoint", "resume", "samples", "metrics")
RUN_CHECKS = ("checkpoint", "resume", "samples", "metrics")  # the checks that need the train check's run
DOMAIN_KEYWORDS = ("data", "steps", "batch_size", "skip", "heavy")  # check_domain's keywords besides options


class ConformanceError(AssertionError):
    """A plugin breaks gankit's contract; the message names the check and what to fix."""


class _Unmet(Exception):
    """A check cannot run: one it needs failed (or was left out). :func:`check_domain` stops
    at the first failure, so it only sees this when the caller skipped a check another needs;
    a parametrised check turns it into a pytest skip (the failing check is its own test)."""


@dataclass
class Report:
    """What :func:`check_domain` checked: ``passed`` in order, ``skipped`` with the reason."""

    domain: str
    model: str
    dataset: str
    passed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def _require(ok: Any, message: str) -> None:
    if not ok:
        raise ConformanceError(message)


def _describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, ConformanceError) else f"raised {type(exc).__name__}: {exc}"


@contextlib.contextmanager
def _check(name: str, subject: str) -> Iterator[None]:
    """Prefix failures (and unexpected exceptions) with the check and the subject."""
    try:
        yield
    except _Unmet:
        raise
    except Exception as exc:
        raise ConformanceError(f"[{name}] {subject}: {_describe(exc)}") from (
            None if isinstance(exc, ConformanceError) else exc)


@contextlib.contextmanager
def plugin_registered(plugin: Any, name: str | None = None) -> Iterator[Any]:
    """Register ``plugin`` (a module or any object with ``@hookimpl`` functions) with the
    process-wide plugin manager for the ``with`` block, and unregister it afterwards."""
    from .. import registry

    name = name or getattr(plugin, "__name__", None) or f"plugin-{id(plugin)}"
    plugin_manager().register(plugin, name=name)
    registry._registry = None  # the cache is keyed by plugin names: another object may have had this one
    try:
        yield plugin
    finally:
        plugin_manager().unregister(name=name)
        registry._registry = None
