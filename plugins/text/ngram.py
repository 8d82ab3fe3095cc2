"""An interpolated Kneser-Ney n-gram language model over token ids (Chen & Goodman 1999,
one discount ``D`` per model), for scoring samples by the training data's statistics.

Each sequence is its tokens followed by EOS, with ``order - 1`` BOS tokens of left context.
For a history ``h`` of ``order - 1`` tokens,

    P(w | h) = max(c(h w) - D, 0) / c(h) + D · T(h) / c(h) · P'(w | h[1:])

with raw counts ``c`` and ``T(h)`` the number of distinct tokens seen after ``h``; a
history never seen falls back to ``P'`` entirely. The lower orders ``P'`` have the same
form with *continuation* counts (how many distinct tokens precede ``h w``) in place of
``c``, and the recursion ends in the uniform distribution over the whole vocabulary, so
every token of any sequence has a probability above zero.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Iterable, Sequence

DISCOUNT = 0.75


class KneserNey:
    def __init__(self, sequences: Iterable[Sequence[int]], *, order: int, vocab_size: int, bos_id: int,
                 eos_id: int, discount: float = DISCOUNT):
        if order < 1:
            raise ValueError(f"order must be at least 1, got {order}")
        self.order, self.vocab_size, self.discount = order, vocab_size, discount
        self.bos_id, self.eos_id = bos_id, eos_id
        top: Counter = Counter()
        for sequence in sequences:
            padded = self._padded(sequence)
            top.update(tuple(padded[i:i + order]) for i in range(len(padded) - order + 1))
        # counts[k]: history of k-1 tokens -> next token -> count (raw at the top order,
        # continuation counts below); totals and distinct-successor counts per history.
        self.counts: list[dict[tuple[int, ...], dict[int, int]]] = [{} for _ in range(order + 1)]
        self._add(order, top)
        grams = set(top)
        for k in range(order - 1, 0, -1):
            continuation: Counter = Counter(gram[1:] for gram in grams)
            self._add(k, continuation)
            grams = set(continuation)
        self.totals = [{h: sum(nxt.values()) for h, nxt in level.items()} for level in self.counts]
        self.types = [{h: len(nxt) for h, nxt in level.items()} for level in self.counts]

    def _add(self, k: int, grams: Counter) -> None:
        level: dict[tuple[int, ...], dict[int, int]] = defaultdict(dict)
        for gram, count in grams.items():
            level[gram[:-1]][gram[-1]] = count
        self.counts[k] = dict(level)

    def _padded(self, sequence: Sequence[int]) -> list[int]:
        return [self.bos_id] * (self.order - 1) + [int(t) for t in sequence] + [self.eos_id]

    def probability(self, history: tuple[int, ...], token: int) -> float:
        """P(token | the last order-1 tokens of history)."""
        prob = 1.0 / self.vocab_size
        for k in range(1, self.order + 1):
            h = history[len(history) - (k - 1):] if k > 1 else ()
            total = self.totals[k].get(h)
            if not total:
                continue
            count = self.counts[k][h].get(token, 0)
            prob = max(count - self.discount, 0.0) / total + self.discount * self.types[k][h] / total * prob
        return prob

    def nll(self, sequence: Sequence[int]) -> float:
        """Mean negative log-likelihood per token (nats) of ``sequence`` and its EOS."""
        padded = self._padded(sequence)
        start = self.order - 1
        total = 0.0
        for i in range(start, len(padded)):
            total -= math.log(self.probability(tuple(padded[i - start:i]), padded[i]))
        return total / (len(padded) - start)
