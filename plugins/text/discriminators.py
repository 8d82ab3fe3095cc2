"""Discriminators over soft one-hot token sequences ``(N, L, V)``.

Real batches arrive as exact one-hot (the domain's ``prepare_real``), fakes as the
generator's Gumbel-softmax rows; either is multiplied into an embedding matrix (a linear
layer without bias), so the generator's gradient reaches every token probability.
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.errors import GankitError
from gankit.models import DiscriminatorOutput

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
    over each slice, then a highway layer (Srivastava et al. 2015: a transform gate
    ``t = σ(W_t h + b_t)`` and a transform ``relu(W_h h + b_h)``, two Linears, output
    ``t · relu(W_h h + b_h) + (1 - t) · h``) and dropout, and each representation gets its
    own logit. It returns them as the heads of a :class:`~gankit.models.DiscriminatorOutput`
    (one ``(N,)`` tensor per representation), so the objective scores every representation on
    its own, as RelGAN's loss does over its ``batch × num_rep`` logits; the feature map is
    the highway's output, for ``--feature-matching``.

    Against RelGAN's code (``models/rmc_vanilla.py`` and ``utils/ops.py`` of
    weilinie/RelGAN): its loss is the mean over the ``batch × num_rep`` logits, Engine 2's
    the sum over heads of each head's mean, so the loss and its gradient are
    ``representations`` times RelGAN's (the same direction; Adam does not see the scale, a
    ``--grad-clip`` norm does); its highway Linears have no bias and its gate no offset
    (``bias=0``), these have biases (a superset); its two stacked output layers (features
    → 100 → 1, no activation between) are one Linear (the same function class); its
    strided Conv2d is a Linear over unfolded windows (the same function, 2-3× faster on a
    CPU for these shapes).

    Checkpoints from before the highway was split (one ``highway`` Linear serving as gate
    and transform) load with its weights in both, which computes what they computed.
    """

    def __init__(self, layout: TokenLayout, options: LSTMOptions | TransformerOptions):
        super().__init__()
        self.input = _OneHotInput(layout, options.d_embed_dim)
        self.representations = options.d_representations
        self.width = options.d_embed_dim // options.d_representations
        self.sizes = sorted({size for size in options.d_filter_sizes if size <= layout.length}) or [layout.length]
        self.filters = nn.ModuleList(nn.Linear(size * self.width, options.d_filters) for size in self.sizes)
        features = options.d_filters * len(self.sizes)
        self.highway_gate = nn.Linear(features, features)
        self.highway_transform = nn.Linear(features, features)
        self.dropout = nn.Dropout(options.d_dropout)
        self.out = nn.Linear(features, 1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> DiscriminatorOutput:
        embedded = self.input(x)
        n, length, _ = embedded.shape
        slices = embedded.view(n, length, self.representations, self.width).transpose(1, 2)  # N × reps × L × w
        pooled = []
        for size, linear in zip(self.sizes, self.filters):
            windows = slices.unfold(2, size, 1).reshape(n, self.representations, length - size + 1, -1)
            pooled.append(torch.relu(linear(windows).max(dim=2).values))  # max over time commutes with ReLU
        h = torch.cat(pooled, dim=-1)  # N × reps × features
        gate = torch.sigmoid(self.highway_gate(h))
        h = gate * torch.relu(self.highway_transform(h)) + (1.0 - gate) * h
        logits = self.out(self.dropout(h)).squeeze(-1)  # N × reps
        return DiscriminatorOutput(logits=logits.unbind(1), features=(h,))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[no-untyped-def]
        for name in ("weight", "bias"):
            shared = state_dict.pop(f"{prefix}highway.{name}", None)
            if shared is not None:
                state_dict.setdefault(f"{prefix}highway_gate.{name}", shared)
                state_dict.setdefault(f"{prefix}highway_transform.{name}", shared.clone())
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


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
