"""What the vocoder tests share: tiny mel settings at 2 kHz, a folder of pure tones, data
info with mel settings, the mel-loss contract check and the exact-resume check."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf
import torch

import gankit
from gankit.plugins.audio.hifigan import build_mel_l1
from gankit.plugins.audio.melspec import LogMel, MelSettings
from gankit.specs import DataInfo
from gankit.testing import check_model

RATE = 2000
MEL = dict(sample_rate=RATE, n_fft=64, win=64, hop=16, n_mels=16, fmax=1000.0, segment=256)


def write_tones(folder: Path, count: int = 16) -> Path:
    """Pure tones of 100..400 Hz, 0.4 s each, at 2 kHz."""
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(0.4 * RATE)) / RATE
    for i in range(count):
        frequency = 100 + 300 * i / max(1, count - 1)
        sf.write(folder / f"tone{i:02d}.wav", (0.6 * np.sin(2 * np.pi * frequency * t)).astype(np.float32), RATE)
    return folder


TONES = write_tones(Path(tempfile.mkdtemp(prefix="gankit-vocoder-tones-")))  # for the parametrised checks


def info_for(hop: int = 16, n_mels: int = 16, segment: int = 256) -> DataInfo:
    settings = MelSettings(RATE, 4 * hop, hop, 4 * hop, n_mels, 0.0, 1000.0)
    return DataInfo(shape=(1, segment), sample_rate=RATE, extra={"mel": settings.to_dict()})


def tones_trainer(model: str, tiny: dict) -> Callable[..., gankit.Run]:
    """``train(out, data, steps, **options)``: a tiny ``model`` trained quietly on ``data``."""
    def train(out: Path, data: Path, steps: int, **options) -> gankit.Run:
        return gankit.train("audio", model=model, dataset="mel", data=str(data), out=str(out), steps=steps,
                            batch_size=8, quiet=True, sample_every=0, **{"log_every": steps, **MEL, **tiny, **options})
    return train


def check_mel_contract(build: Callable, options: object, feature_matching: float) -> None:
    """The networks ``build(options, info)`` makes follow the model contract, with the
    ``mel_l1`` aux loss, on a sine's segments and their mels."""
    info = info_for()
    g, d = build(options, info)
    real = torch.sin(torch.linspace(0, 300, 256)).repeat(3, 1, 1) * 0.5
    mels = LogMel(MelSettings(**info.extra["mel"]))(real)
    check_model(g, d, info, real=real, real_cond=mels, feature_matching=feature_matching,
                aux_losses={"mel_l1": build_mel_l1(None, None, info)})


def assert_resumes_exactly(train: Callable[..., gankit.Run], tmp_path: Path, **options) -> gankit.Run:
    """``train(out, data, steps, ...)`` stopped at step 2 and resumed to 4 ends with the
    weights, optimiser states and sampler of one run of 4 steps."""
    data = write_tones(tmp_path / "tones", count=8)
    straight = train(tmp_path / "straight", data, 4, checkpoint_every=4, **options)
    train(tmp_path / "halves", data, 2, checkpoint_every=2, **options)
    resumed = train(tmp_path / "halves", data, 4, checkpoint_every=2, resume=True, **options)
    a = torch.load(straight.checkpoint_path, weights_only=True)
    b = torch.load(resumed.checkpoint_path, weights_only=True)
    for part in ("generator", "discriminator", "optimizer_g", "optimizer_d"):
        flat_a, flat_b = _tensors(a[part]), _tensors(b[part])
        assert flat_a.keys() == flat_b.keys() and all(torch.equal(flat_a[k], flat_b[k]) for k in flat_a), part
    assert a["sampler"] == b["sampler"]
    return resumed


def _tensors(state, prefix=""):
    out = {}
    for key, value in (state.items() if isinstance(state, dict) else enumerate(state)):
        if isinstance(value, torch.Tensor):
            out[f"{prefix}{key}"] = value
        elif isinstance(value, (dict, list, tuple)):
            out.update(_tensors(value, f"{prefix}{key}."))
    return out
