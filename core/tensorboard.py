"""The built-in TensorBoard listener (``--tensorboard``; needs ``pip install 'gankit[tensorboard]'``).

It writes ``RUN/tensorboard/events.out.tfevents.*`` through torch's ``SummaryWriter``:
every metrics record as scalars (tags as in ``metrics.jsonl``: ``d_loss``, ``g_loss``,
``eval/fid/fid``, ...), each preview (images as images, sound files as audio, text files as
text) and the configuration as text. This module is a built-in plugin of the
``register_callbacks`` hook, like a third party's tracker would be; importing it imports
nothing heavy.
"""

from __future__ import annotations

import glob
import json
from pathlib import Path
from typing import Any, Mapping

from .callbacks import Callback, CallbackSpec, RunInfo, RunStatus
from .errors import GankitError
from .hookspecs import hookimpl

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp"})
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg"})
SKIPPED_KEYS = frozenset({"step", "time"})  # the x axis, and TensorBoard records wall time itself


class TensorBoardCallback(Callback):
    def __init__(self) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise GankitError(
                "--tensorboard needs the tensorboard package, which is not installed; "
                "pip install 'gankit[tensorboard]' (or drop --tensorboard)"
            ) from None
        self._writer_type = SummaryWriter
        self.writer: Any = None

    def on_run_start(self, run: RunInfo) -> None:
        # On resume, events logged after the checkpoint's step (by the interrupted process)
        # are purged, so every step appears once, as in metrics.jsonl.
        self.writer = self._writer_type(log_dir=str(run.run_dir / "tensorboard"),
                                        purge_step=run.start_step + 1 if run.resumed else None)
        config = json.dumps({k: v for k, v in run.config.items() if k != "provenance"}, indent=2)
        self.writer.add_text("config", _preformatted(config), run.start_step)

    def on_log(self, step: int, record: Mapping[str, Any]) -> None:
        for key, value in record.items():
            if key not in SKIPPED_KEYS and isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(key, value, step)
        self.writer.flush()

    def on_preview(self, step: int, path: Path) -> None:
        for file in sorted(path.parent.glob(f"{glob.escape(path.stem)}.*")):
            suffix = file.suffix.lower()
            if suffix in IMAGE_SUFFIXES:
                self.writer.add_image("preview/image", _read_image(file), step, dataformats="HWC")
            elif suffix in AUDIO_SUFFIXES:
                samples, rate = _read_audio(file)
                self.writer.add_audio("preview/audio", samples, step, sample_rate=rate)
            elif suffix == ".txt":
                self.writer.add_text("preview/text", _preformatted(file.read_text(encoding="utf-8")), step)
        self.writer.flush()

    def on_run_end(self, step: int, status: RunStatus) -> None:
        if self.writer is not None:
            self.writer.close()


def _preformatted(text: str) -> str:
    """TensorBoard renders text as Markdown: indent it to keep it verbatim."""
    return "\n".join("    " + line for line in text.splitlines())


def _read_image(path: Path) -> Any:
    import numpy as np
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _read_audio(path: Path) -> tuple[Any, int]:
    import soundfile
    import torch

    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return torch.from_numpy(data.mean(axis=1)).unsqueeze(0), int(rate)


@hookimpl
def register_callbacks(register: Any) -> None:
    register(CallbackSpec(
        name="tensorboard",
        description="TensorBoard event files in RUN/tensorboard: losses, metrics, previews (needs gankit[tensorboard])",
        build=TensorBoardCallback,  # imports torch's SummaryWriter when a run builds it
    ))
