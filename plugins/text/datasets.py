"""The text plugin's datasets: the embedded ``grammar`` and ``oracle`` sets, ``lines`` (a
text file, one sample a line) and ``chars`` (one long text cut into windows).

Each tokenises everything once into memory: x int64 N×L in canonical form
(``tokens…, EOS, PAD…``), y all -1. Besides ``tensors``, ``info`` and ``description`` a
dataset carries what the text metrics need: ``reference_texts`` (held-out text for BLEU,
or None), ``reference_ids`` (the same in canonical form), ``reference_source`` (a line
saying where they came from), ``tokenizer`` and ``source`` (the dataset's name).

Reading files never stops at a bad line: empty lines, lines that are not UTF-8 (or hold NUL
bytes) and over-long lines are skipped, counted, logged once and reported in
``description``; only a file with no usable line at all is an error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch

from gankit.data import InMemoryDataset
from gankit.errors import GankitError
from gankit.specs import DataInfo

from . import grammar
from . import tokenizers as tok
from .data_options import AUTO_MAX_LENGTH, CharsOptions, GrammarOptions, LinesOptions, OracleOptions
from .oracle import Oracle, to_ids

logger = logging.getLogger("gankit")

REFERENCE_STREAM = 1_000_003  # held-out draws use seed data_seed * this + 1: a stream apart from training's


class TextDataset(InMemoryDataset):
    """Samples ``ids`` (int64 N×L, canonical) made by ``tokenizer``, unlabelled."""

    def __init__(self, ids: torch.Tensor, tokenizer: tok.TextTokenizer, *, source: str, description: str,
                 reference_texts: list[str] | None = None, reference_ids: torch.Tensor | None = None,
                 reference_source: str = ""):
        if ids.ndim != 2 or ids.dtype != torch.long:
            raise ValueError(f"expected int64 token ids N×L, got {ids.dtype} {tuple(ids.shape)}")
        info = DataInfo(shape=(ids.shape[1],), dtype="int64", value_range=None, vocab_size=tokenizer.vocab_size,
                        extra=tokenizer.info_extra())
        super().__init__(ids, torch.full((len(ids),), -1, dtype=torch.long), info, description)
        self.tokenizer = tokenizer
        self.source = source
        self.reference_texts = reference_texts
        self.reference_ids = reference_ids
        self.reference_source = reference_source
        self._decoded: list[str] | None = None

    def decoded(self) -> list[str]:
        """Every training sample as text (decoded once, then kept)."""
        if self._decoded is None:
            from .io import decode

            self._decoded = decode(self.tensors[0], self.info)
        return self._decoded


# Tokenising ------------------------------------------------------------------------------------

@dataclass
class Encoded:
    ids: torch.Tensor
    kept: list[int]
    notes: list[str] = field(default_factory=list)


def encode(tokenizer: tok.TextTokenizer, texts: Sequence[str], max_length: int, long: str = "truncate",
           what: str = "samples") -> Encoded:
    """Canonical samples of ``texts``; ``max_length`` 0 takes the longest + 1 (at most
    AUTO_MAX_LENGTH). Notes say how many were truncated or dropped."""
    sequences = tokenizer.encode(texts)
    if max_length == 0:
        longest = max((len(s) for s in sequences), default=0)
        max_length = max(2, min(longest + 1, AUTO_MAX_LENGTH))
    padded = tok.pad(sequences, max_length, tokenizer, long)
    notes = []
    if padded.truncated:
        notes.append(f"{padded.truncated} {what} truncated to {max_length - 1} tokens")
    if padded.dropped_long:
        notes.append(f"{padded.dropped_long} {what} over {max_length - 1} tokens skipped")
    if padded.dropped_empty:
        notes.append(f"{padded.dropped_empty} {what} with no tokens skipped")
    return Encoded(padded.ids, padded.kept, notes)


def encode_references(tokenizer: tok.TextTokenizer, texts: Sequence[str], length: int) -> torch.Tensor:
    """Held-out texts in canonical form at the training length (truncated like training)."""
    return tok.pad(tokenizer.encode(texts), length, tokenizer).ids


def _summary(tokenizer: tok.TextTokenizer, ids: torch.Tensor) -> str:
    return f"{tokenizer.kind} tokenizer, {tokenizer.vocab_size} tokens, length {ids.shape[1]} with the end token"


# grammar ---------------------------------------------------------------------------------------

def build_grammar(options: GrammarOptions, data_path: Path | None = None) -> TextDataset:
    """``options.count`` sentences of the embedded grammar (:mod:`.grammar`), and
    ``reference_count`` more from another seed stream as BLEU references."""
    if data_path is not None:
        logger.warning("dataset 'grammar' is generated in memory and ignores --data %s", data_path)
    sentences = grammar.sample_sentences(options.count, options.data_seed, options.max_words)
    references = grammar.sample_sentences(options.reference_count, options.data_seed * REFERENCE_STREAM + 1,
                                          options.max_words)
    tokenizer = tok.build(options.tokenizer, sentences, options.vocab_size,
                          extra_tokens=grammar.WORDS if options.tokenizer == "word" else ())
    encoded = encode(tokenizer, sentences, options.max_length, what="sentences")
    description = (f"grammar: {len(encoded.kept)} sentences of at most {options.max_words} words "
                   f"({len(set(sentences))} distinct, seed {options.data_seed}), {len(references)} held out as BLEU "
                   f"references; {_summary(tokenizer, encoded.ids)}" + "".join(f"; {n}" for n in encoded.notes))
    return TextDataset(encoded.ids, tokenizer, source="grammar", description=description,
                       reference_texts=references or None,
                       reference_ids=encode_references(tokenizer, references, encoded.ids.shape[1])
                       if references else None,
                       reference_source=f"{len(references)} sentences drawn from the grammar with a seed apart from "
                                        f"training's")


# oracle ----------------------------------------------------------------------------------------

class OracleDataset(TextDataset):
    """Samples of :class:`~.oracle.Oracle`; ``oracle`` scores any sample exactly."""

    oracle: Oracle


def oracle_tokenizer(vocab: int) -> tok.TextTokenizer:
    """A word tokenizer over the oracle's tokens ``t0 … t{vocab-1}`` (ids from 4)."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    names = {token: i for i, token in enumerate(tok.SPECIAL_TOKENS)}
    names.update({f"t{k}": len(tok.SPECIAL_TOKENS) + k for k in range(vocab)})
    tokenizer = Tokenizer(models.WordLevel(names, unk_token=tok.UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return tok.TextTokenizer(tokenizer, "word", 0, 1, 2, 3)


def build_oracle(options: OracleOptions, data_path: Path | None = None) -> OracleDataset:
    """``options.count`` sequences sampled from the oracle LSTM, and ``reference_count``
    more from another seed stream (BLEU references, and NLL_gen's test set)."""
    if data_path is not None:
        logger.warning("dataset 'oracle' is generated in memory and ignores --data %s", data_path)
    oracle = Oracle(options.oracle_vocab, options.oracle_length, options.oracle_embed, options.oracle_hidden,
                    options.oracle_seed)
    tokenizer = oracle_tokenizer(options.oracle_vocab)
    ids = to_ids(oracle.sample(options.count, torch.Generator().manual_seed(options.data_seed)), tokenizer.eos_id)
    held_out = to_ids(oracle.sample(options.reference_count,
                                    torch.Generator().manual_seed(options.data_seed * REFERENCE_STREAM + 1)),
                      tokenizer.eos_id)
    from .io import decode

    description = (f"oracle: {options.count} sequences of {options.oracle_length} tokens from an LSTM with N(0, 1) "
                   f"weights (vocab {options.oracle_vocab}, embed {options.oracle_embed}, hidden "
                   f"{options.oracle_hidden}, oracle seed {options.oracle_seed}, data seed {options.data_seed}), "
                   f"{options.reference_count} held out")
    dataset = OracleDataset(ids, tokenizer, source="oracle", description=description,
                            reference_ids=held_out if len(held_out) else None,
                            reference_source=f"{options.reference_count} held-out oracle samples (a seed apart from "
                                             f"training's)")
    dataset.reference_texts = decode(held_out, dataset.info) or None
    dataset.oracle = oracle
    return dataset


# Reading files ---------------------------------------------------------------------------------

@dataclass
class LineReport:
    """What reading a text file skipped: per reason, a count and the first line number."""

    total: int = 0
    skipped: dict[str, list[int]] = field(default_factory=dict)  # reason -> [count, first line number]

    def skip(self, reason: str, number: int) -> None:
        entry = self.skipped.setdefault(reason, [0, number])
        entry[0] += 1

    @property
    def skipped_count(self) -> int:
        return sum(count for count, _ in self.skipped.values())

    def summary(self) -> str:
        parts = [f"{count} {reason} (first: line {first})" for reason, (count, first) in self.skipped.items()]
        return f"skipped {self.skipped_count} of {self.total} lines: " + ", ".join(parts) if parts else ""


def _read_bytes(path: Path, what: str) -> bytes:
    if not path.exists():
        raise GankitError(f"{what}: {str(path)!r} does not exist; give a UTF-8 text file")
    if path.is_dir():
        raise GankitError(f"{what}: {str(path)!r} is a folder; give a UTF-8 text file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise GankitError(f"{what}: cannot read {str(path)!r}: {exc.strerror or exc}") from None


def read_lines(path: Path, max_line_chars: int, what: str) -> tuple[list[str], LineReport]:
    """The usable lines of a text file, stripped of surrounding whitespace. Empty lines,
    lines that are not UTF-8 or hold NUL bytes, and lines over ``max_line_chars``
    characters are skipped and counted (one warning)."""
    data = _read_bytes(path, what)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()  # the newline ending the last line
    report = LineReport(total=len(raw_lines))
    lines = []
    for number, raw in enumerate(raw_lines, start=1):
        if b"\0" in raw:
            report.skip("with NUL bytes (binary?)", number)
            continue
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            report.skip("not UTF-8", number)
            continue
        if not line:
            report.skip("empty", number)
        elif len(line) > max_line_chars:
            report.skip(f"over {max_line_chars} characters", number)
        else:
            lines.append(line)
    if report.skipped:
        logger.warning("%s: %s", what, report.summary())
    if not lines:
        raise GankitError(f"{what}: no usable line in {str(path)!r} ({report.summary() or 'the file is empty'}); "
                          f"expected a UTF-8 text file with one sample a line")
    return lines, report


def read_text(path: Path, what: str) -> tuple[str, LineReport]:
    """A file's text with every line kept as written, except lines that are not UTF-8 or
    hold NUL bytes (skipped and counted)."""
    data = _read_bytes(path, what)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    raw_lines = data.splitlines(keepends=True)
    report = LineReport(total=len(raw_lines))
    parts = []
    for number, raw in enumerate(raw_lines, start=1):
        if b"\0" in raw:
            report.skip("with NUL bytes (binary?)", number)
            continue
        try:
            parts.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            report.skip("not UTF-8", number)
    if report.skipped:
        logger.warning("%s: %s", what, report.summary())
    return "".join(parts), report


# lines -----------------------------------------------------------------------------------------

def build_lines(options: LinesOptions, data_path: Path | None) -> TextDataset:
    """Every usable line of the file ``data_path`` is a sample; a seeded
    ``reference_fraction`` of them (or the file ``reference``) are BLEU's references.
    Duplicate lines are kept (the description counts the distinct ones)."""
    if data_path is None:
        raise GankitError("dataset 'lines' needs --data PATH: a UTF-8 text file, one sample a line")
    lines, report = read_lines(Path(data_path).expanduser(), options.max_line_chars, "lines")
    references: list[str] | None = None
    if options.reference is not None:
        ref_path = Path(options.reference).expanduser()
        references, ref_report = read_lines(ref_path, options.max_line_chars, "lines reference")
        source = f"{len(references)} lines of {ref_path.name}" + (
            f" ({ref_report.summary()})" if ref_report.skipped else "")
        train = lines
    elif options.reference_fraction > 0 and len(lines) >= 2:
        held = max(1, round(len(lines) * options.reference_fraction))
        order = torch.randperm(len(lines), generator=torch.Generator().manual_seed(options.data_seed)).tolist()
        chosen = set(order[:held])
        references = [line for i, line in enumerate(lines) if i in chosen]
        train = [line for i, line in enumerate(lines) if i not in chosen]
        source = (f"{held} lines of {Path(data_path).name} held out at random (reference_fraction "
                  f"{options.reference_fraction:g}, seed {options.data_seed}) and not trained on")
    else:
        train, source = lines, "none held out: the training lines themselves"
    tokenizer = tok.build(options.tokenizer, train, options.vocab_size)
    encoded = encode(tokenizer, train, options.max_length, options.long_lines, what="lines")
    if not encoded.kept:
        raise GankitError(f"lines: no line of {str(data_path)!r} fits max_length {options.max_length} with "
                          f"long_lines skip; raise max_length or use long_lines truncate")
    notes = [report.summary()] if report.skipped else []
    notes += encoded.notes
    held_note = f", {len(references)} held out as BLEU references" if references and options.reference is None else ""
    ref_note = f", references from {Path(options.reference).name}" if options.reference else ""
    description = (f"lines: {len(encoded.kept)} training samples from {Path(data_path).name} "
                   f"({len(set(train))} distinct{held_note}{ref_note}); {_summary(tokenizer, encoded.ids)}"
                   + "".join(f"; {n}" for n in notes))
    return TextDataset(encoded.ids, tokenizer, source="lines", description=description,
                       reference_texts=references,
                       reference_ids=encode_references(tokenizer, references, encoded.ids.shape[1])
                       if references else None,
                       reference_source=source)


# chars -----------------------------------------------------------------------------------------

def windows(text: str, window: int, stride: int) -> list[str]:
    """Every ``window`` characters of ``text`` starting at multiples of ``stride``."""
    return [text[start:start + window] for start in range(0, len(text) - window + 1, stride)]


def build_chars(options: CharsOptions, data_path: Path | None) -> TextDataset:
    """The text of ``data_path`` cut into windows of ``window`` characters every
    ``stride``; its last ``reference_fraction`` (cut into windows without overlap) is held
    out as BLEU references."""
    if data_path is None:
        raise GankitError("dataset 'chars' needs --data PATH: a UTF-8 text file (one long text)")
    text, report = read_text(Path(data_path).expanduser(), "chars")
    stride = options.stride or options.window
    split = len(text) - int(len(text) * options.reference_fraction)
    train_text, held_text = text[:split], text[split:]
    train = windows(train_text, options.window, stride)
    if not train:
        raise GankitError(f"chars: {Path(data_path).name} has {len(train_text)} usable characters to train on, fewer "
                          f"than one window of {options.window}; lower window or reference_fraction, or use more text"
                          + (f" ({report.summary()})" if report.skipped else ""))
    references = windows(held_text, options.window, options.window)
    tokenizer = tok.build(options.tokenizer, [train_text], options.vocab_size)
    encoded = encode(tokenizer, train, options.max_length, what="windows")
    notes = ([report.summary()] if report.skipped else []) + encoded.notes
    description = (f"chars: {len(encoded.kept)} windows of {options.window} characters every {stride} from "
                   f"{Path(data_path).name} ({len(text)} characters, the last {len(held_text)} held out: "
                   f"{len(references)} reference windows); {_summary(tokenizer, encoded.ids)}"
                   + "".join(f"; {n}" for n in notes))
    source = (f"{len(references)} windows of the text's last {len(held_text)} characters (reference_fraction "
              f"{options.reference_fraction:g}), not trained on" if references else
              "none held out: the training windows themselves")
    return TextDataset(encoded.ids, tokenizer, source="chars", description=description,
                       reference_texts=references or None,
                       reference_ids=encode_references(tokenizer, references, encoded.ids.shape[1])
                       if references else None,
                       reference_source=source)
