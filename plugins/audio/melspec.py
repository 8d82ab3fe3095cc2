"""The vocoder's log-mel analysis, as HiFi-GAN's ``meldataset.mel_spectrogram`` computes it,
with torchaudio: the waveform reflect-padded by ``(n_fft - hop) / 2`` each side, a Hann
window of ``win`` samples, no centring (so ``T`` samples give exactly ``T / hop`` frames),
magnitude ``sqrt(|STFT|² + 1e-9)``, a Slaney-normalised Slaney-scale mel filterbank
(librosa's default, which HiFi-GAN uses), then ``log(clamp(mel, 1e-5))``.

:class:`MelSettings` are the ``mel`` dataset's options, stored with a run in
``DataInfo.extra["mel"]``; everything that analyses audio for a run (the dataset, the mel L1
loss, ``read_conditions``, ``gankit vocode``, the vocoder metrics) builds its
:class:`LogMel` from them, so a run's mels are computed one way everywhere.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from gankit.errors import GankitError

LOG_FLOOR = 1e-5  # HiFi-GAN's dynamic_range_compression_torch clamp
MAGNITUDE_EPS = 1e-9  # HiFi-GAN: sqrt(spec.pow(2).sum(-1) + 1e-9)


@dataclass(frozen=True)
class MelSettings:
    """How a run's mel-spectrograms are computed (see the module docstring)."""

    sample_rate: int
    n_fft: int
    hop: int
    win: int
    n_mels: int
    fmin: float
    fmax: float | None
    fmax_loss: float | None = None

    @property
    def pad(self) -> int:
        return (self.n_fft - self.hop) // 2

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_options(cls, options: Any) -> "MelSettings":
        return cls(options.sample_rate, options.n_fft, options.hop, options.win, options.n_mels, options.fmin,
                   options.fmax, options.fmax_loss)


def settings_of(info: Any, what: str = "this run") -> MelSettings:
    """The mel settings a run's ``DataInfo`` carries; a clear error for data without them."""
    extra: Mapping[str, Any] = getattr(info, "extra", None) or {}
    stored = extra.get("mel")
    if not isinstance(stored, Mapping):
        raise GankitError(f"{what} has no mel settings: train the vocoder on the mel dataset "
                          f"(gankit train audio --model hifigan --dataset mel --data FOLDER)")
    return MelSettings(**{field.name: stored[field.name] for field in dataclasses.fields(MelSettings)
                          if field.name in stored})


def has_mel_settings(info: Any) -> bool:
    return isinstance((getattr(info, "extra", None) or {}).get("mel"), Mapping)


def level_gain(wave: np.ndarray, info: Any) -> float:
    """The gain that brings ``wave`` to the peak level the run's data was normalised to
    (``DataInfo.extra["peak"]``), so a quiet or loud recording is the input the vocoder
    was trained on; 1 when the data kept its own levels."""
    peak = (getattr(info, "extra", None) or {}).get("peak")
    return float(peak) / float(np.abs(wave).max()) if peak else 1.0


class LogMel(nn.Module):
    """``forward(wave)``: log-mel spectrograms (N, n_mels, T / hop) of waves (N, T) or
    (N, 1, T), differentiable; ``for_loss=True`` uses ``fmax_loss`` as the top frequency."""

    def __init__(self, settings: MelSettings, *, for_loss: bool = False):
        super().__init__()
        import torchaudio

        self.settings = settings
        top = settings.fmax_loss if for_loss else settings.fmax
        self.spectrogram = torchaudio.transforms.Spectrogram(
            n_fft=settings.n_fft, win_length=settings.win, hop_length=settings.hop, pad=0, power=2.0, center=False)
        self.mel_scale = torchaudio.transforms.MelScale(
            n_mels=settings.n_mels, sample_rate=settings.sample_rate, f_min=settings.fmin,
            f_max=top if top is not None else settings.sample_rate / 2, n_stft=settings.n_fft // 2 + 1,
            norm="slaney", mel_scale="slaney")

    def magnitude(self, wave: torch.Tensor, *, padded: bool = False) -> torch.Tensor:
        """``sqrt(|STFT|² + 1e-9)`` (N, n_fft/2+1, frames); ``padded``: the reflect padding
        was applied already (a slice of a padded long file)."""
        if wave.ndim == 3:
            wave = wave[:, 0]
        wave = wave.float()
        if not padded:
            pad = self.settings.pad
            if wave.shape[-1] <= pad:
                raise GankitError(f"audio of {wave.shape[-1]} samples is too short for the mel analysis: it needs "
                                  f"more than {pad} samples")
            wave = torch.nn.functional.pad(wave.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
        return (self.spectrogram(wave) + MAGNITUDE_EPS).sqrt()

    def forward(self, wave: torch.Tensor, *, padded: bool = False) -> torch.Tensor:
        return self.mel_scale(self.magnitude(wave, padded=padded)).clamp_min(LOG_FLOOR).log()


def reflect_pad(wave: np.ndarray, settings: MelSettings) -> np.ndarray:
    """``wave`` reflect-padded for the analysis, so any slice ``[a·hop, b·hop + n_fft - hop)``
    of the result gives exactly frames ``a..b-1`` of the whole file's mel."""
    return np.pad(wave, (settings.pad, settings.pad), mode="reflect")


# Reading conditions -----------------------------------------------------------------------

def read_mel_file(path: Path, settings: MelSettings) -> torch.Tensor:
    """A ``.npy`` mel-spectrogram (n_mels, frames) or (1, n_mels, frames), as float32
    (n_mels, frames); clear errors for the wrong number of bands or non-finite values."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise GankitError(f"{path}: not a .npy array numpy can read ({exc})") from None
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.floating):
        raise GankitError(f"{path}: a mel-spectrogram must be a float array (n_mels, frames), got {array.dtype} "
                          f"{tuple(array.shape)}")
    if array.shape[0] != settings.n_mels:
        hint = " (it looks transposed: save it as (n_mels, frames))" if array.shape[1] == settings.n_mels else ""
        raise GankitError(f"{path}: the mel-spectrogram has {array.shape[0]} bands; this run's mels have "
                          f"{settings.n_mels}{hint}")
    if array.shape[1] < 1:
        raise GankitError(f"{path}: the mel-spectrogram has no frames")
    if not np.isfinite(array).all():
        raise GankitError(f"{path}: the mel-spectrogram holds NaN or infinite values")
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def read_wave(path: Path, settings: MelSettings) -> tuple[np.ndarray, int]:
    """An audio file as float32 mono at the run's sample rate (resampled when it differs)
    and its own rate; clear errors for files that are not audio, hold NaN, are silent or
    too short to analyse."""
    from .io import read_mono, resample

    try:
        wave, rate = read_mono(path)
    except Exception as exc:  # soundfile raises several types for files it cannot decode
        raise GankitError(f"{path}: not an audio file soundfile can read (WAV/FLAC/OGG): "
                          f"{str(exc).strip() or type(exc).__name__}") from None
    if not np.isfinite(wave).all():
        raise GankitError(f"{path}: the audio holds NaN or infinite samples")
    if rate != settings.sample_rate and len(wave) > 1:
        wave = resample(wave, rate, settings.sample_rate)
    shortest = max(settings.hop, settings.pad + 1)
    if len(wave) < shortest:
        raise GankitError(f"{path}: {len(wave)} samples at {settings.sample_rate} Hz is too short to vocode; it needs "
                          f"at least {shortest} ({1000 * shortest / settings.sample_rate:.0f} ms)")
    if float(np.abs(wave).max()) < 1e-4:
        raise GankitError(f"{path}: the audio is silent (peak below -80 dBFS); there is nothing to resynthesise")
    return np.clip(wave, -1.0, 1.0).astype(np.float32, copy=False), rate


def read_conditions(path: Path, info: Any) -> Any:
    """The audio domain's ``read_conditions``: for a run with mel settings, the mel
    (1, n_mels, frames) of an audio file (resampled to the run's rate, brought to the level
    its data was normalised to) or of a ``.npy`` mel;
    for other runs, a ``.npy`` array (one condition per row) or a ``.npz`` of named arrays."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not has_mel_settings(info):
        try:
            if suffix == ".npy":
                return torch.from_numpy(np.load(path, allow_pickle=False))
            if suffix == ".npz":
                with np.load(path, allow_pickle=False) as arrays:
                    return {name: torch.from_numpy(arrays[name].copy()) for name in arrays.files}
        except (OSError, ValueError) as exc:
            raise GankitError(f"cannot read conditions from {str(path)!r}: {exc}") from None
        raise GankitError(f"{path}: this run's model does not generate from audio; conditions come from .npy "
                          f"(one row per sample) or .npz files")
    settings = settings_of(info)
    if suffix == ".npy":
        return read_mel_file(path, settings).unsqueeze(0)
    wave, _ = read_wave(path, settings)
    wave = np.clip(wave * level_gain(wave, info), -1.0, 1.0)
    with torch.no_grad():
        return LogMel(settings)(torch.from_numpy(pad_to_hop(wave, settings.hop))[None])


def pad_to_hop(wave: np.ndarray, hop: int) -> np.ndarray:
    """``wave`` zero-padded at the end to a whole number of frames (``ceil(T / hop)``)."""
    return np.pad(wave, (0, -len(wave) % hop))
