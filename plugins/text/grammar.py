"""The embedded ``grammar`` language: a small context-free grammar of English-like
sentences with number agreement, a seeded sentence sampler, and an exact validity check.

``is_valid`` runs an Earley recogniser over the grammar itself, so it accepts exactly the
sentences the grammar derives (of any length), not a list of sentences seen before. A
generator that copies word frequencies but not structure ("the dogs sleeps", "sees the
cat") is caught: subject and verb must agree in number, determiners must agree with
their noun, and every sentence needs a subject and a verb phrase.
"""

from __future__ import annotations

import random
from typing import Sequence

# Non-terminal -> alternatives, each (sampling weight, right-hand side). Symbols in
# LEXICON are pre-terminals (parts of speech); the rest are phrases.
RULES: dict[str, tuple[tuple[float, tuple[str, ...]], ...]] = {
    "S": ((1.0, ("NP_SG", "VP_SG")), (1.0, ("NP_PL", "VP_PL"))),
    "NP": ((1.0, ("NP_SG",)), (1.0, ("NP_PL",))),
    "NP_SG": ((0.8, ("DET_SG", "NOM_SG")), (0.2, ("NAME",))),
    "NP_PL": ((1.0, ("DET_PL", "NOM_PL")),),
    "NOM_SG": ((0.65, ("N_SG",)), (0.25, ("ADJ", "NOM_SG")), (0.10, ("N_SG", "PP"))),
    "NOM_PL": ((0.65, ("N_PL",)), (0.25, ("ADJ", "NOM_PL")), (0.10, ("N_PL", "PP"))),
    "PP": ((1.0, ("P", "NP")),),
    "VP_SG": ((0.3, ("VI_SG",)), (0.15, ("VI_SG", "ADV")), (0.15, ("VI_SG", "PP")), (0.4, ("VT_SG", "NP"))),
    "VP_PL": ((0.3, ("VI_PL",)), (0.15, ("VI_PL", "ADV")), (0.15, ("VI_PL", "PP")), (0.4, ("VT_PL", "NP"))),
}

LEXICON: dict[str, tuple[str, ...]] = {
    "DET_SG": ("the", "a", "every", "this"),
    "DET_PL": ("the", "some", "many", "these"),
    "N_SG": ("dog", "cat", "bird", "child", "teacher", "farmer"),
    "N_PL": ("dogs", "cats", "birds", "children", "teachers", "farmers"),
    "NAME": ("alice", "bob"),
    "ADJ": ("small", "happy", "old", "red"),
    "VI_SG": ("sleeps", "runs", "laughs"),
    "VI_PL": ("sleep", "run", "laugh"),
    "VT_SG": ("sees", "likes", "chases"),
    "VT_PL": ("see", "like", "chase"),
    "P": ("near", "with", "behind"),
    "ADV": ("quickly", "quietly"),
}

START = "S"
WORDS: tuple[str, ...] = tuple(sorted({word for words in LEXICON.values() for word in words}))
MAX_WORDS = 12

_TAGS: dict[str, frozenset[str]] = {
    word: frozenset(tag for tag, words in LEXICON.items() if word in words) for word in WORDS
}


def sample_sentences(count: int, seed: int = 0, max_words: int = MAX_WORDS) -> list[str]:
    """``count`` sentences drawn from the grammar with ``random.Random(seed)``: each is a
    random derivation (alternatives chosen by their weights, words uniformly), redrawn
    while it has more than ``max_words`` words. Duplicates are kept: they are draws."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if max_words < 2:
        raise ValueError(f"max_words must be at least 2 (the shortest sentence is 'alice runs'), got {max_words}")
    rng = random.Random(seed)
    sentences = []
    while len(sentences) < count:
        words = _expand(START, rng, budget=max_words)
        if words is not None:
            sentences.append(" ".join(words))
    return sentences


def _expand(symbol: str, rng: random.Random, budget: int) -> list[str] | None:
    """One derivation of ``symbol``; None as soon as it exceeds ``budget`` words (the
    caller redraws, which keeps the distribution a truncated one, not a distorted one)."""
    if symbol in LEXICON:
        return [rng.choice(LEXICON[symbol])]
    alternatives = RULES[symbol]
    weights = [weight for weight, _ in alternatives]
    _, rhs = rng.choices(alternatives, weights=weights)[0]
    words: list[str] = []
    for part in rhs:
        expanded = _expand(part, rng, budget - len(words))
        if expanded is None:
            return None
        words.extend(expanded)
        if len(words) > budget:
            return None
    return words


def is_valid(sentence: str) -> bool:
    """Whether the grammar derives ``sentence`` (words separated by whitespace, lower case,
    no punctuation). Exact, by Earley recognition; any length is judged."""
    return parses(sentence.split())


def parses(words: Sequence[str]) -> bool:
    """Earley recognition of ``words`` from the start symbol. Items are
    ``(lhs, rhs, dot, origin)``; pre-terminals are scanned against each word's tags.
    The grammar has no empty rules, so prediction and completion need no special cases."""
    if not words or any(word not in _TAGS for word in words):
        return False
    chart: list[set[tuple[str, tuple[str, ...], int, int]]] = [set() for _ in range(len(words) + 1)]
    chart[0] = {("GAMMA", (START,), 0, 0)}
    for position in range(len(words) + 1):
        agenda = list(chart[position])
        while agenda:
            lhs, rhs, dot, origin = agenda.pop()
            if dot < len(rhs):
                symbol = rhs[dot]
                if symbol in LEXICON:
                    if position < len(words) and symbol in _TAGS[words[position]]:
                        chart[position + 1].add((lhs, rhs, dot + 1, origin))
                    continue
                for _, expansion in RULES[symbol]:
                    item = (symbol, expansion, 0, position)
                    if item not in chart[position]:
                        chart[position].add(item)
                        agenda.append(item)
            else:
                for waiting in list(chart[origin]):  # origin < position: that set is final
                    w_lhs, w_rhs, w_dot, w_origin = waiting
                    if w_dot < len(w_rhs) and w_rhs[w_dot] == lhs:
                        item = (w_lhs, w_rhs, w_dot + 1, w_origin)
                        if item not in chart[position]:
                            chart[position].add(item)
                            agenda.append(item)
    return ("GAMMA", (START,), 1, 0) in chart[len(words)]
