"""The ``vocos`` vocoder: a mel-spectrogram → waveform generator that works at the frame
rate and synthesises through the inverse STFT (Siuzdak 2023, "Vocos: Closing the gap
between time-domain and Fourier-based neural vocoders for high-quality audio synthesis";
the reference code gemelo-ai/vocos, models.py ``VocosBackbone`` and heads.py ``ISTFTHead``).

A 7-tap convolution embeds the mel bands, a stack of ConvNeXt blocks (depthwise 7-tap
convolution, layer norm, a pointwise MLP with GELU, layer scale) processes the frames, and a
linear head predicts each frame's log-magnitude and phase for ``n_fft / 2 + 1`` bins; the
inverse STFT (Hann window, "same" padding) turns them into exactly ``hop`` samples per frame,
the mel analysis's framing. No layer runs at the sample rate, so a step costs a fraction of
HiFi-GAN's: the upsampling is the FFT's.

The discriminators are :mod:`.hifigan_d`'s multi-period and multi-resolution ones; the
``mel_l1`` loss is HiFi-GAN's (:func:`.hifigan.build_mel_l1`, x45 in both papers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gankit.errors import GankitError
from gankit.models import Generator
from gankit.specs import DataInfo

from .hifigan_d import HiFiGANDiscriminator
from .melspec import MelSettings, settings_of
from .options import VocosOptions

INIT_STD = 0.02  # VocosBackbone._init_weights: trunc_normal_(std=0.02), bias 0
MAX_MAGNITUDE = 1e2  # ISTFTHead: mag.clip(max=1e2)


@dataclass(frozen=True)
class Size:
    """A backbone size: the paper's (``base``) and a small one for CPUs."""

    dim: int
    intermediate_dim: int
    layers: int


SIZES = {
    "base": Size(512, 1536, 8),  # configs/vocos.yaml: dim 512, intermediate_dim 1536, num_layers 8
    "cpu": Size(384, 1152, 8),  # gankit's: about half of base's cost per frame (benchmarks/quality_vocoder.md)
}


class ConvNeXtBlock(nn.Module):
    """``x + γ · MLP(norm(dwconv(x)))`` on (N, dim, frames)."""

    def __init__(self, dim: int, intermediate_dim: int, layer_scale: float):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).transpose(1, 2)
        y = self.pwconv2(F.gelu(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).transpose(1, 2)


class InverseSTFT(nn.Module):
    """Overlap-add of windowed inverse FFTs with "same" padding: ``frames`` spectra give
    ``frames · hop`` samples, aligned with an analysis that pads ``(n_fft - hop) / 2``
    samples each side (vocos/spectral_ops.py ``ISTFT(padding="same")``)."""

    def __init__(self, n_fft: int, hop: int, win: int):
        super().__init__()
        self.n_fft, self.hop, self.pad = n_fft, hop, (n_fft - hop) // 2
        window = torch.zeros(n_fft)
        start = (n_fft - win) // 2
        window[start:start + win] = torch.hann_window(win)
        self.register_buffer("window", window, persistent=False)

    def forward(self, spectrum: torch.Tensor) -> torch.Tensor:
        """(N, n_fft/2+1, frames) complex → (N, frames · hop) real."""
        frames = spectrum.shape[-1]
        pieces = torch.fft.irfft(spectrum, self.n_fft, dim=1) * self.window[None, :, None]
        length = (frames - 1) * self.hop + self.n_fft
        fold = dict(output_size=(1, length), kernel_size=(1, self.n_fft), stride=(1, self.hop))
        wave = F.fold(pieces, **fold)[:, 0, 0, self.pad:length - self.pad]
        envelope = F.fold(self.window.square()[None, :, None].expand(1, -1, frames), **fold)
        return wave / envelope[0, 0, 0, self.pad:length - self.pad].clamp_min(1e-11)


class VocosGenerator(Generator):
    """Mel (N, n_mels, frames) → waveform (N, 1, frames · hop)."""

    latent_dim = 0
    conditional = True

    def __init__(self, settings: MelSettings, size: Size):
        super().__init__()
        self.n_mels = settings.n_mels
        self.embed = nn.Conv1d(settings.n_mels, size.dim, 7, padding=3)
        self.norm = nn.LayerNorm(size.dim, eps=1e-6)
        self.blocks = nn.ModuleList(ConvNeXtBlock(size.dim, size.intermediate_dim, 1 / size.layers)
                                    for _ in range(size.layers))
        self.final_norm = nn.LayerNorm(size.dim, eps=1e-6)
        self.head = nn.Linear(size.dim, settings.n_fft + 2)
        self.istft = InverseSTFT(settings.n_fft, settings.hop, settings.win)
        # Frames on each side an output frame depends on (gankit vocode's chunk context): the
        # embedding's and each block's 7 taps, and the frames whose windows overlap it.
        self.context_frames = 3 + 3 * size.layers + -(-settings.n_fft // (2 * settings.hop))
        for module in self.modules():
            if isinstance(module, (nn.Conv1d, nn.Linear)):
                nn.init.trunc_normal_(module.weight, std=INIT_STD)
                nn.init.zeros_(module.bias)

    def forward(self, z: torch.Tensor | None = None, cond: Any = None) -> torch.Tensor:
        if not isinstance(cond, torch.Tensor) or cond.ndim != 3 or cond.shape[1] != self.n_mels:
            got = tuple(cond.shape) if isinstance(cond, torch.Tensor) else type(cond).__name__
            raise GankitError(f"the vocos generator takes mel-spectrograms (N, {self.n_mels}, frames), got {got}")
        x = self.norm(self.embed(cond).transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        log_magnitude, phase = self.head(self.final_norm(x.transpose(1, 2))).float().transpose(1, 2).chunk(2, dim=1)
        magnitude = log_magnitude.exp().clamp(max=MAX_MAGNITUDE)
        wave = self.istft(torch.complex(magnitude * phase.cos(), magnitude * phase.sin()))
        return wave.clamp(-1.0, 1.0).unsqueeze(1).to(cond.dtype)


def size_of(options: VocosOptions) -> Size:
    size = SIZES[options.size]
    return Size(options.dim or size.dim, options.intermediate_dim or size.intermediate_dim,
                options.layers or size.layers)


def build(options: VocosOptions, info: DataInfo) -> tuple[VocosGenerator, HiFiGANDiscriminator]:
    """The generator and discriminator for a run whose data carries mel settings."""
    settings = settings_of(info, "the dataset")
    if info.shape != (1, info.shape[-1]) or info.shape[-1] % settings.hop:
        raise GankitError(f"model 'vocos' needs mono segments whose length is a multiple of the hop "
                          f"({settings.hop}); the data's samples are {tuple(info.shape)}")
    return (VocosGenerator(settings, size_of(options)),
            HiFiGANDiscriminator(options.periods, 0, options.d_width, resolutions=options.resolutions))
