"""The ``wavegan`` model: WaveGAN (Donahue, McAuley & Puckette 2019, "Adversarial Audio
Synthesis"), DCGAN flattened to one dimension for raw waveforms.

Generator: z → dense → (base length × 8d·...) → transposed convolutions (kernel 25, stride
4, ReLU) that each multiply the length by 4 → tanh. Discriminator: strided convolutions
(kernel 25, stride 4, LeakyReLU 0.2) with phase shuffle after every layer but the last →
dense. The paper's 16384-sample model is the five-layer case; the number of layers is
derived from the clip length, which must be 16·4^k or 32·4^k (a power of two ≥ 256):
4096 → 4 layers from 16 samples, 8192 → 4 layers from 32, 16384 → 5 layers from 16.

``-o spectral_d true`` gives D a second branch that reads log-power STFT frames; its logit
is added to the waveform branch's (``SpectralBranch``; off by default and in the presets:
benchmarks/quality_audio.md measures why).
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.errors import GankitError
from gankit.models import Generator
from gankit.specs import DataInfo

from .classifier import window_size
from .options import WaveGANOptions

KERNEL = 25
STRIDE = 4
PADDING = 11  # keeps each convolution at exactly ×4 / ÷4 with kernel 25


def layout(length: int) -> tuple[int, int]:
    """``(layers, base)`` for a clip of ``length`` samples: ``length == base * 4**layers``
    with ``base`` 16 or 32 and at least two layers."""
    if length >= 256 and length & (length - 1) == 0:
        layers = (length.bit_length() - 1 - 4) // 2
        return layers, length // STRIDE**layers
    raise GankitError(
        f"model 'wavegan' needs a clip length of 16·4^k or 32·4^k samples (a power of two, at least 256: "
        f"4096, 8192, 16384, 32768, 65536, ...); the dataset gives {length}: set -o length"
    )


class PhaseShuffle(nn.Module):
    """Shift each sample's feature map in time by a random ``-n..n`` steps, filling the edge
    by reflection (WaveGAN's phase shuffle): D cannot key on the exact phase of the
    periodic artefacts transposed convolutions leave. Identity in eval mode and for n=0.
    Each sample in the batch draws its own shift."""

    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.n == 0:
            return x
        batch, _channels, length = x.shape
        n = self.n
        shifts = self.shifts(batch, x.device)
        padded = nn.functional.pad(x, (n, n), mode="reflect")
        # out[t] = x[t - shift] = padded[t - shift + n]
        index = torch.arange(length, device=x.device).view(1, 1, length) - shifts + n
        return torch.gather(padded, 2, index.expand(batch, x.shape[1], length))

    def shifts(self, batch: int, device: torch.device) -> torch.Tensor:
        """One shift in ``-n..n`` per sample, ``(batch, 1, 1)``, from torch's global RNG
        (which the engine seeds per process under torchrun, and checkpoints)."""
        return torch.randint(-self.n, self.n + 1, (batch, 1, 1), device=device)

    def extra_repr(self) -> str:
        return f"n={self.n}"


class WaveGANGenerator(Generator):
    """z (and a label embedding, when conditional) → dense → ReLU → [transposed conv → ReLU]
    × (layers - 1) → transposed conv → tanh, giving ``(N, 1, length)`` in [-1, 1].

    ``z`` is uniform on [-1, 1]^latent_dim, as in the paper (Donahue et al. 2019, its table of
    hyperparameters), or N(0, 1) with ``-o latent normal``. The state dict records which
    (``uniform_latent``), so weights keep the latent they were trained with: a checkpoint
    saved before the choice existed has no entry and was trained on N(0, 1)."""

    def __init__(self, length: int, options: WaveGANOptions = WaveGANOptions(), num_classes: int = 0):
        super().__init__()
        layers, base = layout(length)
        self.latent_dim = options.latent_dim
        self.num_classes = num_classes
        self.length = length
        d = options.width
        channels = [d * 2 ** (layers - 1 - i) for i in range(layers)] + [1]  # 8d 4d 2d d 1 for 4 layers
        self.base = base
        self.embed = nn.Embedding(num_classes, options.latent_dim) if num_classes else None
        inputs = options.latent_dim * (2 if num_classes else 1)
        self.fc = nn.Linear(inputs, base * channels[0])
        blocks: list[nn.Module] = []
        for i in range(layers):
            blocks.append(nn.ConvTranspose1d(channels[i], channels[i + 1], KERNEL, STRIDE, PADDING, output_padding=1))
            blocks.append(nn.ReLU() if i < layers - 1 else nn.Tanh())
        self.net = nn.Sequential(*blocks)
        self.channels0 = channels[0]
        self.uniform = options.latent == "uniform"
        self.register_buffer("uniform_latent", torch.tensor(self.uniform))

    def sample_latent(self, n: int, *, device: torch.device | str = "cpu",
                      generator: torch.Generator | None = None) -> torch.Tensor:
        if self.uniform:
            return torch.rand(n, self.latent_dim, device=device, generator=generator).mul_(2).sub_(1)
        return torch.randn(n, self.latent_dim, device=device, generator=generator)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[no-untyped-def]
        key = prefix + "uniform_latent"
        state_dict.setdefault(key, torch.tensor(False))  # saved before the choice existed: trained on N(0, 1)
        self.uniform = bool(state_dict[key])  # read once here, never per step
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            if labels is None:
                raise GankitError("this wavegan is conditional: pass labels to the generator")
            z = torch.cat([z, self.embed(labels)], dim=1)
        x = torch.relu(self.fc(z)).view(z.shape[0], self.channels0, self.base)
        return self.net(x)


def stft_frames(sample_rate: int, window_ms: int) -> tuple[int, int]:
    """``(n_fft, hop)`` of the spectral branch: the classifier's FFT size rule at
    ``window_ms``, and 75% overlap."""
    n_fft = window_size(sample_rate, window_ms)
    return n_fft, n_fft // 4


class SpectralBranch(nn.Module):
    """A second view of the clip for D: log-power STFT frames (Hann windows of ``window_ms``,
    75% overlap), frequency bins as channels, through strided 1-D convolutions over time.

    The waveform branch must learn its own filterbank before it can see harmonics and
    formants; this branch sees them from the first step, so its gradient tells G about the
    spectral fine structure of voiced speech early (the idea of the multi-resolution
    spectrogram discriminators of UnivNet and later vocoders, here at one resolution).
    ``log(power + floor)`` is smooth at silence, so R1 and the gradient penalty stay finite
    on zero-padded clips."""

    FLOOR = 1e-4

    def __init__(self, length: int, sample_rate: int, width: int, window_ms: int = 32):
        super().__init__()
        self.n_fft, self.hop = stft_frames(sample_rate, window_ms)
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)
        channels = [self.n_fft // 2 + 1, 4 * width, 4 * width, 8 * width, 8 * width]
        frames = length // self.hop + 1
        blocks: list[nn.Module] = []
        for i in range(len(channels) - 1):
            stride = 1 if i == 0 else 2
            blocks += [nn.Conv1d(channels[i], channels[i + 1], 5, stride, 2), nn.LeakyReLU(0.2)]
            frames = (frames - 1) // stride + 1
        self.net = nn.Sequential(*blocks)
        self.fc = nn.Linear(channels[-1] * frames, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(x.squeeze(1).float(), self.n_fft, self.hop, window=self.window, center=True,
                          pad_mode="constant", return_complex=True)
        power = spec.real.square() + spec.imag.square()
        h = torch.log(power + self.FLOOR).to(x.dtype)
        return self.fc(self.net(h).flatten(1)).squeeze(1)


class WaveGANDiscriminator(nn.Module):
    """``(N, 1, length)`` → [conv → LeakyReLU(0.2) → phase shuffle] × (layers - 1) → conv →
    LeakyReLU → flatten → dense: one raw logit per sample. Conditional: a projection
    discriminator (Miyato & Koyama 2018) adds ``<embed(y), features>`` to the logit."""

    def __init__(self, length: int, options: WaveGANOptions = WaveGANOptions(), num_classes: int = 0,
                 sample_rate: int = 16000):
        super().__init__()
        layers, base = layout(length)
        self.num_classes = num_classes
        d = options.width
        self.spectral = SpectralBranch(length, sample_rate, d, options.spectral_window_ms) if options.spectral_d else None
        channels = [1] + [d * 2**i for i in range(layers)]  # 1 d 2d 4d 8d for 4 layers
        blocks: list[nn.Module] = []
        for i in range(layers):
            blocks += [nn.Conv1d(channels[i], channels[i + 1], KERNEL, STRIDE, PADDING), nn.LeakyReLU(0.2)]
            if i < layers - 1 and options.phase_shuffle > 0:
                blocks.append(PhaseShuffle(options.phase_shuffle))
        self.net = nn.Sequential(*blocks)
        features = base * channels[-1]
        self.fc = nn.Linear(features, 1)
        self.embed = nn.Embedding(num_classes, features) if num_classes else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.net(x).flatten(1)
        logits = self.fc(h).squeeze(1)
        if self.spectral is not None:
            logits = logits + self.spectral(x)
        if self.embed is not None:
            if labels is None:
                raise GankitError("this wavegan is conditional: pass labels to the discriminator")
            logits = logits + (self.embed(labels) * h).sum(dim=1)
        return logits


def build(options: WaveGANOptions, info: DataInfo) -> tuple[WaveGANGenerator, WaveGANDiscriminator]:
    """The ``ModelSpec.build`` of ``wavegan``: a pair sized for ``info.shape`` (1×T)."""
    if len(info.shape) != 2 or info.shape[0] != 1:
        raise GankitError(f"model 'wavegan' expects mono clips of shape 1×T, the dataset gives {tuple(info.shape)}")
    length = int(info.shape[1])
    layout(length)
    num_classes = 0
    if options.conditional:
        if info.num_classes < 1:
            raise GankitError("model 'wavegan' with -o conditional true needs a labelled dataset; "
                              "this one has no classes")
        num_classes = info.num_classes
    return (WaveGANGenerator(length, options, num_classes),
            WaveGANDiscriminator(length, options, num_classes, info.sample_rate or 16000))

