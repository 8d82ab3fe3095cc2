"""The ``mlp`` model: the fully connected GAN of the classic blog post (z=100,
128-128 LeakyReLU layers, a sigmoid output) adapted to the image data contract."""

from __future__ import annotations

import math

import torch
from torch import nn

from gankit.models import Generator
from gankit.specs import DataInfo

from .options import MLPOptions


class MLPGenerator(Generator):
    """z → Linear(hidden) → LeakyReLU → Linear(hidden) → LeakyReLU → Linear(C·H·W) → sigmoid.

    The original writes ``sigmoid`` pixels in [0, 1]; gankit's image contract is [-1, 1],
    so the output is ``2 * sigmoid(h) - 1`` (the same network, rescaled), reshaped to
    ``info.shape``. Labels are accepted for the engine's sake and ignored.
    """

    def __init__(self, shape: tuple[int, ...], options: MLPOptions = MLPOptions()):
        super().__init__()
        self.latent_dim = options.latent_dim
        self.num_classes = 0
        self.shape = tuple(shape)
        self.net = nn.Sequential(
            nn.Linear(options.latent_dim, options.hidden),
            nn.LeakyReLU(options.negative_slope),
            nn.Linear(options.hidden, options.hidden),
            nn.LeakyReLU(options.negative_slope),
            nn.Linear(options.hidden, math.prod(self.shape)),
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = 2 * torch.sigmoid(self.net(z)) - 1
        return x.view(z.shape[0], *self.shape)


class MLPDiscriminator(nn.Module):
    """flatten → Linear(hidden) → LeakyReLU → Linear(hidden) → LeakyReLU → Linear(1).

    Returns raw logits of shape ``(N,)``: the objectives apply their own sigmoid or none.
    Optional dropout follows each hidden activation.
    """

    def __init__(self, shape: tuple[int, ...], options: MLPOptions = MLPOptions()):
        super().__init__()
        self.num_classes = 0
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(shape)
        for _ in range(2):
            layers += [nn.Linear(width, options.hidden), nn.LeakyReLU(options.negative_slope)]
            if options.dropout > 0:
                layers.append(nn.Dropout(options.dropout))
            width = options.hidden
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x).squeeze(1)


def build(options: MLPOptions, info: DataInfo) -> tuple[MLPGenerator, MLPDiscriminator]:
    """The ``ModelSpec.build`` of ``mlp``: a pair sized for ``info.shape``."""
    return MLPGenerator(info.shape, options), MLPDiscriminator(info.shape, options)
