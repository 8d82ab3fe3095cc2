"""Options of the text plugin's models.

Kept free of torch imports: the registry reads these schemas to build ``--help``. Each
model's options are the generator's own fields, then the Gumbel-softmax schedule, then the
discriminator's (``d_*``), assembled from the small frozen dataclasses below (dataclass
fields are collected from the last base class to the first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

SCHEDULES = ("constant", "linear", "exp")
DISCRIMINATORS = ("cnn", "transformer")


@dataclass(frozen=True)
class _Discriminator:
    discriminator: Literal["cnn", "transformer"] = field(
        default="cnn",
        metadata={"help": "D over soft one-hot tokens: cnn (RelGAN's multi-representation CNN) or transformer "
                          "(a small encoder with a [CLS] logit)"},
    )
    d_embed_dim: int = field(
        default=64, metadata={"help": "D's token embedding size (cnn: split evenly over d_representations)"}
    )
    d_representations: int = field(
        default=16, metadata={"help": "cnn D: independent embedding slices, each convolved and scored (RelGAN: 64)"}
    )
    d_filter_sizes: tuple[int, ...] = field(
        default=(2, 3, 4, 5), metadata={"help": "cnn D: convolution widths in tokens (widths above the length are dropped)"}
    )
    d_filters: int = field(default=64, metadata={"help": "cnn D: filters per width (RelGAN: 300)"})
    d_dropout: float = field(default=0.25, metadata={"help": "dropout in D before its output layer"})
    d_layers: int = field(default=2, metadata={"help": "transformer D: encoder layers"})
    d_heads: int = field(default=4, metadata={"help": "transformer D: attention heads (must divide d_embed_dim)"})


@dataclass(frozen=True)
class _Gumbel:
    temperature_schedule: Literal["constant", "linear", "exp"] = field(
        default="exp",
        metadata={"help": "Gumbel-softmax inverse temperature beta over the adversarial steps: constant (1/temperature), "
                          "linear (1/temperature -> beta_max; Kusner's 0.2 -> 1 by default), exp (RelGAN: "
                          "beta_max^(n/N) by default)"},
    )
    temperature: float | None = field(
        default=None,
        metadata={"help": "starting temperature 1/beta_0 (constant: the temperature); none: the schedule's default "
                          "(constant 1, linear 5, exp 1)"},
    )
    beta_max: float | None = field(
        default=None,
        metadata={"help": "inverse temperature at the last step (linear, exp); none: the schedule's default "
                          "(linear 1, exp 100)"},
    )
    straight_through: bool = field(
        default=False,
        metadata={"help": "D sees hard one-hot tokens, G gets the Gumbel-softmax gradient (straight-through estimator)"},
    )


@dataclass(frozen=True)
class _LSTMNet:
    embed_dim: int = field(default=64, metadata={"help": "G's token embedding size"})
    hidden_dim: int = field(default=128, metadata={"help": "G's LSTM hidden size"})
    layers: int = field(default=1, metadata={"help": "G's LSTM layers"})


@dataclass(frozen=True)
class _TransformerNet:
    embed_dim: int = field(default=64, metadata={"help": "G's model width (GPT2Config n_embd); ignored with pretrained"})
    layers: int = field(default=2, metadata={"help": "G's decoder layers (n_layer); ignored with pretrained"})
    heads: int = field(default=4, metadata={"help": "G's attention heads (n_head, must divide embed_dim); ignored with "
                                                    "pretrained"})
    pretrained: str | None = field(
        default=None,
        metadata={"help": "a local folder holding a transformers causal LM checkpoint (config.json + weights) to start "
                          "from instead of random weights; its vocabulary must be the dataset's tokenizer"},
    )


@dataclass(frozen=True)
class LSTMOptions(_Discriminator, _Gumbel, _LSTMNet):
    """Options of the ``lstm`` text model."""

    def __post_init__(self) -> None:
        for name in ("embed_dim", "hidden_dim", "layers"):
            _positive(name, getattr(self, name))
        _check_gumbel(self)
        _check_discriminator(self)


@dataclass(frozen=True)
class TransformerOptions(_Discriminator, _Gumbel, _TransformerNet):
    """Options of the ``transformer`` text model."""

    def __post_init__(self) -> None:
        for name in ("embed_dim", "layers", "heads"):
            _positive(name, getattr(self, name))
        if self.pretrained is None and self.embed_dim % self.heads:
            raise ValueError(f"heads ({self.heads}) must divide embed_dim ({self.embed_dim})")
        if self.pretrained is not None and not str(self.pretrained).strip():
            raise ValueError("pretrained must be a folder path, or none")
        _check_gumbel(self)
        _check_discriminator(self)


def _check_gumbel(options: _Gumbel) -> None:
    if options.temperature_schedule not in SCHEDULES:
        raise ValueError(f"temperature_schedule must be one of {', '.join(SCHEDULES)}, got {options.temperature_schedule!r}")
    if options.temperature is not None and not 0 < options.temperature < float("inf"):
        raise ValueError(f"temperature must be a positive number, got {options.temperature!r}")
    if options.beta_max is not None and not 0 < options.beta_max < float("inf"):
        raise ValueError(f"beta_max must be a positive number, got {options.beta_max!r}")


def _check_discriminator(options: _Discriminator) -> None:
    if options.discriminator not in DISCRIMINATORS:
        raise ValueError(f"discriminator must be one of {', '.join(DISCRIMINATORS)}, got {options.discriminator!r}")
    for name in ("d_embed_dim", "d_representations", "d_filters", "d_layers", "d_heads"):
        _positive(name, getattr(options, name))
    if not options.d_filter_sizes or any(isinstance(s, bool) or not isinstance(s, int) or s < 1
                                         for s in options.d_filter_sizes):
        raise ValueError(f"d_filter_sizes must be positive integers, got {options.d_filter_sizes!r}")
    if not 0.0 <= options.d_dropout < 1.0:
        raise ValueError(f"d_dropout must be in [0, 1), got {options.d_dropout}")
    if options.discriminator == "cnn" and options.d_embed_dim % options.d_representations:
        raise ValueError(f"d_representations ({options.d_representations}) must divide d_embed_dim "
                         f"({options.d_embed_dim})")
    if options.discriminator == "transformer" and options.d_embed_dim % options.d_heads:
        raise ValueError(f"d_heads ({options.d_heads}) must divide d_embed_dim ({options.d_embed_dim})")


def _positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
