"""Options of the text plugin's datasets.

Kept free of torch imports: the registry reads these schemas to build ``--help``. The
engine passes ``-o KEY VALUE`` to every spec that declares ``KEY``, so dataset options use
names no text model declares (the oracle's network sizes are ``oracle_*``, not
``hidden_dim``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

TOKENIZER_HELP = ("char, word, bpe (byte-level BPE trained on the training text), or a path to a local tokenizer "
                  "folder written by save_pretrained (a run's tokenizer/ folder, a Hugging Face model's)")
AUTO_MAX_LENGTH = 256  # max_length 0 takes the longest sample's length + 1, but at most this


@dataclass(frozen=True)
class _Tokenized:
    tokenizer: str = field(default="word", metadata={"help": TOKENIZER_HELP})
    max_length: int = field(
        default=0,
        metadata={"help": f"tokens per sample including the end token; longer samples are truncated; 0: the longest "
                          f"training sample's length + 1 (at most {AUTO_MAX_LENGTH})"},
    )
    vocab_size: int = field(
        default=0,
        metadata={"help": "vocabulary size including the 4 special tokens: char/word keep the most frequent symbols "
                          "(0: all), bpe trains up to this size (0: 1000); unused with a tokenizer folder"},
    )

    def _check_tokenized(self) -> None:
        if not isinstance(self.tokenizer, str) or not self.tokenizer.strip():
            raise ValueError("tokenizer must be char, word, bpe or a folder path")
        _non_negative("max_length", self.max_length)
        if self.max_length == 1:
            raise ValueError("max_length must be 0 (from the data) or at least 2 (a token and the end token)")
        _non_negative("vocab_size", self.vocab_size)


@dataclass(frozen=True)
class GrammarOptions(_Tokenized):
    """Options of the embedded ``grammar`` dataset."""

    count: int = field(default=5000, metadata={"help": "training sentences drawn from the grammar"})
    max_words: int = field(default=12, metadata={"help": "longest sentence drawn, in words (longer draws are redrawn)"})
    reference_count: int = field(
        default=1000, metadata={"help": "held-out sentences drawn separately (another seed stream): BLEU's references"}
    )
    data_seed: int = field(default=0, metadata={"help": "seed of the draws (independent of --seed)"})

    def __post_init__(self) -> None:
        self._check_tokenized()
        _positive("count", self.count)
        _non_negative("reference_count", self.reference_count)
        if self.max_words < 2:
            raise ValueError(f"max_words must be at least 2, got {self.max_words}")


@dataclass(frozen=True)
class OracleOptions:
    """Options of the embedded ``oracle`` dataset (SeqGAN/RelGAN's synthetic benchmark,
    scaled for a CPU)."""

    count: int = field(default=10000, metadata={"help": "training sequences sampled from the oracle (RelGAN: 10000)"})
    oracle_vocab: int = field(default=200, metadata={"help": "tokens the oracle emits (SeqGAN/RelGAN: 5000)"})
    oracle_length: int = field(default=20, metadata={"help": "tokens per sequence; samples add the end token"})
    oracle_embed: int = field(default=32, metadata={"help": "the oracle LSTM's embedding size (SeqGAN: 32)"})
    oracle_hidden: int = field(default=32, metadata={"help": "the oracle LSTM's hidden size (SeqGAN: 32)"})
    oracle_seed: int = field(default=0, metadata={"help": "seed of the oracle's N(0, 1) weights: which oracle"})
    reference_count: int = field(
        default=1000, metadata={"help": "held-out oracle samples (another seed stream): BLEU references and NLL_gen"}
    )
    data_seed: int = field(default=0, metadata={"help": "seed of the sampling (independent of --seed)"})

    def __post_init__(self) -> None:
        for name in ("count", "oracle_vocab", "oracle_length", "oracle_embed", "oracle_hidden"):
            _positive(name, getattr(self, name))
        _non_negative("reference_count", self.reference_count)


@dataclass(frozen=True)
class LinesOptions(_Tokenized):
    """Options of the ``lines`` dataset (a UTF-8 text file, one sample a line)."""

    reference_fraction: float = field(
        default=0.1,
        metadata={"help": "share of the lines held out (seeded) as BLEU references and not trained on; 0: none "
                          "(BLEU then compares with training lines); ignored when reference is given"},
    )
    reference: str | None = field(
        default=None, metadata={"help": "a text file of reference lines for BLEU; all of --data is then trained on"}
    )
    long_lines: Literal["truncate", "skip"] = field(
        default="truncate", metadata={"help": "lines with more than max_length - 1 tokens: truncate them or skip them"}
    )
    max_line_chars: int = field(
        default=2000, metadata={"help": "lines longer than this many characters are skipped as over-long"}
    )
    data_seed: int = field(default=0, metadata={"help": "seed of the held-out split"})

    def __post_init__(self) -> None:
        self._check_tokenized()
        if not 0.0 <= self.reference_fraction < 1.0:
            raise ValueError(f"reference_fraction must be in [0, 1), got {self.reference_fraction}")
        if self.long_lines not in ("truncate", "skip"):
            raise ValueError(f"long_lines must be truncate or skip, got {self.long_lines!r}")
        _positive("max_line_chars", self.max_line_chars)
        if self.reference is not None and not str(self.reference).strip():
            raise ValueError("reference must be a file path, or none")


@dataclass(frozen=True)
class CharsOptions(_Tokenized):
    """Options of the ``chars`` dataset (one long text cut into windows)."""

    tokenizer: str = field(default="char", metadata={"help": TOKENIZER_HELP})
    window: int = field(default=64, metadata={"help": "characters per window (sample)"})
    stride: int = field(default=0, metadata={"help": "characters between window starts; 0: the window (no overlap)"})
    reference_fraction: float = field(
        default=0.1,
        metadata={"help": "the text's last share, held out as BLEU references (windows without overlap) and not "
                          "trained on; 0: none"},
    )

    def __post_init__(self) -> None:
        self._check_tokenized()
        _positive("window", self.window)
        _non_negative("stride", self.stride)
        if not 0.0 <= self.reference_fraction < 1.0:
            raise ValueError(f"reference_fraction must be in [0, 1), got {self.reference_fraction}")


def _positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _non_negative(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
