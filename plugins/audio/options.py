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
    latent_dim: int = option(100, "size of the generator's latent vector", ge=1)
    latent: Literal["uniform", "normal"] = option(
        "uniform", "distribution of each latent entry: uniform on [-1, 1] (the paper's) or normal N(0, 1)"
    )
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
        if self.latent not in ("uniform", "normal"):
            raise ValueError(f"latent must be uniform or normal, got {self.latent!r}")


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


# The vocoder: the ``hifigan`` model and the ``mel`` dataset ---------------------------------
#
# HiFi-GAN (Kong et al. 2020) and its reference code, jik876/hifi-gan: config_v1.json,
# config_v2.json, config_v3.json, meldataset.py and train.py. Each default below names the
# line of that recipe it comes from.

HIFIGAN_SIZES = ("v1", "v2", "v3", "cpu")


@dataclass(frozen=True)
class HiFiGANOptions:
    """Options of the ``hifigan`` model (Kong et al. 2020). Its mel settings (sample rate,
    n_fft, hop, window, bands, fmin/fmax) are the ``mel`` dataset's options: the model reads
    them from the run's ``DataInfo.extra``."""

    size: Literal["v1", "v2", "v3", "cpu"] = option(
        "v1",
        "generator size: v1 (512 channels, ResBlock1), v2 (128, ResBlock1), v3 (256, ResBlock2, upsampling 8,8,4) as "
        "in HiFi-GAN's config_v1/v2/v3.json; cpu: 64 channels, ResBlock2, for a few CPU-minutes",
    )
    upsample_rates: tuple[int, ...] | None = option(
        None, "the generator's upsampling factors, comma-separated; their product must be the hop "
              "(kernel sizes: twice each factor); default: the size's (v1/v2: 8,8,2,2; v3: 8,8,4)"
    )
    upsample_initial_channel: int | None = option(
        None, "channels after the first convolution, halved by each upsampling; default: the size's", ge=1)
    periods: tuple[int, ...] = option((2, 3, 5, 7, 11),
                                      "periods of the multi-period discriminator (HiFi-GAN: 2,3,5,7,11)")
    scales: int = option(3, "sub-discriminators of the multi-scale discriminator, each on a 2x average-pooled input "
                            "(HiFi-GAN: 3, the first with spectral norm)", ge=0)
    d_width: float = option(1.0, "channel multiplier of both discriminators (1: HiFi-GAN's 32..1024 and 128..1024 "
                                 "channels)", gt=0, le=1)

    def __post_init__(self) -> None:
        check_bounds(self)
        if self.size not in HIFIGAN_SIZES:
            raise ValueError(f"size must be one of {', '.join(HIFIGAN_SIZES)}, got {self.size!r}")
        if self.upsample_rates is not None and (not self.upsample_rates or min(self.upsample_rates) < 1):
            raise ValueError(f"upsample_rates must be positive integers, got {self.upsample_rates}")
        if any(p < 2 for p in self.periods):
            raise ValueError(f"periods must be integers of at least 2, got {self.periods}")
        if not self.periods and self.scales == 0:
            raise ValueError("the discriminator needs at least one period or one scale")


VOCOS_SIZES = ("base", "cpu")


@dataclass(frozen=True)
class VocosOptions:
    """Options of the ``vocos`` model (Siuzdak 2023). Like ``hifigan`` it takes its mel
    settings from the ``mel`` dataset; the inverse STFT uses the analysis's n_fft, window and hop."""

    size: Literal["base", "cpu"] = option(
        "base", "backbone size: base (dim 512, MLP 1536, 8 ConvNeXt blocks: vocos's configs/vocos.yaml); "
                "cpu: dim 384, MLP 1152, 8 blocks")
    dim: int | None = option(None, "channels of the ConvNeXt backbone; default: the size's", ge=1)
    intermediate_dim: int | None = option(None, "hidden width of each block's MLP; default: the size's", ge=1)
    layers: int | None = option(None, "ConvNeXt blocks; default: the size's", ge=1)
    periods: tuple[int, ...] = option((2, 3, 5, 7, 11),
                                      "periods of the multi-period discriminator (vocos: HiFi-GAN's 2,3,5,7,11)")
    resolutions: tuple[int, ...] = option(
        (1024, 2048, 512), "FFT sizes of the multi-resolution discriminator, hop a quarter of each (vocos: "
                           "1024, 2048, 512 at 24 kHz)")
    d_width: float = option(1.0, "channel multiplier of both discriminators (1: the papers' channels)", gt=0, le=1)

    def __post_init__(self) -> None:
        check_bounds(self)
        if self.size not in VOCOS_SIZES:
            raise ValueError(f"size must be one of {', '.join(VOCOS_SIZES)}, got {self.size!r}")
        if any(p < 2 for p in self.periods):
            raise ValueError(f"periods must be integers of at least 2, got {self.periods}")
        if any(n < 8 for n in self.resolutions):
            raise ValueError(f"resolutions are FFT sizes of at least 8, got {self.resolutions}")
        if not self.periods and not self.resolutions:
            raise ValueError("the discriminator needs at least one period or one resolution")


@dataclass(frozen=True)
class MelOptions:
    """Options of the ``mel`` dataset: random segments of any audio folder with their
    log-mel spectrograms (HiFi-GAN's meldataset.py), and the mel settings stored with the run."""

    sample_rate: int = option(22050, "files are resampled to this rate (Hz; HiFi-GAN: 22050, LJSpeech)",
                              ge=MIN_SAMPLE_RATE)
    n_fft: int = option(1024, "FFT size of the mel analysis (HiFi-GAN: 1024)", ge=16)
    hop: int = option(256, "samples per mel frame; the generator's upsampling product (HiFi-GAN: 256)", ge=1)
    win: int = option(1024, "Hann window length, at most n_fft (HiFi-GAN: 1024)", ge=2)
    n_mels: int = option(80, "mel bands (HiFi-GAN: 80)", ge=1)
    fmin: float = option(0.0, "lowest mel frequency in Hz (HiFi-GAN: 0)", ge=0)
    fmax: float | None = option(8000.0, "highest mel frequency of the input mels in Hz (HiFi-GAN: 8000); "
                                        "none: half the sample rate", gt=0)
    fmax_loss: float | None = option(None, "highest frequency of the mel L1 loss (HiFi-GAN's fmax_for_loss: none, "
                                           "half the sample rate)", gt=0)
    segment: int = option(8192, "samples per training segment, a multiple of hop (HiFi-GAN: 8192)", ge=1)
    normalize: bool = option(True, "scale each file so its peak is 0.95 (HiFi-GAN's meldataset.py)")
    split: Literal["auto", "all"] = option(
        "auto", "auto: FSDD file names ({digit}_{speaker}_{take}.wav) use FSDD's split (takes 0-4 validation, 5-49 "
                "training), other folders hold out validation_share of the files; all: train on every file")
    validation_share: float = option(0.0, "share of a non-FSDD folder's files held out for validation (seeded by "
                                          "data_seed); 0: none, evaluate on another folder", ge=0, lt=1)
    holdout_speaker: str | None = option(None, "leave this FSDD speaker (e.g. theo) out of training, for tests on a "
                                               "voice the model has not heard")
    data_seed: int = option(0, "seed of the validation files of a non-FSDD folder")

    def __post_init__(self) -> None:
        check_bounds(self)
        rate = self.sample_rate
        if self.split not in ("auto", "all"):
            raise ValueError(f"split must be auto or all, got {self.split!r}")
        if self.win > self.n_fft:
            raise ValueError(f"win ({self.win}) must not exceed n_fft ({self.n_fft})")
        if self.hop > self.n_fft or (self.n_fft - self.hop) % 2:
            raise ValueError(f"hop ({self.hop}) must be at most n_fft ({self.n_fft}) and n_fft - hop even (the "
                             f"analysis pads (n_fft - hop) / 2 samples each side, as HiFi-GAN does)")
        if self.segment % self.hop:
            raise ValueError(f"segment ({self.segment}) must be a multiple of hop ({self.hop}); "
                             f"e.g. {max(1, self.segment // self.hop) * self.hop}")
        for name, value in (("fmax", self.fmax), ("fmax_loss", self.fmax_loss)):
            if value is not None and not self.fmin < value <= rate / 2:
                raise ValueError(f"{name} ({value:g} Hz) must lie above fmin ({self.fmin:g}) and at most half the "
                                 f"sample rate ({rate / 2:g} Hz)")
