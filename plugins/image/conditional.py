"""Class-conditional pieces shared by the image models (``-o conditional true``).

- The **generator** gets its class through :class:`LabelEmbedding`: a learned embedding of
  the label concatenated to z (Mirza & Osindero 2014, with a learned table instead of a
  one-hot vector). Class-conditional BatchNorm (Miyato & Koyama 2018, BigGAN) is stronger
  in deep ResNet generators, but the ``mlp`` generator has no BatchNorm to condition, and a
  DCGAN generator's first layer already sees the whole input vector, so an embedding at the
  input gives every later layer the class at the cost of one small table. One mechanism
  for both models keeps them comparable and this module the only place labels enter G.
- The **discriminator** is a projection discriminator (Miyato & Koyama 2018, "cGANs with
  Projection Discriminator"): with φ(x) the features before D's last linear layer ψ,
  ``logit = ψ(φ(x)) + ⟨embed(y), φ(x)⟩``. :class:`ProjectionTerm` is the inner-product
  term; each model keeps its own ψ, so an unconditional model's layers (and checkpoints)
  are unchanged.

:func:`conditional_classes` checks that a conditional model is asked for on labelled data.
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.errors import GankitError
from gankit.specs import DataInfo

MAX_EMBEDDING_DIM = 128


class ModelOptionError(GankitError, ValueError):
    """Model options that do not fit the data (a size the architecture cannot make, a
    conditional model on unlabelled data). A ``ValueError`` for Python callers, and a
    :class:`GankitError` so the CLI prints it as one line."""


def conditional_classes(conditional: bool, info: DataInfo, model: str) -> int:
    """The number of classes a model conditions on: 0 when ``conditional`` is off, else
    ``info.num_classes``, which must be at least 2."""
    if not conditional:
        return 0
    if info.num_classes < 2:
        what = "unlabelled" if info.num_classes == 0 else "labelled with a single class"
        raise ModelOptionError(
            f"model {model!r} with conditional=true needs labelled data (DataInfo.num_classes >= 2), "
            f"but the dataset is {what}; use a labelled dataset (shapes, mnist) or drop -o conditional true"
        )
    return info.num_classes


def embedding_dim(num_classes: int) -> int:
    """The size of G's label embedding: one entry per class (as expressive as a one-hot
    vector into the first linear layer), capped for datasets with many classes."""
    return min(num_classes, MAX_EMBEDDING_DIM)


class LabelEmbedding(nn.Module):
    """``[z, embed(y)]``: the latent with a learned per-class vector appended.

    The table starts as N(0, 1), the scale of z, so the class is as loud as the noise at
    the first layer from the first step.
    """

    def __init__(self, num_classes: int, dim: int | None = None):
        super().__init__()
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes, dim or embedding_dim(num_classes))
        nn.init.normal_(self.embed.weight, 0.0, 1.0)

    @property
    def dim(self) -> int:
        return self.embed.embedding_dim

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        labels = check_labels(labels, self.num_classes, z.shape[0], "generator")
        return torch.cat([z, self.embed(labels).to(z.dtype)], dim=1)


class ProjectionTerm(nn.Module):
    """``⟨embed(y), φ(x)⟩`` for features ``φ(x)`` of shape N×F: the class-dependent part of
    a projection discriminator's logit, shape ``(N,)``. Glorot-uniform initialisation, as
    in the authors' code, keeps the term small beside ψ(φ(x)) at the start."""

    def __init__(self, num_classes: int, features: int):
        super().__init__()
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes, features)
        nn.init.xavier_uniform_(self.embed.weight)

    def forward(self, features: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        labels = check_labels(labels, self.num_classes, features.shape[0], "discriminator")
        return (self.embed(labels).to(features.dtype) * features).sum(dim=1)


def check_labels(labels: torch.Tensor | None, num_classes: int, n: int, network: str) -> torch.Tensor:
    if labels is None:
        raise ValueError(f"this {network} is class-conditional ({num_classes} classes) and needs labels")
    if labels.shape != (n,):
        raise ValueError(f"expected {n} labels of shape ({n},) for the {network}, got shape {tuple(labels.shape)}")
    return labels.long()
