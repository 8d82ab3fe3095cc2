"""Options of the text plugin's models.

Kept free of torch imports: the registry reads these schemas to build ``--help``. Each
model's options are the generator's own fields, then the Gumbel-softmax schedule, then the
discriminator's (``d_*``), assembled from the small frozen dataclasses below (dataclass
fields are collected from the last base class to the first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gankit.options import check_bounds, option

SCHEDULES = ("constant", "linear", "exp")
DISCRIMINATORS = ("cnn", "transformer")


@dataclass(frozen=True)
class _Discriminator:
    discriminator: Literal["cnn", "transformer"] = option(
        "cnn",
        "D over soft one-hot tokens: cnn (RelGAN's multi-representation CNN) or transformer (a small encoder with a "
        "[CLS] logit)",
    )
    d_embed_dim: int = option(64, "D's token embedding size (cnn: split evenly over d_representations)", ge=1)
    d_representations: int = option(
        16, "cnn D: independent embedding slices, each convolved and scored (RelGAN: 64)", ge=1
    )
    d_filter_sizes: tuple[int, ...] = option(
        (2, 3, 4, 5), "cnn D: convolution widths in tokens (widths above the length are dropped)"
    )
    d_filters: int = option(64, "cnn D: filters per width (RelGAN: 300)", ge=1)
    d_dropout: float = option(0.25, "dropout in D before its output layer", ge=0, lt=1)
    d_layers: int = option(2, "transformer D: encoder layers", ge=1)
    d_heads: int = option(4, "transformer D: attention heads (must divide d_embed_dim)", ge=1)


@dataclass(frozen=True)
class _Gumbel:
    temperature_schedule: Literal["constant", "linear", "exp"] = option(
        "exp",
        "Gumbel-softmax inverse temperature beta over the adversarial steps: constant (1/temperature), linear "
        "(1/temperature -> beta_max; Kusner's 0.2 -> 1 by default), exp (RelGAN: beta_max^(n/N) by default)",
    )
    temperature: float | None = option(
        None,
        "starting temperature 1/beta_0 (constant: the temperature); none: the schedule's default (constant 1, "
        "linear 5, exp 1)",
        gt=0,
    )
    beta_max: float | None = option(
        None, "inverse temperature at the last step (linear, exp); none: the schedule's default (linear 1, exp 100)",
        gt=0,
    )
    straight_through: bool = option(
        False, "D sees hard one-hot tokens, G gets the Gumbel-softmax gradient (straight-through estimator)"
    )


@dataclass(frozen=True)
class _LSTMNet:
    embed_dim: int = option(64, "G's token embedding size", ge=1)
    hidden_dim: int = option(128, "G's LSTM hidden size", ge=1)
    layers: int = option(1, "G's LSTM layers", ge=1)


@dataclass(frozen=True)
class _TransformerNet:
    embed_dim: int = option(64, "G's model width (GPT2Config n_embd); ignored with pretrained", ge=1)
    layers: int = option(2, "G's decoder layers (n_layer); ignored with pretrained", ge=1)
    heads: int = option(4, "G's attention heads (n_head, must divide embed_dim); ignored with pretrained", ge=1)
    pretrained: str | None = option(
        None,
        "a local folder holding a transformers causal LM checkpoint (config.json + weights) to start from instead of "
        "random weights; its vocabulary must be the dataset's tokenizer",
    )


@dataclass(frozen=True)
class LSTMOptions(_Discriminator, _Gumbel, _LSTMNet):
    """Options of the ``lstm`` text model."""

    def __post_init__(self) -> None:
        check_bounds(self)
        _check_gumbel(self)
        _check_discriminator(self)


@dataclass(frozen=True)
class TransformerOptions(_Discriminator, _Gumbel, _TransformerNet):
    """Options of the ``transformer`` text model."""

    def __post_init__(self) -> None:
        check_bounds(self)
        if self.pretrained is None and self.embed_dim % self.heads:
            raise ValueError(f"heads ({self.heads}) must divide embed_dim ({self.embed_dim})")
        if self.pretrained is not None and not str(self.pretrained).strip():
            raise ValueError("pretrained must be a folder path, or none")
        _check_gumbel(self)
        _check_discriminator(self)


def _check_gumbel(options: _Gumbel) -> None:
    if options.temperature_schedule not in SCHEDULES:
        raise ValueError(f"temperature_schedule must be one of {', '.join(SCHEDULES)}, got {options.temperature_schedule!r}")


def _check_discriminator(options: _Discriminator) -> None:
    if options.discriminator not in DISCRIMINATORS:
        raise ValueError(f"discriminator must be one of {', '.join(DISCRIMINATORS)}, got {options.discriminator!r}")
    if not options.d_filter_sizes or any(isinstance(s, bool) or not isinstance(s, int) or s < 1
                                         for s in options.d_filter_sizes):
        raise ValueError(f"d_filter_sizes must be positive integers, got {options.d_filter_sizes!r}")
    if options.discriminator == "cnn" and options.d_embed_dim % options.d_representations:
        raise ValueError(f"d_representations ({options.d_representations}) must divide d_embed_dim "
                         f"({options.d_embed_dim})")
    if options.discriminator == "transformer" and options.d_embed_dim % options.d_heads:
        raise ValueError(f"d_heads ({options.d_heads}) must divide d_embed_dim ({options.d_embed_dim})")
