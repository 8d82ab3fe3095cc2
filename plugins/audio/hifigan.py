"""The ``hifigan`` vocoder: a mel-spectrogram → waveform generator (Kong et al. 2020,
"HiFi-GAN: Generative Adversarial Networks for Efficient and High Fidelity Speech
Synthesis"; the reference code jik876/hifi-gan, models.py and config_v1/v2/v3.json).

The generator is deterministic (``latent_dim = 0``) and conditioned on the mel
(``conditional = True``): a 7-tap convolution from the mel bands to
``upsample_initial_channel`` channels, then per upsampling factor a leaky ReLU (0.1), a
transposed convolution (kernel twice the factor) that halves the channels, and a
multi-receptive-field fusion (the mean of residual blocks with different kernels and
dilations); finally a leaky ReLU, a 7-tap convolution to one channel and tanh. Every
convolution has weight norm, as in the paper. ``T / hop`` frames give ``T`` samples, so the
factors' product must be the mel hop (checked when the model is built).

The discriminators are :mod:`.hifigan_d`'s; the auxiliary loss ``mel_l1`` is the L1
distance between the log-mels of the fake and the real waveforms, computed with the run's
mel settings up to ``fmax_loss`` (train.py: ``F.l1_loss(y_mel, y_g_hat_mel) * 45``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from gankit.errors import GankitError
from gankit.models import Generator
from gankit.specs import DataInfo

from .hifigan_d import LRELU_SLOPE, HiFiGANDiscriminator
from .melspec import LogMel, MelSettings, settings_of
from .options import HiFiGANOptions

INIT_STD = 0.01  # utils.init_weights: normal(0, 0.01)


@dataclass(frozen=True)
class Size:
    """A generator size: HiFi-GAN's config_v1/v2/v3.json, and a small one for CPUs."""

    upsample_rates: tuple[int, ...]
    upsample_initial_channel: int
    resblock: int  # 1: ResBlock1 (two convolutions per dilation), 2: ResBlock2 (one)
    kernels: tuple[int, ...]
    dilations: tuple[tuple[int, ...], ...]


RESBLOCK1 = dict(resblock=1, kernels=(3, 7, 11), dilations=((1, 3, 5), (1, 3, 5), (1, 3, 5)))
RESBLOCK2 = dict(resblock=2, kernels=(3, 5, 7), dilations=((1, 2), (2, 6), (3, 12)))
SIZES = {
    "v1": Size((8, 8, 2, 2), 512, **RESBLOCK1),  # config_v1.json
    "v2": Size((8, 8, 2, 2), 128, **RESBLOCK1),  # config_v2.json
    "v3": Size((8, 8, 4), 256, **RESBLOCK2),  # config_v3.json
    "cpu": Size((8, 4, 4), 64, **RESBLOCK2),  # gankit's: hop 128 (16 ms at 8 kHz), a fifth of v3's cost per sample
}


def _conv(c_in: int, c_out: int, kernel: int, dilation: int = 1) -> nn.Module:
    conv = nn.Conv1d(c_in, c_out, kernel, 1, dilation=dilation, padding=dilation * (kernel - 1) // 2)
    nn.init.normal_(conv.weight, 0.0, INIT_STD)
    return weight_norm(conv)


class ResBlock(nn.Module):
    """A residual block of the multi-receptive-field fusion: per dilation
    ``x += conv(lrelu(x))`` (ResBlock2) or ``x += conv(lrelu(conv_d(lrelu(x))))`` (ResBlock1)."""

    def __init__(self, channels: int, kernel: int, dilations: Sequence[int], kind: int):
        super().__init__()
        self.dilated = nn.ModuleList(_conv(channels, channels, kernel, d) for d in dilations)
        self.plain = nn.ModuleList(_conv(channels, channels, kernel) for _ in dilations) if kind == 1 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, conv in enumerate(self.dilated):
            step = conv(F.leaky_relu(x, LRELU_SLOPE))
            if self.plain is not None:
                step = self.plain[i](F.leaky_relu(step, LRELU_SLOPE))
            x = x + step
        return x


class HiFiGANGenerator(Generator):
    """Mel (N, n_mels, frames) → waveform (N, 1, frames · hop) in [-1, 1]."""

    latent_dim = 0
    conditional = True

    def __init__(self, n_mels: int, size: Size):
        super().__init__()
        self.hop = math.prod(size.upsample_rates)
        self.n_mels = n_mels
        channels = size.upsample_initial_channel
        self.pre = _conv(n_mels, channels, 7)
        self.ups = nn.ModuleList()
        self.fusions = nn.ModuleList()
        for i, rate in enumerate(size.upsample_rates):
            c_in, c_out = channels // 2 ** i, max(1, channels // 2 ** (i + 1))
            kernel = 2 * rate + rate % 2  # twice the factor (models.py), odd factors one more so T/hop frames give T
            up = nn.ConvTranspose1d(c_in, c_out, kernel, rate, padding=(kernel - rate) // 2)
            nn.init.normal_(up.weight, 0.0, INIT_STD)
            self.ups.append(weight_norm(up))
            self.fusions.append(nn.ModuleList(ResBlock(c_out, k, d, size.resblock)
                                              for k, d in zip(size.kernels, size.dilations)))
        self.post = _conv(c_out, 1, 7)

    def forward(self, z: torch.Tensor | None = None, cond: Any = None) -> torch.Tensor:
        if not isinstance(cond, torch.Tensor) or cond.ndim != 3 or cond.shape[1] != self.n_mels:
            got = tuple(cond.shape) if isinstance(cond, torch.Tensor) else type(cond).__name__
            raise GankitError(f"the hifigan generator takes mel-spectrograms (N, {self.n_mels}, frames), got {got}")
        x = self.pre(cond)
        for up, blocks in zip(self.ups, self.fusions):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            x = sum(block(x) for block in blocks) / len(blocks)
        return torch.tanh(self.post(F.leaky_relu(x)))  # models.py: the last leaky ReLU has torch's slope 0.01


def size_of(options: HiFiGANOptions) -> Size:
    """The generator size the options ask for (a named size, with its overrides)."""
    size = SIZES[options.size]
    rates = tuple(options.upsample_rates) if options.upsample_rates is not None else size.upsample_rates
    channels = options.upsample_initial_channel or size.upsample_initial_channel
    if channels < 2 ** len(rates):
        raise GankitError(f"model 'hifigan': upsample_initial_channel {channels} is halved {len(rates)} times; "
                          f"give at least {2 ** len(rates)}")
    return Size(rates, channels, size.resblock, size.kernels, size.dilations)


def build(options: HiFiGANOptions, info: DataInfo) -> tuple[HiFiGANGenerator, HiFiGANDiscriminator]:
    """The generator and discriminator for a run whose data carries mel settings."""
    settings = settings_of(info, "the dataset")
    size = size_of(options)
    product = math.prod(size.upsample_rates)
    if product != settings.hop:
        rates = "·".join(map(str, size.upsample_rates))
        raise GankitError(f"model 'hifigan': the generator upsamples by {rates} = {product} samples per frame, but "
                          f"the mel hop is {settings.hop}; set -o upsample_rates to factors whose product is "
                          f"{settings.hop} (e.g. {suggest_rates(settings.hop)}) or -o hop {product}")
    if info.shape != (1, info.shape[-1]) or info.shape[-1] % settings.hop:
        raise GankitError(f"model 'hifigan' needs mono segments whose length is a multiple of the hop "
                          f"({settings.hop}); the data's samples are {tuple(info.shape)}")
    return (HiFiGANGenerator(settings.n_mels, size),
            HiFiGANDiscriminator(options.periods, options.scales, options.d_width))


def suggest_rates(hop: int) -> str:
    """Upsampling factors for a hop: factors of 8, then 4, 2, 3, 5 and 7, then what is left."""
    rates, left = [], hop
    for factor in (8, 4, 2, 3, 5, 7):
        while left % factor == 0 and left > 1:
            rates.append(factor)
            left //= factor
    if left > 1:
        rates.append(left)
    return ",".join(map(str, rates or [1]))


def build_mel_l1(model_options: Any, dataset_options: Any, info: DataInfo) -> Callable[..., torch.Tensor]:
    """The ``mel_l1`` auxiliary loss: L1 between the log-mels (up to ``fmax_loss``) of the
    fake and the real waveforms."""
    return MelL1(settings_of(info, "the dataset"))


class MelL1(nn.Module):
    """``loss(real, fake, cond)``: mean |log-mel(fake) − log-mel(real)|."""

    def __init__(self, settings: MelSettings):
        super().__init__()
        self.mel = LogMel(settings, for_loss=True)

    def forward(self, real: torch.Tensor, fake: torch.Tensor, cond: Any = None) -> torch.Tensor:
        with torch.no_grad():
            target = self.mel(real)
        return F.l1_loss(self.mel(fake), target)
