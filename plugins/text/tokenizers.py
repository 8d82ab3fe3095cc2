"""Tokenisers for the text domain, all built as ``tokenizers`` models so one JSON format
(``DataInfo.extra["tokenizer"]``) serves every kind:

- ``char``: a WordLevel model over single characters (a pre-tokenizer isolates every code
  point, a Fuse decoder joins them): exact round trip of any text whose characters are in
  the vocabulary (spaces, punctuation, newlines, any Unicode);
- ``word``: a WordLevel model over whitespace-separated words: round trip up to
  whitespace (words come back joined by single spaces);
- ``bpe``: byte-level BPE (GPT-2's scheme) trained on the training texts: exact round trip
  of any text, in or out of the training vocabulary;
- ``pretrained``: a local folder written by ``save_pretrained`` (``tokenizer.json``),
  loaded offline with ``transformers.AutoTokenizer``.

The built kinds share the special tokens ``<pad>`` 0, ``<eos>`` 1, ``<bos>`` 2, ``<unk>`` 3.
They sit in the vocabulary but are never produced from text: a literal ``<eos>`` in the data
cannot end a sample early (encoding maps any special id that text produces to ``<unk>``).
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from gankit.errors import GankitError

PAD, EOS, BOS, UNK = "<pad>", "<eos>", "<bos>", "<unk>"
SPECIAL_TOKENS = (PAD, EOS, BOS, UNK)
KINDS = ("char", "word", "bpe")
DEFAULT_BPE_VOCAB = 1000
MIN_BPE_VOCAB = 256 + len(SPECIAL_TOKENS)  # the byte alphabet and the special tokens


@dataclass(frozen=True)
class TextTokenizer:
    """A ``tokenizers.Tokenizer`` with the ids the canonical form needs.

    ``pad_id`` fills a sample after its end, ``eos_id`` ends it, ``bos_id`` is the
    generator's start input (never in a sample), ``unk_id`` replaces what the vocabulary
    lacks (None for a pretrained tokenizer without one).
    """

    tokenizer: Tokenizer
    kind: str
    pad_id: int
    eos_id: int
    bos_id: int
    unk_id: int | None

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size(with_added_tokens=True)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, without special tokens. An id of PAD, EOS or BOS coming
        from the text itself (a literal ``<eos>``) becomes UNK (or is dropped without one)."""
        reserved = {self.pad_id, self.eos_id, self.bos_id}
        out = []
        for encoding in self.tokenizer.encode_batch(list(texts), add_special_tokens=False):
            ids = encoding.ids
            if reserved.intersection(ids):
                ids = [self.unk_id if i in reserved else i for i in ids]
                ids = [i for i in ids if i is not None]
            out.append(ids)
        return out

    def decode(self, sequences: Sequence[Sequence[int]]) -> list[str]:
        """Text of each id sequence (content ids only: callers cut at EOS and drop PAD)."""
        return self.tokenizer.decode_batch([list(map(int, s)) for s in sequences], skip_special_tokens=False)

    def info_extra(self) -> dict[str, Any]:
        """What ``DataInfo.extra`` stores about the tokenizer (plain JSON data)."""
        return {"tokenizer": self.tokenizer.to_str(), "tokenizer_kind": self.kind, "pad_id": self.pad_id,
                "eos_id": self.eos_id, "bos_id": self.bos_id, "unk_id": self.unk_id}


def from_extra(extra: Mapping[str, Any]) -> TextTokenizer:
    """The tokenizer a ``DataInfo.extra`` describes (cached: every decode calls this)."""
    try:
        text, kind = extra["tokenizer"], extra["tokenizer_kind"]
        pad, eos, bos = int(extra["pad_id"]), int(extra["eos_id"]), int(extra["bos_id"])
    except (KeyError, TypeError, ValueError) as exc:
        raise GankitError(f"this data description has no usable tokenizer ({exc}); is it a text run?") from None
    unk = extra.get("unk_id")
    return _from_json(text, kind, pad, eos, bos, None if unk is None else int(unk))


@functools.lru_cache(maxsize=8)
def _from_json(text: str, kind: str, pad: int, eos: int, bos: int, unk: int | None) -> TextTokenizer:
    return TextTokenizer(Tokenizer.from_str(text), kind, pad, eos, bos, unk)


# Building ----------------------------------------------------------------------------------

def build(spec: str, texts: Iterable[str], vocab_size: int = 0, extra_tokens: Sequence[str] = ()) -> TextTokenizer:
    """A tokenizer for ``texts``: ``spec`` is ``char``, ``word``, ``bpe`` or a path to a
    local tokenizer folder. ``vocab_size`` (including the 4 special tokens): char/word keep
    the most frequent symbols (0: all); bpe's target size (0: 1000). ``extra_tokens`` are
    always in a char/word vocabulary (a grammar's words, whether sampled or not)."""
    if spec == "char":
        return build_char(texts, vocab_size, extra_tokens)
    if spec == "word":
        return build_word(texts, vocab_size, extra_tokens)
    if spec == "bpe":
        return build_bpe(texts, vocab_size or DEFAULT_BPE_VOCAB)
    return load_pretrained(spec)


def _vocabulary(counts: Counter, vocab_size: int, extra_tokens: Sequence[str]) -> dict[str, int]:
    """Special tokens, then ``extra_tokens``, then symbols by falling count (ties in code
    point order), at most ``vocab_size`` in all (0: no limit)."""
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    for token in [*extra_tokens, *(token for token, _ in ranked)]:
        if vocab_size and len(vocab) >= vocab_size:
            break
        vocab.setdefault(token, len(vocab))
    return vocab


def _check_vocab_size(vocab_size: int) -> None:
    if vocab_size and vocab_size <= len(SPECIAL_TOKENS):
        raise GankitError(f"vocab_size {vocab_size} leaves no room beside the {len(SPECIAL_TOKENS)} special tokens; "
                          f"use 0 (everything) or more than {len(SPECIAL_TOKENS)}")


def _with_specials(tokenizer: Tokenizer, kind: str) -> TextTokenizer:
    ids = [tokenizer.token_to_id(token) for token in SPECIAL_TOKENS]
    assert all(i is not None for i in ids), "special tokens missing from a built vocabulary"
    return TextTokenizer(tokenizer, kind, *ids)  # type: ignore[arg-type]


def build_char(texts: Iterable[str], vocab_size: int = 0, extra_tokens: Sequence[str] = ()) -> TextTokenizer:
    _check_vocab_size(vocab_size)
    counts: Counter = Counter()
    for text in texts:
        counts.update(text)
    tokenizer = Tokenizer(models.WordLevel(_vocabulary(counts, vocab_size, extra_tokens), unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tokenizer.decoder = decoders.Fuse()
    return _with_specials(tokenizer, "char")


def build_word(texts: Iterable[str], vocab_size: int = 0, extra_tokens: Sequence[str] = ()) -> TextTokenizer:
    _check_vocab_size(vocab_size)
    counts: Counter = Counter()
    for text in texts:
        counts.update(text.split())
    tokenizer = Tokenizer(models.WordLevel(_vocabulary(counts, vocab_size, extra_tokens), unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return _with_specials(tokenizer, "word")


def build_bpe(texts: Iterable[str], vocab_size: int = DEFAULT_BPE_VOCAB) -> TextTokenizer:
    """Byte-level BPE: the 256 byte symbols plus merges learnt from ``texts`` until the
    vocabulary reaches ``vocab_size`` (fewer when the texts run out of pairs)."""
    if vocab_size < MIN_BPE_VOCAB:
        raise GankitError(f"a byte-level BPE vocabulary needs at least {MIN_BPE_VOCAB} tokens (256 bytes and "
                          f"{len(SPECIAL_TOKENS)} special tokens); got vocab_size {vocab_size}")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(texts, trainer)
    return _with_specials(tokenizer, "bpe")


def load_pretrained(path: str | Path) -> TextTokenizer:
    """A tokenizer folder written by ``save_pretrained`` (a run's ``tokenizer/`` folder,
    or a Hugging Face model's), read offline. Its pad/eos/bos tokens are used; those it
    lacks fall back to eos (pad, bos) or to sep (eos); one without either gets ``<eos>`` added."""
    folder = Path(path).expanduser()
    if not folder.exists():
        raise GankitError(f"tokenizer {str(path)!r} is neither char, word nor bpe, and no such folder exists; "
                          f"give one of those kinds or a folder written by save_pretrained (with tokenizer.json)")
    if not folder.is_dir():
        raise GankitError(f"tokenizer {str(path)!r} is a file; give the folder that holds tokenizer.json")
    from transformers import AutoTokenizer

    try:
        wrapper = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        backend = wrapper.backend_tokenizer
    except Exception as exc:  # transformers raises OSError, ValueError, JSON errors, ... for a bad folder
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise GankitError(f"cannot load a fast tokenizer from {str(folder)!r}: {first_line} (expected a folder "
                          f"written by save_pretrained, with tokenizer.json)") from None
    tokenizer = Tokenizer.from_str(backend.to_str())
    eos = _known_id(tokenizer, wrapper.eos_token, wrapper.sep_token)
    if eos is None:
        tokenizer.add_special_tokens([EOS])
        eos = int(tokenizer.token_to_id(EOS))
    pad = _known_id(tokenizer, wrapper.pad_token)
    bos = _known_id(tokenizer, wrapper.bos_token, wrapper.cls_token)
    unk = _known_id(tokenizer, wrapper.unk_token)
    return TextTokenizer(tokenizer, "pretrained", eos if pad is None else pad, eos, eos if bos is None else bos, unk)


def _known_id(tokenizer: Tokenizer, *tokens: Any) -> int | None:
    """The id of the first of ``tokens`` that is set and in the vocabulary."""
    for token in tokens:
        if token and tokenizer.token_to_id(str(token)) is not None:
            return int(tokenizer.token_to_id(str(token)))
    return None


# The canonical form --------------------------------------------------------------------------

@dataclass(frozen=True)
class Padded:
    """Samples in canonical form and what fitting them to the length did."""

    ids: Any  # torch.LongTensor (N, L)
    kept: list[int]  # indices of the input sequences that became samples
    truncated: int  # samples cut to L-1 tokens (they end with EOS at L-1)
    dropped_long: int  # sequences left out because they were too long (long="skip")
    dropped_empty: int  # sequences with no tokens


def pad(sequences: Sequence[Sequence[int]], length: int, tokenizer: TextTokenizer, long: str = "truncate") -> Padded:
    """``tokens…, EOS, PAD…`` of exactly ``length`` ids per sample. A sequence with more
    than ``length - 1`` tokens is truncated (its EOS at ``length - 1``) or, with
    ``long="skip"``, left out. Empty sequences are left out."""
    import torch

    if length < 2:
        raise GankitError(f"max_length must be at least 2 (one token and the end token), got {length}")
    ids = torch.full((len(sequences), length), tokenizer.pad_id, dtype=torch.long)
    kept, truncated, dropped_long, dropped_empty = [], 0, 0, 0
    for index, sequence in enumerate(sequences):
        if not sequence:
            dropped_empty += 1
            continue
        if len(sequence) > length - 1:
            if long == "skip":
                dropped_long += 1
                continue
            truncated += 1
            sequence = sequence[:length - 1]
        row = len(kept)
        ids[row, :len(sequence)] = torch.as_tensor(list(sequence), dtype=torch.long)
        ids[row, len(sequence)] = tokenizer.eos_id
        kept.append(index)
    return Padded(ids[:len(kept)].clone(), kept, truncated, dropped_long, dropped_empty)


def content(ids: Sequence[int], tokenizer: TextTokenizer) -> list[int]:
    """The tokens of one canonical sample: up to its first EOS, without PAD and BOS."""
    out = []
    for token in ids:
        token = int(token)
        if token == tokenizer.eos_id:
            break
        if token != tokenizer.pad_id and token != tokenizer.bos_id:
            out.append(token)
    return out
