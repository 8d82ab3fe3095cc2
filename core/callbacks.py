"""Listeners on training events: loggers, experiment trackers, anything that watches a run.

A plugin registers a :class:`CallbackSpec` through the ``register_callbacks`` hook and a
run turns it on by name (``--callbacks NAME``; the built-in TensorBoard listener also by
``--tensorboard``). The engine builds one listener per run and calls it on rank 0 only,
with the RNG streams saved before and restored after each call, so a listener never
changes training. Nothing here imports torch: registering a listener stays cheap.

``Callback``, ``CallbackSpec``, ``RunInfo`` and ``RunStatus`` are declared in
:mod:`gankit.callback_specs` (which imports nothing from gankit); plugins import them from here.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

from .callback_specs import Callback, CallbackSpec, RunInfo, RunStatus
from .errors import GankitError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .config import TrainConfig
    from .registry import Registry

__all__ = ["Callback", "CallbackSpec", "Events", "Listener", "RunInfo", "RunStatus", "build_callbacks",
           "enabled_names"]


@dataclass(frozen=True)
class Listener:
    """A callback built for one run, with the names an error message needs."""

    name: str
    plugin: str
    callback: Callback


def enabled_names(train: "TrainConfig") -> list[str]:
    """The listeners a run asks for, in order, without repeats."""
    names = list(train.callbacks) + (["tensorboard"] if train.tensorboard else [])
    return list(dict.fromkeys(names))


def build_callbacks(registry: "Registry", train: "TrainConfig") -> list[Listener]:
    """The run's listeners: the console's JSON log (``--log-format json``), then each
    listener named by ``--callbacks``/``--tensorboard``, built fresh."""
    listeners: list[Listener] = []
    if train.log_format == "json" and not train.quiet:
        from .progress import JsonLog

        listeners.append(Listener("json-log", "gankit", JsonLog()))
    for name in enabled_names(train):
        spec = registry.callback(name)
        plugin = registry.owner_of("callbacks", name)
        try:
            callback = spec.build()
        except GankitError:
            raise
        except Exception as exc:
            raise GankitError(f"callback {name!r} from plugin {plugin} failed to start: "
                              f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(callback, Callback):
            raise GankitError(f"callback {name!r} from plugin {plugin} built a {type(callback).__name__}, "
                              f"not a gankit.callbacks.Callback; its build() must return a Callback subclass")
        listeners.append(Listener(name, plugin, callback))
    return listeners


class Events:
    """Hands each training event to a run's listeners, in order. A process that is not
    rank 0 gets an empty one, whose methods return at once."""

    def __init__(self, listeners: Sequence[Listener], device: "torch.device | None" = None):
        self._listeners = list(listeners)
        self._device = device
        self._ended = not self._listeners

    def start(self, run: RunInfo) -> None:
        self._send("on_run_start", run)

    def log(self, step: int, record: Mapping[str, Any]) -> None:
        self._send("on_log", step, dict(record))

    def evaluated(self, step: int, metric: str, values: Mapping[str, float], best: bool) -> None:
        self._send("on_eval", step, metric, dict(values), best)

    def preview(self, step: int, path: Path) -> None:
        self._send("on_preview", step, Path(path))

    def checkpoint(self, step: int, path: Path) -> None:
        self._send("on_checkpoint", step, Path(path))

    def end(self, step: int, status: RunStatus) -> None:
        self._ended = True
        self._send("on_run_end", step, status)

    def close(self, step: int) -> None:
        """After an error: tell every listener that the run failed. Their own errors are
        dropped here, so the error that stopped the run is the one reported."""
        if self._ended:
            return
        self._ended = True
        for listener in self._listeners:
            with contextlib.suppress(Exception), self._preserved_rng():
                listener.callback.on_run_end(step, "failed")

    def _send(self, method: str, *args: Any) -> None:
        for listener in self._listeners:
            try:
                with self._preserved_rng():
                    getattr(listener.callback, method)(*args)
            except Exception as exc:
                self._listeners.remove(listener)  # it is not told again, not even that the run failed
                detail = str(exc) if isinstance(exc, GankitError) else f"{type(exc).__name__}: {exc}"
                raise GankitError(
                    f"callback {listener.name!r} from plugin {listener.plugin} failed in {method}: {detail}; "
                    f"fix it or run without it (checkpoints written so far are intact: --resume continues from the last)"
                ) from exc

    @contextlib.contextmanager
    def _preserved_rng(self) -> Iterator[None]:
        import random

        import numpy as np
        import torch

        numpy_state, python_state = np.random.get_state(), random.getstate()
        device = self._device
        devices = [device] if device is not None and device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            yield
        np.random.set_state(numpy_state)
        random.setstate(python_state)
