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
from bisect import bisect_left
from collections import Counter
from typing import Iterable, Sequence

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
