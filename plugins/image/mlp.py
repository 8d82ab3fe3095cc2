"""The ``mlp`` model: the fully connected GAN of the classic blog post (z=100,
128-128 LeakyReLU layers, a sigmoid output) adapted to the image data contract.

With ``conditional=True`` G reads ``[z, embed(y)]`` and D adds a projection term on its
last hidden layer (see :mod:`gankit.plugins.image.conditional`); unconditional, the
networks are exactly the classic ones."""

from __future__ import annotations

import math

import torch
from torch import nn

from gankit.models import Generator
from gankit.specs import DataInfo

from .conditional import LabelEmbedding, ProjectionTerm, conditional_classes
from .options import MLPOptions


class MLPGenerator(Generator):
    """z → Linear(hidden) → LeakyReLU → Linear(hidden) → LeakyReLU → Linear(C·H·W) → sigmoid.

    The original writes ``sigmoid`` pixels in [0, 1]; gankit's image contract is [-1, 1],
    so the output is ``2 * sigmoid(h) - 1`` (the same network, rescaled), reshaped to
    ``info.shape``. Unconditional (``num_classes == 0``), labels are accepted for the
    engine's sake and ignored; conditional, a label embedding is appended to z.
    """

    def __init__(self, shape: tuple[int, ...], options: MLPOptions = MLPOptions(), num_classes: int = 0):
        super().__init__()
        self.latent_dim = options.latent_dim
        self.num_classes = num_classes
        self.shape = tuple(shape)
        self.label_embedding = LabelEmbedding(num_classes) if num_classes > 0 else None
        inputs = options.latent_dim + (self.label_embedding.dim if self.label_embedding is not None else 0)
        self.net = nn.Sequential(
            nn.Linear(inputs, options.hidden),
            nn.LeakyReLU(options.negative_slope),
            nn.Linear(options.hidden, options.hidden),
            nn.LeakyReLU(options.negative_slope),
            nn.Linear(options.hidden, math.prod(self.shape)),
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.label_embedding(z, labels) if self.label_embedding is not None else z
        x = 2 * torch.sigmoid(self.net(h)) - 1
        return x.view(z.shape[0], *self.shape)


class MLPDiscriminator(nn.Module):
    """flatten → Linear(hidden) → LeakyReLU → Linear(hidden) → LeakyReLU → Linear(1).

    Returns raw logits of shape ``(N,)``: the objectives apply their own sigmoid or none.
    Optional dropout follows each hidden activation. Conditional, the logit gains the
    projection term ``⟨embed(y), h⟩`` on the last hidden features ``h``.
    """

    def __init__(self, shape: tuple[int, ...], options: MLPOptions = MLPOptions(), num_classes: int = 0):
        super().__init__()
        self.num_classes = num_classes
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(shape)
        for _ in range(2):
            layers += [nn.Linear(width, options.hidden), nn.LeakyReLU(options.negative_slope)]
            if options.dropout > 0:
                layers.append(nn.Dropout(options.dropout))
            width = options.hidden
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)
        self.projection = ProjectionTerm(num_classes, width) if num_classes > 0 else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.projection is None:
            return self.net(x).squeeze(1)
        features = self.net[:-1](x)
        return self.net[-1](features).squeeze(1) + self.projection(features, labels)


def build(options: MLPOptions, info: DataInfo) -> tuple[MLPGenerator, MLPDiscriminator]:
    """The ``ModelSpec.build`` of ``mlp``: a pair sized for ``info.shape`` (and, with
    ``conditional``, for ``info.num_classes``)."""
    num_classes = conditional_classes(options.conditional, info, "mlp")
    return MLPGenerator(info.shape, options, num_classes), MLPDiscriminator(info.shape, options, num_classes)
