"""The audio domain's paired preview (``DomainSpec.write_paired_preview``): a model
conditioned on the dataset's items (a vocoder) is previewed beside the real clips of those
items and, for a vocoder run, Griffin-Lim's reconstruction from the same mels, so each
preview (and ``gankit report``) plays original, Griffin-Lim and gankit side by side.

For the clips :func:`~.io.write_preview` picks, it writes ``PATH.wav`` (the generated
clips, as an unpaired preview does), ``PATH.original.wav``, ``PATH.griffin-lim.wav`` (32
iterations, :func:`~.vocoder_metrics.griffin_lim`; vocoder runs only) and ``PATH.png``:
their log-mel spectrograms, one labelled row per version and one column per clip.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from gankit.specs import DataInfo

from .io import preview_picks, sample_rate_of, save_joined_wav, save_spectrogram_grid, to_numpy
from .melspec import has_mel_settings, settings_of

# (file-name suffix, row label in the spectrogram picture), in the order they are shown
ORIGINAL = (".original", "original")
GRIFFIN_LIM = (".griffin-lim", "Griffin-Lim")
GENERATED = ("", "gankit")


def write_paired_preview(fake: torch.Tensor, real: torch.Tensor, conditions: Any, path: str | Path,
                         info: DataInfo) -> Path:
    """Write the paired preview of ``fake``, generated from ``conditions``, and ``real``,
    the clips those conditions came from (see the module docstring); returns ``PATH.wav``."""
    from .vocoder_metrics import griffin_lim

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rate, picks = sample_rate_of(info), preview_picks(len(fake))
    versions: list[tuple[tuple[str, str], np.ndarray]] = [(ORIGINAL, to_numpy(real)[picks])]
    if has_mel_settings(info) and isinstance(conditions, torch.Tensor) and conditions.ndim == 3:
        versions.append((GRIFFIN_LIM, to_numpy(griffin_lim(conditions[picks], settings_of(info)))))
    versions.append((GENERATED, to_numpy(fake)[picks]))
    for (suffix, _), clips in versions:
        save_joined_wav(clips, path.with_name(f"{path.name}{suffix}.wav"), rate)
    save_spectrogram_grid(np.concatenate([clips for _, clips in versions]), path.with_name(path.name + ".png"), rate,
                          columns=len(picks), row_labels=[label for (_, label), _ in versions])
    return path.with_name(path.name + ".wav")
