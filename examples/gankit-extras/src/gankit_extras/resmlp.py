"""``resmlp``: residual MLPs for images, shaped by the dataset's ``DataInfo``.

G: z → Linear(width) → blocks × [x + Linear(LeakyReLU(LayerNorm(Linear(LeakyReLU(LayerNorm(x))))))]
→ LayerNorm → LeakyReLU → Linear(C·H·W) → tanh, reshaped to C×H×W in [-1, 1].
D: flatten → Linear(width) → the same blocks without normalisation (so per-sample, as the
gradient penalty needs) → LeakyReLU → Linear(1). With ``conditional``, G adds a class
embedding to its first hidden vector and D adds the projection ⟨embed(y), h⟩ to its logit
(Miyato & Koyama 2018).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gankit.models import Generator
from gankit.specs import DataInfo

from .options import ResMLPOptions


class Block(nn.Module):
    def __init__(self, width: int, norm: bool):
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(2):
            layers += [nn.LayerNorm(width)] if norm else []
            layers += [nn.LeakyReLU(0.2), nn.Linear(width, width)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResMLPGenerator(Generator):
    def __init__(self, options: ResMLPOptions, info: DataInfo):
        super().__init__()
        self.latent_dim = options.latent_dim
        self.num_classes = info.num_classes if options.conditional else 0
        self.shape = tuple(info.shape)
        self.stem = nn.Linear(options.latent_dim, options.width)
        self.embed = nn.Embedding(self.num_classes, options.width) if self.num_classes else None
        self.blocks = nn.Sequential(*(Block(options.width, norm=True) for _ in range(options.blocks)))
        self.head = nn.Sequential(nn.LayerNorm(options.width), nn.LeakyReLU(0.2),
                                  nn.Linear(options.width, math.prod(self.shape)))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.stem(z)
        if self.embed is not None:
            h = h + self.embed(labels)
        return torch.tanh(self.head(self.blocks(h))).view(z.shape[0], *self.shape)


class ResMLPDiscriminator(nn.Module):
    def __init__(self, options: ResMLPOptions, info: DataInfo):
        super().__init__()
        self.num_classes = info.num_classes if options.conditional else 0
        self.stem = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(info.shape), options.width))
        self.blocks = nn.Sequential(*(Block(options.width, norm=False) for _ in range(options.blocks)))
        self.act = nn.LeakyReLU(0.2)
        self.head = nn.Linear(options.width, 1)
        self.embed = nn.Embedding(self.num_classes, options.width) if self.num_classes else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.act(self.blocks(self.stem(x)))
        logits = self.head(h).squeeze(1)
        if self.embed is not None:
            logits = logits + (self.embed(labels) * h).sum(1)
        return logits


def build(options: ResMLPOptions, info: DataInfo) -> tuple[ResMLPGenerator, ResMLPDiscriminator]:
    """``ModelSpec.build`` of ``resmlp``."""
    return ResMLPGenerator(options, info), ResMLPDiscriminator(options, info)
