"""Discriminators over soft one-hot token sequences ``(N, L, V)``.

Real batches arrive as exact one-hot (the domain's ``prepare_real``), fakes as the
generator's Gumbel-softmax rows; either is multiplied into an embedding matrix (a linear
layer without bias), so the generator's gradient reaches every token probability.
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.errors import GankitError

from .io import one_hot
from .layout import TokenLayout
from .options import LSTMOptions, TransformerOptions


class _OneHotInput(nn.Module):
    """Checks a batch's shape and embeds it: soft one-hot ``(N, L, V)`` @ ``(V, E)``. Token
    ids ``(N, L)`` are accepted too and one-hot encoded."""

    def __init__(self, layout: TokenLayout, embed_dim: int):
        super().__init__()
        self.vocab_size, self.length = layout.vocab_size, layout.length
        self.embed = nn.Linear(layout.vocab_size, embed_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not x.is_floating_point():
            x = one_hot(x, self.vocab_size)
        if x.dim() != 3 or x.shape[1:] != (self.length, self.vocab_size):
            raise GankitError(f"the text discriminator expects soft one-hot tokens of shape (N, {self.length}, "
                              f"{self.vocab_size}), got {tuple(x.shape)}")
        return self.embed(x)


class CNNDiscriminator(nn.Module):
    """RelGAN's multi-representation CNN discriminator (Nie et al. 2019).

    The embedding is cut into ``representations`` slices of ``embed_dim / representations``
    features; the same convolution filters (several widths, max-pooled over time, ReLU) run
    over each slice, a highway layer and dropout follow, and each representation gets its
    own logit. RelGAN averages the loss over the representations; the engine's contract is
    one logit per sample, so this returns their mean. The convolutions are written as a
    linear layer over unfolded windows (the same function as RelGAN's strided Conv2d, and
    2-3× faster on a CPU for these shapes); RelGAN's two stacked linear output layers
    (features → 100 → 1, no activation between) are one linear layer here: the same
    function class.
    """

    def __init__(self, layout: TokenLayout, options: LSTMOptions | TransformerOptions):
        super().__init__()
        self.input = _OneHotInput(layout, options.d_embed_dim)
        self.representations = options.d_representations
        self.width = options.d_embed_dim // options.d_representations
        self.sizes = sorted({size for size in options.d_filter_sizes if size <= layout.length}) or [layout.length]
        self.filters = nn.ModuleList(nn.Linear(size * self.width, options.d_filters) for size in self.sizes)
        features = options.d_filters * len(self.sizes)
        self.highway = nn.Linear(features, features)
        self.dropout = nn.Dropout(options.d_dropout)
        self.out = nn.Linear(features, 1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        embedded = self.input(x)
        n, length, _ = embedded.shape
        slices = embedded.view(n, length, self.representations, self.width).transpose(1, 2)  # N × reps × L × w
        pooled = []
        for size, linear in zip(self.sizes, self.filters):
            windows = slices.unfold(2, size, 1).reshape(n, self.representations, length - size + 1, -1)
            pooled.append(torch.relu(linear(windows).max(dim=2).values))  # max over time commutes with ReLU
        h = torch.cat(pooled, dim=-1)  # N × reps × features
        gate_input = self.highway(h)
        gate = torch.sigmoid(gate_input)
        h = gate * torch.relu(gate_input) + (1.0 - gate) * h
        return self.out(self.dropout(h)).squeeze(-1).mean(dim=1)


class TransformerDiscriminator(nn.Module):
    """A small pre-norm transformer encoder over the embedded tokens plus learned position
    embeddings, with a learned [CLS] vector whose final state gives the logit."""

    def __init__(self, layout: TokenLayout, options: LSTMOptions | TransformerOptions):
        super().__init__()
        dim = options.d_embed_dim
        self.input = _OneHotInput(layout, dim)
        self.positions = nn.Parameter(torch.randn(1, layout.length + 1, dim) * 0.02)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        layer = nn.TransformerEncoderLayer(dim, options.d_heads, dim_feedforward=4 * dim, dropout=options.d_dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, options.d_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, 1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        embedded = self.input(x)
        h = torch.cat([self.cls.expand(embedded.shape[0], -1, -1), embedded], dim=1) + self.positions
        return self.out(self.norm(self.encoder(h)[:, 0])).squeeze(-1)


def build_discriminator(options: LSTMOptions | TransformerOptions, layout: TokenLayout) -> nn.Module:
    """The discriminator the ``discriminator`` option names."""
    if options.discriminator == "transformer":
        return TransformerDiscriminator(layout, options)
    return CNNDiscriminator(layout, options)
