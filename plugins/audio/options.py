"""Options of the audio plugin's model and datasets.

Kept free of torch/numpy imports: the registry reads these schemas to build ``--help``.

The engine passes ``-o KEY VALUE`` to every spec that declares ``KEY``. Clip length and
sample rate are therefore declared by the datasets only: the model reads them from the
dataset's ``DataInfo`` (``info.shape`` and ``info.sample_rate``), so ``-o length 4096``
or ``-o sample_rate 8000`` sets the data and the model follows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


@dataclass(frozen=True)
class WaveGANOptions:
    """Options of the ``wavegan`` model (Donahue et al. 2019)."""

    width: int = field(default=64, metadata={"help": "WaveGAN's model size d: channels grow d, 2d, 4d, ... per layer"})
    latent_dim: int = field(default=100, metadata={"help": "size of the generator's standard-normal latent vector"})
    phase_shuffle: int = field(
        default=2, metadata={"help": "phase shuffle radius n in D: each layer's output shifted by -n..n samples; 0: off"}
    )
    conditional: bool = field(
        default=False,
        metadata={"help": "label embedding in G and a projection discriminator (needs a labelled dataset)"},
    )
    spectral_d: bool = field(
        default=False,
        metadata={"help": "add a spectral branch to D: log-power STFT frames through 1-D convolutions over time; "
                          "its logit is added to the waveform branch's"},
    )
    spectral_window_ms: int = field(
        default=32,
        metadata={"help": "window of the spectral branch in ms (the FFT size is the nearest power of two; hop: a "
                          "quarter of it)"},
    )

    def __post_init__(self) -> None:
        _positive("width", self.width)
        _positive("latent_dim", self.latent_dim)
        _positive("spectral_window_ms", self.spectral_window_ms)
        if isinstance(self.phase_shuffle, bool) or not isinstance(self.phase_shuffle, int) or self.phase_shuffle < 0:
            raise ValueError(f"phase_shuffle must be an integer >= 0, got {self.phase_shuffle!r}")


@dataclass(frozen=True)
class TonesOptions:
    """Options of the embedded procedural ``tones`` dataset."""

    count: int = field(default=1000, metadata={"help": "number of clips to synthesise"})
    sample_rate: int = field(default=16000, metadata={"help": "samples per second"})
    length: int = field(default=16384, metadata={"help": "samples per clip"})
    classes: int = field(
        default=12, metadata={"help": "pitch classes (labels): semitones 0..classes-1 above base_frequency"}
    )
    octaves: int = field(default=2, metadata={"help": "each note is played in one of this many octaves"})
    base_frequency: float = field(default=220.0, metadata={"help": "frequency of pitch class 0 in the lowest octave (Hz)"})
    harmonics: int = field(default=6, metadata={"help": "at most this many partials per note; 1: pure sine tones"})
    normalize: bool = field(default=False, metadata={"help": "scale each clip so its peak is 0.95"})
    data_seed: int = field(
        default=0, metadata={"help": "seed of the synthesis (independent of --seed); the same seed gives the same clips"}
    )

    def __post_init__(self) -> None:
        for name in ("count", "sample_rate", "length", "classes", "octaves", "harmonics"):
            _positive(name, getattr(self, name))
        if self.classes > 12:
            raise ValueError(f"classes are pitch classes (semitones of an octave): at most 12, got {self.classes}")
        if self.length < 64:
            raise ValueError(f"length must be at least 64 samples, got {self.length}")
        top = self.base_frequency * 2 ** ((self.classes - 1) / 12 + self.octaves - 1)
        if not 0 < self.base_frequency or top >= self.sample_rate / 2:
            raise ValueError(
                f"the highest note ({top:.0f} Hz) must lie below the Nyquist frequency ({self.sample_rate / 2:.0f} Hz); "
                f"lower base_frequency or octaves, or raise sample_rate"
            )


@dataclass(frozen=True)
class FolderOptions:
    """Options of the ``folder`` dataset (any folder of WAV/FLAC/OGG files)."""

    sample_rate: int = field(default=16000, metadata={"help": "files are resampled to this rate (Hz)"})
    length: int = field(default=16384, metadata={"help": "samples per clip: longer files are cropped, shorter zero-padded"})
    crop: Literal["random", "center", "start"] = field(
        default="start",
        metadata={"help": "which part of a longer file to keep (random: drawn once at load time from data_seed)"},
    )
    trim_silence: bool = field(
        default=False, metadata={"help": "cut leading and trailing silence (below -40 dB of the file's peak) first"}
    )
    label_pattern: str | None = field(
        default=None,
        metadata={"help": "regular expression on the file name whose first group is the label, e.g. ^(\\d+)_; "
                          "default: labels from sub-folder names"},
    )
    normalize: bool = field(default=False, metadata={"help": "scale each clip so its peak is 0.95"})
    data_seed: int = field(default=0, metadata={"help": "seed of the random crops"})

    def __post_init__(self) -> None:
        _check_rate_and_length(self.sample_rate, self.length)
        if self.crop not in ("random", "center", "start"):
            raise ValueError(f"crop must be random, center or start, got {self.crop!r}")
        if self.label_pattern is not None:
            import re

            try:
                re.compile(self.label_pattern)
            except re.error as exc:
                raise ValueError(f"label_pattern {self.label_pattern!r} is not a regular expression: {exc}") from None


@dataclass(frozen=True)
class FSDDOptions:
    """Options of the ``fsdd`` dataset (Free Spoken Digit Dataset recordings)."""

    sample_rate: int = field(default=8000, metadata={"help": "files are resampled to this rate (Hz; FSDD is 8000)"})
    length: int = field(
        default=8192, metadata={"help": "samples per clip: the first slice, zero-padded (WaveGAN's SC09 recipe)"}
    )
    trim_silence: bool = field(
        default=False, metadata={"help": "cut leading and trailing silence (below -40 dB of the file's peak) first"}
    )
    normalize: bool = field(default=False, metadata={"help": "scale each clip so its peak is 0.95"})

    def __post_init__(self) -> None:
        _check_rate_and_length(self.sample_rate, self.length)


def _check_rate_and_length(sample_rate: int, length: int) -> None:
    _positive("sample_rate", sample_rate)
    _positive("length", length)
    if sample_rate < 1000:
        raise ValueError(f"sample_rate must be at least 1000 Hz, got {sample_rate}")


def _positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
