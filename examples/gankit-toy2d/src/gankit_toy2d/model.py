"""The ``mlp`` model: small fully connected G and D for 2-D points.

G: z → [Linear → ReLU] × layers → Linear(2), unbounded (the data are not in [-1, 1]).
D: x → [Linear → LeakyReLU(0.2)] × layers → Linear(1), raw logits of shape ``(N,)``, no
normalisation layers, so the gradient penalty and R1 apply. With ``conditional`` both
networks also read the mode index as a one-hot vector.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gankit.models import Generator
from gankit.specs import DataInfo

from .options import MLPOptions


def _mlp(width_in: int, width_out: int, options: MLPOptions, activation: type[nn.Module], **kwargs) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(options.layers):
        layers += [nn.Linear(width_in, options.hidden), activation(**kwargs)]
        width_in = options.hidden
    return nn.Sequential(*layers, nn.Linear(width_in, width_out))


class PointGenerator(Generator):
    def __init__(self, options: MLPOptions, info: DataInfo):
        super().__init__()
        self.latent_dim = options.latent_dim
        self.num_classes = info.num_classes if options.conditional else 0
        self.net = _mlp(options.latent_dim + self.num_classes, info.shape[0], options, nn.ReLU)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_classes:
            z = torch.cat([z, F.one_hot(labels, self.num_classes).to(z.dtype)], dim=1)
        return self.net(z)


class PointDiscriminator(nn.Module):
    def __init__(self, options: MLPOptions, info: DataInfo):
        super().__init__()
        self.num_classes = info.num_classes if options.conditional else 0
        self.net = _mlp(info.shape[0] + self.num_classes, 1, options, nn.LeakyReLU, negative_slope=0.2)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_classes:
            x = torch.cat([x, F.one_hot(labels, self.num_classes).to(x.dtype)], dim=1)
        return self.net(x).squeeze(1)


def build(options: MLPOptions, info: DataInfo) -> tuple[PointGenerator, PointDiscriminator]:
    """``ModelSpec.build`` of ``mlp``."""
    if len(info.shape) != 1:
        raise ValueError(f"toy2d's mlp expects points of shape (D,), got {info.shape}")
    return PointGenerator(options, info), PointDiscriminator(options, info)
