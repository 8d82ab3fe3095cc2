"""Listeners on training events: loggers, experiment trackers, anything that watches a run.

A plugin registers a :class:`CallbackSpec` through the ``register_callbacks`` hook and a
run turns it on by name (``--callbacks NAME``; the built-in TensorBoard listener also by
``--tensorboard``). The engine builds one listener per run and calls it on rank 0 only,
with the RNG streams saved before and restored after each call, so a listener never
changes training. Nothing here imports torch: registering a listener stays cheap.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Literal, Mapping, Sequence

from .errors import GankitError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .config import TrainConfig
    from .registry import Registry

RunStatus = Literal["finished", "stopped", "failed"]


@dataclass(frozen=True)
class RunInfo:
    """What a listener learns when a run starts. ``config`` is what ``config.json`` holds:
    the resolved options (``model_options``, ``dataset_options``), ``data_info`` and
    ``provenance``. ``start_step`` is 0 for a fresh run, the checkpoint's step on resume."""

    run_dir: Path
    config: Mapping[str, Any]
    start_step: int
    total_steps: int
    resumed: bool


class Callback:
    """A listener on training events. Override the methods you need; each is a no-op here.

    One instance serves one run. Keep ``__init__`` cheap and free of side effects (it runs
    on every process and before the run directory exists) and open files or connections in
    :meth:`on_run_start`. An exception from any method stops the run with an error naming
    the listener and its plugin; the last checkpoint stays intact.
    """

    def on_run_start(self, run: RunInfo) -> None:
        """The run directory and ``config.json`` exist; no step has run yet (in this process)."""

    def on_log(self, step: int, record: Mapping[str, Any]) -> None:
        """A record was appended to ``metrics.jsonl``: the losses averaged over the last
        ``--log-every`` steps (``d_loss``, ``g_loss``, ``penalty``, ``steps_per_s``, ``time``)
        or, with ``--eval-every``, an evaluation (keys ``eval/METRIC/VALUE``)."""

    def on_eval(self, step: int, metric: str, values: Mapping[str, float], best: bool) -> None:
        """The primary metric ``metric`` scored the run; ``best`` when it is the best so far
        (``best.pt`` then points at this step)."""

    def on_preview(self, step: int, path: Path) -> None:
        """The domain wrote a preview; ``path`` is the file its ``write_preview`` returned.
        Files it wrote beside it share its stem (audio: ``step-N.wav`` and ``step-N.png``)."""

    def on_checkpoint(self, step: int, path: Path) -> None:
        """A checkpoint of ``step`` is complete at ``path`` (``checkpoints/last.pt`` points at it)."""

    def on_run_end(self, step: int, status: RunStatus) -> None:
        """The run ended at ``step``: ``finished`` (all steps), ``stopped`` (``--max-minutes``)
        or ``failed`` (an error follows). Always the last call; close files here."""


@dataclass(frozen=True)
class CallbackSpec:
    """A listener a plugin offers. ``build()`` returns a new :class:`Callback` for each run
    that names it (``--callbacks NAME``); raise :class:`gankit.GankitError` there when
    something it needs is missing (a package, a setting), so the run fails before it starts."""

    name: str
    description: str
    build: Callable[[], Callback]


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
