"""What a listener on training events is: :class:`Callback`, the :class:`CallbackSpec` a
plugin registers, and the :class:`RunInfo` it is handed.

These declarations import nothing from gankit, so the hook specifications, the registry
and the console output can name them without importing the engine that drives them
(:mod:`gankit.callbacks`, which re-exports every name here and is where plugins import
them from).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Mapping

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
