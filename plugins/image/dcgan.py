"""The ``dcgan`` model: the all-convolutional GAN of Radford, Metz & Chintala (2016),
"Unsupervised Representation Learning with Deep Convolutional GANs".

G projects z to a small ``base × base`` map and doubles the resolution with stride-2
transposed convolutions (BatchNorm and ReLU after each, tanh at the output); D mirrors
it with stride-2 convolutions and LeakyReLU 0.2 (BatchNorm on every layer but the first),
ending in one linear logit. Weights start as N(0, 0.02), BatchNorm scales as N(1, 0.02),
as in the paper.

Sizes: 64 and 32 pixels grow from a 4×4 map (four and three doublings, the paper's
generator and its CIFAR-sized cut), 28 from 7×7 (two doublings, the usual MNIST layout).
With ``width`` w, G's last hidden layer has w channels and each coarser scale twice as
many; D's first layer has w channels and doubles at each finer-to-coarser step.

``d_norm="spectral"`` replaces D's BatchNorm with spectral normalisation of every
convolution and linear layer (Miyato et al. 2018), which makes D per-sample (so
``--penalty gp`` is allowed); ``"none"`` drops BatchNorm from D altogether.
``conditional=True`` adds a label embedding to G's input and a projection term to D's
logit (:mod:`gankit.plugins.image.conditional`).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from gankit.models import Generator
from gankit.specs import DataInfo

from .conditional import LabelEmbedding, ModelOptionError, ProjectionTerm, conditional_classes
from .options import DCGANOptions

BASES = {28: 7, 32: 4, 64: 4}  # image size -> side of G's first feature map
SUPPORTED_SIZES = tuple(BASES)
SUPPORTED_CHANNELS = (1, 3)


def layout(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """``(channels, base, doublings)`` for an image shape C×H×W, or a ModelOptionError
    naming the supported sizes."""
    if len(shape) != 3:
        raise ModelOptionError(f"model 'dcgan' needs images C×H×W, got shape {tuple(shape)}")
    channels, height, width = shape
    if height != width or height not in BASES:
        sizes = ", ".join(f"{s}×{s}" for s in SUPPORTED_SIZES)
        raise ModelOptionError(
            f"model 'dcgan' supports images of {sizes} pixels, got {height}×{width}; "
            f"resize the data (e.g. -o size 32 for shapes) or use model 'mlp'"
        )
    if channels not in SUPPORTED_CHANNELS:
        raise ModelOptionError(f"model 'dcgan' supports 1 or 3 channels, got {channels}")
    base = BASES[height]
    return channels, base, int(math.log2(height // base))


class DCGANGenerator(Generator):
    """z (+ label embedding) → ConvT(base×base) → [ConvT 4×4 stride 2 → BN → ReLU]… → tanh.

    The first layer is a transposed convolution of kernel ``base`` on the 1×1 latent (the
    paper's "project and reshape"), followed by BatchNorm and ReLU.
    """

    def __init__(self, shape: tuple[int, ...], options: DCGANOptions = DCGANOptions(), num_classes: int = 0):
        super().__init__()
        channels, base, doublings = layout(shape)
        self.latent_dim = options.latent_dim
        self.num_classes = num_classes
        self.shape = tuple(shape)
        self.label_embedding = LabelEmbedding(num_classes) if num_classes > 0 else None
        inputs = options.latent_dim + (self.label_embedding.dim if self.label_embedding is not None else 0)
        width = options.width * 2 ** (doublings - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(inputs, width, base, 1, 0, bias=False), nn.BatchNorm2d(width), nn.ReLU(True),
        ]
        for _ in range(doublings - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width // 2),
                       nn.ReLU(True)]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self.net)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.label_embedding(z, labels) if self.label_embedding is not None else z
        return self.net(h.view(h.shape[0], h.shape[1], 1, 1))


class DCGANDiscriminator(nn.Module):
    """[Conv 4×4 stride 2 → (norm) → LeakyReLU 0.2]… down to base×base → flatten → Linear(1).

    The paper ends with a convolution over the whole ``base × base`` map, which is the
    linear layer written here; its input is φ(x), the features the projection term of a
    conditional D reads. Returns logits of shape ``(N,)``.
    """

    def __init__(self, shape: tuple[int, ...], options: DCGANOptions = DCGANOptions(), num_classes: int = 0):
        super().__init__()
        channels, base, doublings = layout(shape)
        self.num_classes = num_classes
        width = options.width
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for _ in range(doublings - 1):
            norm = [nn.BatchNorm2d(width * 2)] if options.d_norm == "batchnorm" else []
            # A bias is redundant before BatchNorm (its shift absorbs it), needed without it.
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=not norm), *norm, nn.LeakyReLU(0.2, True)]
            width *= 2
        layers.append(nn.Flatten())
        self.features = nn.Sequential(*layers)
        features = width * base * base
        self.head = nn.Linear(features, 1)
        self.projection = ProjectionTerm(num_classes, features) if num_classes > 0 else None
        dcgan_init(self)
        if options.d_norm == "spectral":
            # After the initialisation, so the power iteration starts from the final weights.
            for m in list(self.modules()):
                if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
                    spectral_norm(m)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        features = self.features(x)
        logits = self.head(features).squeeze(1)
        if self.projection is not None:
            logits = logits + self.projection(features, labels)
        return logits


@torch.no_grad()
def dcgan_init(module: nn.Module) -> None:
    """DCGAN's initialisation: convolution and linear weights N(0, 0.02), BatchNorm scales
    N(1, 0.02), biases 0. Label embeddings keep their own initialisation."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def build(options: DCGANOptions, info: DataInfo) -> tuple[DCGANGenerator, DCGANDiscriminator]:
    """The ``ModelSpec.build`` of ``dcgan``: a pair for ``info.shape`` (28, 32 or 64 pixels,
    1 or 3 channels) and, with ``conditional``, ``info.num_classes``."""
    layout(info.shape)
    num_classes = conditional_classes(options.conditional, info, "dcgan")
    return DCGANGenerator(info.shape, options, num_classes), DCGANDiscriminator(info.shape, options, num_classes)
