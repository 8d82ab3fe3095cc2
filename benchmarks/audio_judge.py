"""Cheap, listener-free statistics that tell speech from noise in generated clips.

- ``flatness``: spectral flatness (geometric / arithmetic mean of the power spectrum) of the
  non-silent 32 ms frames; white noise is near 0.5-0.6, voiced speech near 0.01-0.1.
- ``periodicity``: the highest normalised autocorrelation at a pitch lag (60-400 Hz) of the
  non-silent frames; voiced speech is periodic (0.6-0.9), noise is not (near 0.1).
- ``silent``: the share of frames 45 dB below the loudest frame of the whole set; spoken
  digits are surrounded by silence, stationary noise is not.
- ``mel_l1``: the mean absolute difference (dB) between the average log-mel spectra of the
  generated and the real clips: the spectral envelope (formant region, low-pass) match.
- ``diversity``: the mean pairwise L1 distance (dB) between clips' average log-mel spectra,
  relative to the real set's (1 = as varied as the data; near 0 = one sound every time).
"""

from __future__ import annotations

import numpy as np
import torch

from gankit.plugins.audio.io import log_mel


def frames(clips: np.ndarray, size: int, hop: int) -> np.ndarray:
    count = 1 + (clips.shape[1] - size) // hop
    index = np.arange(size)[None, :] + hop * np.arange(count)[:, None]
    return clips[:, index]  # N × frames × size


def judge(clips: np.ndarray | torch.Tensor, real: np.ndarray | torch.Tensor, sample_rate: int) -> dict[str, float]:
    clips = _array(clips)
    real = _array(real)
    size = 1 << round(np.log2(0.032 * sample_rate))
    out: dict[str, float] = {}
    stats = _frame_stats(clips, sample_rate, size)
    out.update(stats)
    mel_fake, mel_real = log_mel(clips, sample_rate).mean(axis=2), log_mel(real, sample_rate).mean(axis=2)
    out["mel_l1"] = float(np.abs(mel_fake.mean(0) - mel_real.mean(0)).mean())
    out["diversity"] = float(_pairwise(mel_fake) / max(_pairwise(mel_real), 1e-9))
    return out


def _frame_stats(clips: np.ndarray, sample_rate: int, size: int) -> dict[str, float]:
    f = frames(clips, size, size // 2) * np.hanning(size)
    energy = (f**2).mean(axis=2)
    loud = energy > energy.max() * 10 ** (-45 / 10)
    power = np.abs(np.fft.rfft(f, axis=2)) ** 2 + 1e-12
    flatness = np.exp(np.log(power).mean(axis=2)) / power.mean(axis=2)
    ac = np.fft.irfft(power, n=2 * size, axis=2)[..., :size]
    ac = ac / ac[..., :1]
    lo, hi = sample_rate // 400, sample_rate // 60
    periodic = ac[..., lo:hi].max(axis=2)
    return {
        "flatness": float(flatness[loud].mean()) if loud.any() else float("nan"),
        "periodicity": float(periodic[loud].mean()) if loud.any() else float("nan"),
        "silent": float(1 - loud.mean()),
    }


def _pairwise(spectra: np.ndarray) -> float:
    n = min(len(spectra), 200)
    s = spectra[:n]
    return float(np.abs(s[:, None] - s[None]).mean() * n / max(n - 1, 1))


def _array(x: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    return x.reshape(x.shape[0], -1).astype(np.float32)
