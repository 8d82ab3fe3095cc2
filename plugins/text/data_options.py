"""Options of the text plugin's datasets.

Kept free of torch imports: the registry reads these schemas to build ``--help``. The
engine passes ``-o KEY VALUE`` to every spec that declares ``KEY``, so dataset options use
names no text model declares (the oracle's network sizes are ``oracle_*``, not
``hidden_dim``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gankit.options import check_bounds, option

TOKENIZER_HELP = ("char, word, bpe (byte-level BPE trained on the training text), or a path to a local tokenizer "
                  "folder written by save_pretrained (a run's tokenizer/ folder, a Hugging Face model's)")
AUTO_MAX_LENGTH = 256  # max_length 0 takes the longest sample's length + 1, but at most this


@dataclass(frozen=True)
class _Tokenized:
    tokenizer: str = option("word", TOKENIZER_HELP)
    max_length: int = option(
        0,
        f"tokens per sample including the end token; longer samples are truncated; 0: the longest training sample's "
        f"length + 1 (at most {AUTO_MAX_LENGTH})",
        ge=0,
    )
    vocab_size: int = option(
        0,
        "vocabulary size including the 4 special tokens: char/word keep the most frequent symbols (0: all), bpe "
        "trains up to this size (0: 1000); unused with a tokenizer folder",
        ge=0,
    )

    def _check_tokenized(self) -> None:
        check_bounds(self)
        if not isinstance(self.tokenizer, str) or not self.tokenizer.strip():
            raise ValueError("tokenizer must be char, word, bpe or a folder path")
        if self.max_length == 1:
            raise ValueError("max_length must be 0 (from the data) or at least 2 (a token and the end token)")


@dataclass(frozen=True)
class GrammarOptions(_Tokenized):
    """Options of the embedded ``grammar`` dataset."""

    count: int = option(5000, "training sentences drawn from the grammar", ge=1)
    max_words: int = option(12, "longest sentence drawn, in words (longer draws are redrawn)", ge=2)
    reference_count: int = option(
        1000, "held-out sentences drawn separately (another seed stream): BLEU's references", ge=0
    )
    data_seed: int = option(0, "seed of the draws (independent of --seed)")

    def __post_init__(self) -> None:
        self._check_tokenized()


@dataclass(frozen=True)
class OracleOptions:
    """Options of the embedded ``oracle`` dataset (SeqGAN/RelGAN's synthetic benchmark,
    scaled for a CPU)."""

    count: int = option(10000, "training sequences sampled from the oracle (RelGAN: 10000)", ge=1)
    oracle_vocab: int = option(200, "tokens the oracle emits (SeqGAN/RelGAN: 5000)", ge=1)
    oracle_length: int = option(20, "tokens per sequence; samples add the end token", ge=1)
    oracle_embed: int = option(32, "the oracle LSTM's embedding size (SeqGAN: 32)", ge=1)
    oracle_hidden: int = option(32, "the oracle LSTM's hidden size (SeqGAN: 32)", ge=1)
    oracle_seed: int = option(0, "seed of the oracle's N(0, 1) weights: which oracle")
    reference_count: int = option(
        1000, "held-out oracle samples (another seed stream): BLEU references and NLL_gen", ge=0
    )
    data_seed: int = option(0, "seed of the sampling (independent of --seed)")

    def __post_init__(self) -> None:
        check_bounds(self)


@dataclass(frozen=True)
class LinesOptions(_Tokenized):
    """Options of the ``lines`` dataset (a UTF-8 text file, one sample a line)."""

    reference_fraction: float = option(
        0.1,
        "share of the lines held out (seeded) as BLEU references and not trained on; 0: none (BLEU then compares with "
        "training lines); ignored when reference is given",
        ge=0,
        lt=1,
    )
    reference: str | None = option(
        None, "a text file of reference lines for BLEU; all of --data is then trained on"
    )
    long_lines: Literal["truncate", "skip"] = option(
        "truncate", "lines with more than max_length - 1 tokens: truncate them or skip them"
    )
    max_line_chars: int = option(2000, "lines longer than this many characters are skipped as over-long", ge=1)
    data_seed: int = option(0, "seed of the held-out split")

    def __post_init__(self) -> None:
        self._check_tokenized()
        if self.long_lines not in ("truncate", "skip"):
            raise ValueError(f"long_lines must be truncate or skip, got {self.long_lines!r}")
        if self.reference is not None and not str(self.reference).strip():
            raise ValueError("reference must be a file path, or none")


@dataclass(frozen=True)
class CharsOptions(_Tokenized):
    """Options of the ``chars`` dataset (one long text cut into windows)."""

    tokenizer: str = option("char", TOKENIZER_HELP)
    window: int = option(64, "characters per window (sample)", ge=1)
    stride: int = option(0, "characters between window starts; 0: the window (no overlap)", ge=0)
    reference_fraction: float = option(
        0.1,
        "the text's last share, held out as BLEU references (windows without overlap) and not trained on; 0: none",
        ge=0,
        lt=1,
    )

    def __post_init__(self) -> None:
        self._check_tokenized()
