"""BLEU as the text-GAN literature computes it (Texygen, RelGAN): the **mean over
hypotheses of sentence-level BLEU-n** with uniform weights ``1/n`` over 1..n-grams, every
hypothesis against the **whole reference set**, with nltk's ``sentence_bleu`` semantics and
``SmoothingFunction().method1`` — written here without nltk:

- modified precision ``p_k``: each hypothesis k-gram's count clipped by its largest count in
  any one reference, summed, over the hypothesis' k-gram count (at least 1);
- smoothing method 1: a ``p_k`` with no match becomes ``0.1 / (its denominator)``;
- a hypothesis without a single matching unigram scores 0 (nltk returns 0 before smoothing);
- brevity penalty: ``r`` is the reference length closest to the hypothesis length ``c``
  (ties: the shorter); ``BP = 1`` if ``c > r``, 0 if ``c = 0``, else ``exp(1 - r/c)``;
- ``BLEU-n = BP · exp(Σ_k (1/n) log p_k)``.

Self-BLEU scores each of a set of hypotheses against all the *others* (Texygen's
``get_bleu_parallel``). The clip counts come from a table of each n-gram's largest and
second-largest count over the references (and who holds the largest), so leaving one out
costs nothing and the whole computation is linear in the text, not quadratic.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Literal, Sequence

from gankit.options import check_bounds, option

EPSILON = 0.1  # nltk SmoothingFunction().method1


def ngrams(words: Sequence[str], n: int) -> Counter:
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


class References:
    """Clip counts and lengths of a reference set, for n-gram orders 1..``max_order``."""

    def __init__(self, references: Iterable[Sequence[str]], max_order: int):
        self.max_order = max_order
        # order -> n-gram -> (largest count, index of a reference holding it, second largest)
        self.tables: list[dict[tuple[str, ...], tuple[int, int, int]]] = [{} for _ in range(max_order + 1)]
        self.length_counts: Counter = Counter()
        self.size = 0
        for index, words in enumerate(references):
            self.size += 1
            self.length_counts[len(words)] += 1
            for n in range(1, max_order + 1):
                table = self.tables[n]
                for gram, count in ngrams(words, n).items():
                    best, holder, second = table.get(gram, (0, -1, 0))
                    if count > best:
                        table[gram] = (count, index, best)
                    elif count > second:
                        table[gram] = (best, holder, count)
        self.lengths = sorted(self.length_counts)

    def clip(self, gram: tuple[str, ...], exclude: int = -1) -> int:
        """The largest count of ``gram`` in one reference, ignoring reference ``exclude``."""
        best, holder, second = self.tables[len(gram)].get(gram, (0, -1, 0))
        return second if holder == exclude else best

    def closest_length(self, hyp_len: int, exclude_length: int | None = None) -> int:
        """nltk's ``closest_ref_length``: the nearest reference length, the shorter on a
        tie; ``exclude_length`` removes one reference of that length (self-BLEU)."""
        lengths = self.lengths
        if exclude_length is not None and self.length_counts[exclude_length] == 1:
            lengths = [length for length in lengths if length != exclude_length]
        at = bisect_left(lengths, hyp_len)
        candidates = lengths[max(0, at - 1):at + 1]
        return min(candidates, key=lambda length: (abs(length - hyp_len), length))


def sentence_bleu(hypothesis: Sequence[str], references: References, orders: Sequence[int],
                  exclude: int = -1) -> dict[int, float]:
    """BLEU-n of one hypothesis for each n in ``orders`` (one pass over its n-grams).
    ``exclude`` leaves out reference ``exclude`` and its length (self-BLEU)."""
    top = max(orders)
    if top > references.max_order:
        raise ValueError(f"references were counted up to order {references.max_order}, not {top}")
    hyp_len = len(hypothesis)
    log_p: list[float] = []
    first_numerator = 0
    for n in range(1, top + 1):
        counts = ngrams(hypothesis, n)
        numerator = sum(min(count, references.clip(gram, exclude)) for gram, count in counts.items())
        denominator = max(1, sum(counts.values()))
        if n == 1:
            first_numerator = numerator
        log_p.append(math.log((numerator if numerator else EPSILON) / denominator))
    if first_numerator == 0:
        return {n: 0.0 for n in orders}
    ref_len = references.closest_length(hyp_len, hyp_len if exclude >= 0 else None)
    penalty = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return {n: penalty * math.exp(math.fsum(lp / n for lp in log_p[:n])) for n in orders}


def mean_bleu(hypotheses: Sequence[Sequence[str]], references: References | Sequence[Sequence[str]],
              orders: Sequence[int] = (2, 3, 4, 5)) -> dict[int, float]:
    """The mean over ``hypotheses`` of sentence-level BLEU-n against all ``references``."""
    if not isinstance(references, References):
        references = References(references, max(orders))
    if not hypotheses or references.size == 0:
        raise ValueError("BLEU needs at least one hypothesis and one reference")
    totals = dict.fromkeys(orders, 0.0)
    for hypothesis in hypotheses:
        for n, value in sentence_bleu(hypothesis, references, orders).items():
            totals[n] += value
    return {n: total / len(hypotheses) for n, total in totals.items()}


def self_bleu(texts: Sequence[Sequence[str]], orders: Sequence[int] = (2, 3, 4, 5)) -> dict[int, float]:
    """The mean over ``texts`` of each one's BLEU-n against all the others."""
    if len(texts) < 2:
        raise ValueError("self-BLEU needs at least two texts")
    references = References(texts, max(orders))
    totals = dict.fromkeys(orders, 0.0)
    for index, hypothesis in enumerate(texts):
        for n, value in sentence_bleu(hypothesis, references, orders, exclude=index).items():
            totals[n] += value
    return {n: total / len(texts) for n, total in totals.items()}


# The Texygen/RelGAN protocol --------------------------------------------------------------
# RelGAN's utils/metrics/Bleu.py (weilinie/RelGAN, a fork of Texygen's): nltk.word_tokenize
# of each line of the generated file and of the test file, every one of the first
# ``sample_size = 200`` generated lines against all test lines, nltk sentence_bleu with
# SmoothingFunction().method1, averaged. (An earlier RelGAN commit had 100; Texygen's own
# get_bleu_fast scores every generated line against the first 500 reference lines.)

TEXYGEN_SAMPLES = 200


@dataclass(frozen=True)
class BleuOptions:
    """Options of the ``bleu`` metric (``gankit evaluate --metric-option KEY VALUE``)."""

    bleu_protocol: Literal["gankit", "texygen"] = option(
        "gankit",
        "gankit: the definition of docs/text.md (every sample, whitespace words); texygen: RelGAN's Texygen "
        "protocol (nltk word_tokenize on both sides, the first 200 samples against the raw reference lines; give "
        "the test file as the dataset's reference to compare with papers)",
    )
    bleu_samples: int | None = option(
        None, "hypotheses scored (the first N samples); none: the protocol's own (gankit: all, texygen: 200)", ge=1)

    def __post_init__(self) -> None:
        check_bounds(self)
        if self.bleu_protocol not in ("gankit", "texygen"):
            raise ValueError(f"bleu_protocol must be gankit or texygen, got {self.bleu_protocol!r}")

# nltk 3.10's NLTKWordTokenizer (what nltk.word_tokenize applies to each sentence), its rules
# in order; nltk is Apache-2.0. A caption is one sentence, so sentence splitting is skipped
# (word_tokenize(text, preserve_line=True)).
_STARTING_QUOTES = [
    (re.compile("([«“‘„]|[`]+)"), r" \1 "),
    (re.compile(r"^\""), r"``"),
    (re.compile(r"(``)"), r" \1 "),
    (re.compile(r"([ \(\[{<])(\"|\'{2})"), r"\1 `` "),
    (re.compile(r"(?i)(?<!\w)(\')(?!(?:re|ve|ll|m|t|s|d|n)\b)(?=\w)"), r"\1 "),
]
_PUNCTUATION = [
    (re.compile(r'([^\.])(\.)([\]\)}>"\'' "»”’ " r"]*+)\s*$"), r"\1 \2 \3 "),
    (re.compile(r"([:,])([^\d])"), r" \1 \2"),
    (re.compile(r"([:,])$"), r" \1 "),
    (re.compile(r"\.{2,}"), r" \g<0> "),
    (re.compile(r"[;@#$%&]"), r" \g<0> "),
    (re.compile(r"[\u2012-\u2015]"), r" \g<0> "),
    (re.compile(r'([^\.])(\.)([\]\)}>"\']*)\s*$'), r"\1 \2\3 "),
    (re.compile(r"[?!]"), r" \g<0> "),
    (re.compile(r"([^'])' "), r"\1 ' "),
    (re.compile(r"[*]"), r" \g<0> "),
]
_PARENS_BRACKETS = (re.compile(r"[\]\[\(\)\{\}\<\>]"), r" \g<0> ")
_DOUBLE_DASHES = (re.compile(r"--"), r" -- ")
_ENDING_QUOTES = [
    (re.compile("([»”’])"), r" \1 "),
    (re.compile(r"''"), " '' "),
    (re.compile(r'"'), " '' "),
    (re.compile(r"\s+"), " "),
    (re.compile(r"([^' ])('[sS]|'[mM]|'[dD]|') "), r"\1 \2 "),
    (re.compile(r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) "), r"\1 \2 "),
]
_CONTRACTIONS = [re.compile(pattern) for pattern in (
    r"(?i)\b(can)(?#X)(not)\b", r"(?i)\b(d)(?#X)('ye)\b", r"(?i)\b(gim)(?#X)(me)\b", r"(?i)\b(gon)(?#X)(na)\b",
    r"(?i)\b(got)(?#X)(ta)\b", r"(?i)\b(lem)(?#X)(me)\b", r"(?i)\b(more)(?#X)('n)\b", r"(?i)\b(wan)(?#X)(na)(?=\s)",
    r"(?i) ('t)(?#X)(is)\b", r"(?i) ('t)(?#X)(was)\b")]


def word_tokenize(text: str) -> list[str]:
    """``nltk.word_tokenize(text, preserve_line=True)``: Penn-Treebank-style words, so
    ``"the front wheel."`` is ``[..., "wheel", "."]`` and ``"man's"`` is ``["man", "'s"]``."""
    for pattern, substitution in _STARTING_QUOTES:
        text = pattern.sub(substitution, text)
    for pattern, substitution in _PUNCTUATION:
        text = pattern.sub(substitution, text)
    for pattern, substitution in (_PARENS_BRACKETS, _DOUBLE_DASHES):
        text = pattern.sub(substitution, text)
    text = f" {text} "
    for pattern, substitution in _ENDING_QUOTES:
        text = pattern.sub(substitution, text)
    for pattern in _CONTRACTIONS:
        text = pattern.sub(r" \1 \2 ", text)
    return text.split()


def texygen_bleu(hypotheses: Sequence[str], references: Sequence[str] | References,
                 orders: Sequence[int] = (2, 3, 4, 5), samples: int = TEXYGEN_SAMPLES) -> dict[int, float]:
    """BLEU-n as RelGAN reports it: the first ``samples`` hypotheses (text lines), each
    against all ``references`` (text lines, or a :class:`References` of their
    :func:`word_tokenize` words), both split by :func:`word_tokenize`."""
    if not isinstance(references, References):
        references = References((word_tokenize(text) for text in references), max(orders))
    return mean_bleu([word_tokenize(text) for text in hypotheses[:samples]], references, orders)
