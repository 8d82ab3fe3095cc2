"""The training engine: a run's components (:mod:`~gankit.engine.session`), one training
step (:mod:`~gankit.engine.step`), the loop (:mod:`~gankit.engine.loop`), and the pieces they
share: loss terms, loss logging, optimisers and schedules, stopping, pre-training."""

from .loop import TrainResult, train_run

__all__ = ["TrainResult", "train_run"]
