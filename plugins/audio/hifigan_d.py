"""HiFi-GAN's discriminators (Kong et al. 2020, section 2.2; jik876/hifi-gan models.py):
the multi-period discriminator (each sub-discriminator folds the waveform into a 2-D grid
of ``period`` columns and judges it with (5, 1) convolutions, so it sees every period-th
sample) and the multi-scale discriminator (MelGAN's: 1-D grouped convolutions on the raw
waveform and on 2× and 4× average-pooled copies, the first with spectral norm, the others
with weight norm).

The multi-resolution discriminator (UnivNet, Jang et al. 2021; Vocos, Siuzdak 2023,
vocos/discriminators.py ``DiscriminatorR``) judges the STFT magnitude at several resolutions
with 2-D convolutions over (frequency, time); HiFi-GAN has none by default, ``vocos`` uses
it in place of the multi-scale one.

:class:`HiFiGANDiscriminator` runs them on a batch and returns a
:class:`gankit.models.DiscriminatorOutput`: one logit tensor per sub-discriminator (periods
first, then resolutions, then scales; patch logits flattened to (N, K)) and every feature map, the output of
each convolution after its leaky ReLU and the final convolution's, which feature matching
compares. ``d_width`` scales every channel count (1: the paper's).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

from gankit.models import DiscriminatorOutput

LRELU_SLOPE = 0.1  # models.py: LRELU_SLOPE
PERIOD_CHANNELS = (32, 128, 512, 1024, 1024)  # DiscriminatorP
SCALE_LAYERS = (  # DiscriminatorS: (out channels, kernel, stride, groups)
    (128, 15, 1, 1), (128, 41, 2, 4), (256, 41, 2, 16), (512, 41, 4, 16), (1024, 41, 4, 16), (1024, 41, 1, 16),
    (1024, 5, 1, 1),
)


def _width(channels: int, scale: float) -> int:
    return max(1, int(round(channels * scale)))


class PeriodDiscriminator(nn.Module):
    """One sub-discriminator of the multi-period discriminator."""

    def __init__(self, period: int, width: float = 1.0, kernel: int = 5, stride: int = 3):
        super().__init__()
        self.period = period
        channels = [1, *(_width(c, width) for c in PERIOD_CHANNELS)]
        layers = []
        for i, (c_in, c_out) in enumerate(zip(channels[:-1], channels[1:])):
            last = i == len(PERIOD_CHANNELS) - 1
            layers.append(weight_norm(nn.Conv2d(c_in, c_out, (kernel, 1), (1 if last else stride, 1),
                                                padding=(kernel // 2, 0))))
        self.convs = nn.ModuleList(layers)
        self.post = weight_norm(nn.Conv2d(channels[-1], 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        n, c, t = x.shape
        if t % self.period:
            x = F.pad(x, (0, self.period - t % self.period), mode="reflect")
        return _run_layers(self.convs, self.post, x.view(n, c, -1, self.period))


class ScaleDiscriminator(nn.Module):
    """One sub-discriminator of the multi-scale discriminator."""

    def __init__(self, width: float = 1.0, spectral: bool = False):
        super().__init__()
        norm = spectral_norm if spectral else weight_norm
        layers, c_in = [], 1
        for channels, kernel, stride, groups in SCALE_LAYERS:
            c_out = _width(channels, width)
            groups = math.gcd(math.gcd(groups, c_in), c_out)  # narrow widths keep a valid grouping
            layers.append(norm(nn.Conv1d(c_in, c_out, kernel, stride, groups=groups, padding=kernel // 2)))
            c_in = c_out
        self.convs = nn.ModuleList(layers)
        self.post = norm(nn.Conv1d(c_in, 1, 3, 1, padding=1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return _run_layers(self.convs, self.post, x)


RESOLUTION_LAYERS = (  # DiscriminatorR: (kernel, stride) over (frequency, time), 64 channels each
    ((7, 5), (2, 2)), ((5, 3), (2, 1)), ((5, 3), (2, 2)), ((3, 3), (2, 1)), ((3, 3), (2, 2)),
)
RESOLUTION_CHANNELS = 64


class ResolutionDiscriminator(nn.Module):
    """One sub-discriminator of the multi-resolution discriminator: the magnitude STFT
    (``n_fft``, hop ``n_fft / 4``, Hann window, centred) as a one-channel image."""

    def __init__(self, n_fft: int, width: float = 1.0):
        super().__init__()
        self.n_fft = n_fft
        channels = _width(RESOLUTION_CHANNELS, width)
        layers, c_in = [], 1
        for kernel, stride in RESOLUTION_LAYERS:
            padding = (kernel[0] // 2, kernel[1] // 2)
            layers.append(weight_norm(nn.Conv2d(c_in, channels, kernel, stride, padding=padding)))
            c_in = channels
        self.convs = nn.ModuleList(layers)
        self.post = weight_norm(nn.Conv2d(channels, 1, (3, 3), 1, padding=(1, 1)))
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        spectrum = torch.stft(x[:, 0].float(), self.n_fft, self.n_fft // 4, window=self.window, center=True,
                              return_complex=True).abs()
        return _run_layers(self.convs, self.post, spectrum.unsqueeze(1).to(x.dtype))


def _run_layers(convs: nn.ModuleList, post: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A sub-discriminator's convolutions (LeakyReLU after each) and output layer: its
    flattened logits and every layer's output as a feature map."""
    features = []
    for conv in convs:
        x = F.leaky_relu(conv(x), LRELU_SLOPE)
        features.append(x)
    x = post(x)
    features.append(x)
    return x.flatten(1), features


class HiFiGANDiscriminator(nn.Module):
    """The multi-period and multi-scale discriminators as one module (HiFi-GAN trains both
    with one optimiser): ``forward(x, cond)`` ignores ``cond`` (HiFi-GAN's discriminators
    judge the waveform alone) and returns every head's logits and feature maps."""

    def __init__(self, periods: Sequence[int] = (2, 3, 5, 7, 11), scales: int = 3, width: float = 1.0,
                 resolutions: Sequence[int] = ()):
        super().__init__()
        self.periods = nn.ModuleList(PeriodDiscriminator(p, width) for p in periods)
        self.scales = nn.ModuleList(ScaleDiscriminator(width, spectral=i == 0) for i in range(scales))
        self.resolutions = nn.ModuleList(ResolutionDiscriminator(n, width) for n in resolutions)
        self.pool = nn.AvgPool1d(4, 2, padding=2)

    @property
    def head_names(self) -> list[str]:
        return ([f"period-{d.period}" for d in self.periods] + [f"resolution-{d.n_fft}" for d in self.resolutions]
                + [f"scale-{i}" for i in range(len(self.scales))])

    def forward(self, x: torch.Tensor, cond: Any = None) -> DiscriminatorOutput:
        logits, features = [], []
        for discriminator in self.periods:
            out, maps = discriminator(x)
            logits.append(out)
            features.extend(maps)
        for discriminator in self.resolutions:
            out, maps = discriminator(x)
            logits.append(out)
            features.extend(maps)
        for i, discriminator in enumerate(self.scales):
            if i:
                x = self.pool(x)
            out, maps = discriminator(x)
            logits.append(out)
            features.extend(maps)
        return DiscriminatorOutput(logits=tuple(logits), features=tuple(features))
