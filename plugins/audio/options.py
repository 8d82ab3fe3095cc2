"""Options of the audio plugin's model and datasets.

Kept free of torch/numpy imports: the registry reads these schemas to build ``--help``.

The engine passes ``-o KEY VALUE`` to every spec that declares ``KEY``. Clip length and
sample rate are therefore declared by the datasets only: the model reads them from the
dataset's ``DataInfo`` (``info.shape`` and ``info.sample_rate``), so ``-o length 4096``
or ``-o sample_rate 8000`` sets the data and the model follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gankit.options import check_bounds, option

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
MIN_SAMPLE_RATE = 1000
NORMALIZE_HELP = "scale each clip so its peak is 0.95"
TRIM_HELP = "cut leading and trailing silence (below -40 dB of the file's peak) first"


@dataclass(frozen=True)
class WaveGANOptions:
    """Options of the ``wavegan`` model (Donahue et al. 2019)."""

    width: int = option(64, "WaveGAN's model size d: channels grow d, 2d, 4d, ... per layer", ge=1)
    latent_dim: int = option(100, "size of the generator's standard-normal latent vector", ge=1)
    phase_shuffle: int = option(
        2, "phase shuffle radius n in D: each layer's output shifted by -n..n samples; 0: off", ge=0
    )
    conditional: bool = option(False, "label embedding in G and a projection discriminator (needs a labelled dataset)")
    spectral_d: bool = option(
        False,
        "add a spectral branch to D: log-power STFT frames through 1-D convolutions over time; its logit is added to "
        "the waveform branch's",
    )
    spectral_window_ms: int = option(
        32, "window of the spectral branch in ms (the FFT size is the nearest power of two; hop: a quarter of it)", ge=1
    )

    def __post_init__(self) -> None:
        check_bounds(self)


@dataclass(frozen=True)
class TonesOptions:
    """Options of the embedded procedural ``tones`` dataset."""

    count: int = option(1000, "number of clips to synthesise", ge=1)
    sample_rate: int = option(16000, "samples per second", ge=1)
    length: int = option(16384, "samples per clip", ge=64)
    classes: int = option(12, "pitch classes (labels): semitones 0..classes-1 above base_frequency", ge=1)
    octaves: int = option(2, "each note is played in one of this many octaves", ge=1)
    base_frequency: float = option(220.0, "frequency of pitch class 0 in the lowest octave (Hz)", gt=0)
    harmonics: int = option(6, "at most this many partials per note; 1: pure sine tones", ge=1)
    normalize: bool = option(False, NORMALIZE_HELP)
    data_seed: int = option(0, "seed of the synthesis (independent of --seed); the same seed gives the same clips")

    def __post_init__(self) -> None:
        check_bounds(self)
        if self.classes > 12:
            raise ValueError(f"classes are pitch classes (semitones of an octave): at most 12, got {self.classes}")
        top = self.base_frequency * 2 ** ((self.classes - 1) / 12 + self.octaves - 1)
        if top >= self.sample_rate / 2:
            raise ValueError(
                f"the highest note ({top:.0f} Hz) must lie below the Nyquist frequency ({self.sample_rate / 2:.0f} Hz); "
                f"lower base_frequency or octaves, or raise sample_rate"
            )


@dataclass(frozen=True)
class FolderOptions:
    """Options of the ``folder`` dataset (any folder of WAV/FLAC/OGG files)."""

    sample_rate: int = option(16000, "files are resampled to this rate (Hz)", ge=MIN_SAMPLE_RATE)
    length: int = option(16384, "samples per clip: longer files are cropped, shorter zero-padded", ge=1)
    crop: Literal["random", "center", "start"] = option(
        "start", "which part of a longer file to keep (random: drawn once at load time from data_seed)"
    )
    trim_silence: bool = option(False, TRIM_HELP)
    label_pattern: str | None = option(
        None,
        "regular expression on the file name whose first group is the label, e.g. ^(\\d+)_; default: labels from "
        "sub-folder names",
    )
    normalize: bool = option(False, NORMALIZE_HELP)
    data_seed: int = option(0, "seed of the random crops")

    def __post_init__(self) -> None:
        check_bounds(self)
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

    sample_rate: int = option(8000, "files are resampled to this rate (Hz; FSDD is 8000)", ge=MIN_SAMPLE_RATE)
    length: int = option(8192, "samples per clip: the first slice, zero-padded (WaveGAN's SC09 recipe)", ge=1)
    trim_silence: bool = option(False, TRIM_HELP)
    normalize: bool = option(False, NORMALIZE_HELP)

    def __post_init__(self) -> None:
        check_bounds(self)
