"""Text metrics: BLEU and self-BLEU against hand-computed values (nltk's sentence_bleu
with smoothing method 1, implemented without nltk), the Kneser-Ney model, and each
metric's behaviour on real, random and collapsed samples."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from gankit.plugins.text import metrics
from gankit.plugins.text.bleu import References, mean_bleu, self_bleu, sentence_bleu
from gankit.plugins.text.data_options import GrammarOptions, LinesOptions, OracleOptions
from gankit.plugins.text.datasets import build_grammar, build_lines, build_oracle
from gankit.plugins.text.ngram import KneserNey
from gankit.specs import EvalContext

REFS = ["the cat is on the mat".split(), "there is a cat on the mat".split()]


def bleu_of(hypothesis: str, references: list[list[str]], orders=(2, 3, 4, 5)) -> dict[int, float]:
    return sentence_bleu(hypothesis.split(), References(references, 5), orders)


# BLEU by hand ----------------------------------------------------------------------------------

def test_bleu_matches_a_hand_computation():
    # "the cat on the mat": unigrams 5/5 (the x2 clipped by ref 1's two), bigrams 4/4,
    # trigrams 2/3 (the cat on: none), 4-grams 1/2 (cat on the mat, ref 2), 5-grams 0/1 ->
    # 0.1/1. Length 5, references 6 and 7: r = 6, BP = exp(1 - 6/5).
    bp = math.exp(-0.2)
    got = bleu_of("the cat on the mat", REFS)
    assert got[2] == pytest.approx(bp * 1.0)
    assert got[3] == pytest.approx(bp * (2 / 3) ** (1 / 3))
    assert got[4] == pytest.approx(bp * (2 / 3 * 1 / 2) ** (1 / 4))
    assert got[5] == pytest.approx(bp * (2 / 3 * 1 / 2 * 0.1) ** (1 / 5))


def test_bleu_clips_repeated_words():
    # unigrams: "the" x7 clipped to 2 -> 2/7; bigrams "the the" x6 unmatched -> 0.1/6;
    # length 7 equals ref 2's: BP = 1.
    got = bleu_of("the the the the the the the", REFS, orders=(2,))
    assert got[2] == pytest.approx(math.sqrt(2 / 7 * 0.1 / 6))


def test_bleu_smoothing_uses_the_hypothesis_ngram_count():
    # "a b c d" vs "a x y z w": unigrams 1/4, bigrams 0/3 -> 0.1/3, trigrams 0/2 -> 0.1/2;
    # c = 4 < r = 5: BP = exp(1 - 5/4).
    got = bleu_of("a b c d", [["a", "x", "y", "z", "w"]], orders=(2, 3))
    assert got[2] == pytest.approx(math.exp(-0.25) * (1 / 4 * 0.1 / 3) ** (1 / 2))
    assert got[3] == pytest.approx(math.exp(-0.25) * (1 / 4 * 0.1 / 3 * 0.1 / 2) ** (1 / 3))
    # a hypothesis shorter than n: the order's count is 0, its denominator 1 -> 0.1
    assert bleu_of("a b", [["a", "c"]], orders=(3,))[3] == pytest.approx((1 / 2 * 0.1 * 0.1) ** (1 / 3))


def test_bleu_brevity_penalty_takes_the_shorter_of_two_equally_close_references():
    # length 5 between references of 4 and 6: r = 4, so c > r and BP = 1 (not exp(1 - 6/5))
    assert bleu_of("a b c d e", [["a", "b", "c", "d"], ["a", "b", "c", "d", "e", "f"]], (2,))[2] == 1.0


def test_bleu_is_zero_without_a_unigram_match_or_words():
    assert bleu_of("zebra", REFS) == {2: 0.0, 3: 0.0, 4: 0.0, 5: 0.0}
    assert bleu_of("", REFS) == {2: 0.0, 3: 0.0, 4: 0.0, 5: 0.0}
    assert bleu_of("the cat is on the mat", REFS)[5] == 1.0


def test_mean_bleu_averages_sentence_scores():
    hyps = ["the cat on the mat".split(), "zebra".split()]
    assert mean_bleu(hyps, REFS, (2,))[2] == pytest.approx(math.exp(-0.2) / 2)


def test_self_bleu_leaves_each_sample_out_of_its_own_references():
    # "a b" twice: each matches the other exactly (1); "c d" matches neither (0).
    texts = [["a", "b"], ["a", "b"], ["c", "d"]]
    assert self_bleu(texts, (2,))[2] == pytest.approx(2 / 3)
    # three distinct samples: no sample is its own reference, so nothing scores 1
    assert self_bleu([["a", "b"], ["c", "d"], ["e", "f"]], (2,))[2] == 0.0


def test_self_bleu_equals_bleu_against_the_others_computed_one_by_one():
    texts = [s.split() for s in ["the dog runs", "the dog runs fast", "a cat runs", "the cat sleeps", "dogs run"]]
    fast = self_bleu(texts, (2, 3, 4))
    for n in (2, 3, 4):
        slow = sum(sentence_bleu(t, References(texts[:i] + texts[i + 1:], 4), (n,))[n]
                   for i, t in enumerate(texts)) / len(texts)
        assert fast[n] == pytest.approx(slow)


# Kneser-Ney ------------------------------------------------------------------------------------

def test_kneser_ney_is_a_distribution_for_seen_and_unseen_histories():
    sequences = [[4, 5, 6], [4, 5, 7], [6, 5, 4, 4]]
    model = KneserNey(sequences, order=3, vocab_size=9, bos_id=2, eos_id=1)
    for history in [(2, 2), (4, 5), (5, 4), (8, 8), (6, 6)]:
        assert sum(model.probability(history, w) for w in range(9)) == pytest.approx(1.0)
    # seen continuations are likelier than unseen ones
    assert model.probability((4, 5), 6) > model.probability((4, 5), 8)
    assert model.nll([4, 5, 6]) < model.nll([8, 8, 8])


def test_kneser_ney_unigram_continuation_counts():
    # "b" follows many different tokens, "c" only one (many times): continuation
    # counts make "b" the likelier unigram although "c" is more frequent.
    sequences = [[4, 6], [5, 6], [7, 6], [4, 8, 8, 8, 8, 8, 8]]
    model = KneserNey(sequences, order=2, vocab_size=9, bos_id=2, eos_id=1)
    assert model.probability((3,), 6) > model.probability((3,), 8)


# The metrics on datasets -------------------------------------------------------------------------

def context(dataset, n: int = 200, generator=None) -> EvalContext:
    ctx = EvalContext(real=dataset.tensors[0][:n].float(), real_labels=torch.full((n,), -1), fake_labels=None,
                      info=dataset.info, dataset=dataset, dataset_key=f"test-{dataset.source}-{len(dataset)}",
                      cache_dir=Path("."), device=torch.device("cpu"))
    ctx.generator = generator
    return ctx


@pytest.fixture(scope="module")
def grammar_data():
    return build_grammar(GrammarOptions(count=1000, reference_count=300, data_seed=5))


def random_ids(dataset, n: int, seed: int = 0) -> torch.Tensor:
    length, vocab = dataset.info.shape[0], dataset.info.vocab_size
    ids = torch.randint(4, vocab, (n, length), generator=torch.Generator().manual_seed(seed))
    ids[:, -1] = 1
    return ids


def test_bleu_metric_ranks_real_sentences_above_random_words(grammar_data):
    ctx = context(grammar_data)
    real = metrics.bleu(grammar_data.tensors[0][:200], ctx)
    noise = metrics.bleu(random_ids(grammar_data, 200), ctx)
    for n in (2, 3, 4, 5):
        assert real.values[f"bleu{n}"] > noise.values[f"bleu{n}"] + 0.2
    assert real.protocol["reference_count"] == 300 and real.protocol["samples"] == 200
    assert "seed apart" in real.protocol["references"] and "method1" in real.protocol["definition"]


def test_diversity_catches_collapse_and_copying(grammar_data):
    ctx = context(grammar_data)
    train = grammar_data.tensors[0][:200]
    varied = metrics.diversity(train, ctx).values
    collapsed = metrics.diversity(train[:1].repeat(200, 1), ctx).values
    assert collapsed["unique"] == pytest.approx(1 / 200) and collapsed["self_bleu4"] > varied["self_bleu4"]
    assert varied["copied"] == 1.0  # training sentences are copies by definition
    novel = metrics.diversity(grammar_data.reference_ids[:200], ctx).values
    assert novel["copied"] < 0.9


def test_self_bleu_uses_at_most_500_samples(grammar_data):
    ids = grammar_data.tensors[0][:600]
    ctx = context(grammar_data)
    full, first = metrics.diversity(ids, ctx), metrics.diversity(ids[:500], ctx)
    assert all(full.values[f"self_bleu{n}"] == first.values[f"self_bleu{n}"] for n in (2, 3, 4, 5))
    assert "first 500 samples" in full.protocol["self_bleu"]


def test_ngram_nll_is_low_for_held_out_sentences_and_high_for_noise(grammar_data):
    ctx = context(grammar_data)
    held_out = metrics.ngram_nll(grammar_data.reference_ids[:200], ctx).values
    noise = metrics.ngram_nll(random_ids(grammar_data, 200), ctx).values
    assert held_out["ngram_nll"] < noise["ngram_nll"] - 1.0
    assert held_out["ngram_nll_reference"] == pytest.approx(held_out["ngram_nll"], abs=0.3)


def test_grammar_metric_counts_valid_novel_and_distinct_sentences(grammar_data):
    ctx = context(grammar_data)
    train = grammar_data.tensors[0]
    batch = torch.cat([train[:3], train[:1], random_ids(grammar_data, 4)])
    values = metrics.grammar(batch, ctx).values
    # 4 of 8 valid (3 distinct training sentences + a repeat), none novel; random words are not
    # sentences of the grammar (checked, since chance could make one)
    from gankit.plugins.text.grammar import is_valid
    from gankit.plugins.text.io import decode

    assert not any(is_valid(t) for t in decode(batch[4:], grammar_data.info))
    assert values == {"valid": 0.5, "valid_novel": 0.0, "valid_unique": pytest.approx(3 / 8)}


def test_dataset_specific_metrics_skip_other_datasets(tmp_path):
    path = tmp_path / "d.txt"
    path.write_text("a b c\nd e f\ng h i\n")
    lines = build_lines(LinesOptions(reference_fraction=0.0), path)
    ctx = context(lines, n=3)
    for compute in (metrics.grammar, metrics.oracle):
        result = compute(lines.tensors[0], ctx)
        assert result.values == {} and "'lines'" in result.protocol["skipped"]
    bleu = metrics.bleu(lines.tensors[0], ctx)  # no held-out lines: training lines are the references
    assert bleu.values["bleu2"] == 1.0 and "no references apart from training" in bleu.protocol["references"]


class ConstantNLL(torch.nn.Module):
    """A stand-in generator whose token_nll is known, to check the NLL_gen wiring."""

    def __init__(self):
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def token_nll(self, ids: torch.Tensor) -> torch.Tensor:
        assert not self.training  # scored in eval mode
        self.seen.append(ids)
        return torch.full((len(ids),), 2.5)


def test_oracle_metric_scores_quality_and_diversity():
    data = build_oracle(OracleOptions(count=300, oracle_vocab=40, oracle_length=8, reference_count=100))
    generator = ConstantNLL()
    ctx = context(data, generator=generator)
    real = metrics.oracle(data.tensors[0][:100], ctx).values
    noise = metrics.oracle(random_ids(data, 100), ctx).values
    assert real["oracle_malformed"] == 0.0 and real["nll_oracle"] == pytest.approx(real["nll_oracle_real"], abs=0.3)
    assert noise["nll_oracle"] > real["nll_oracle"] + 1.0
    assert real["nll_gen"] == 2.5 and torch.equal(torch.cat(generator.seen[:1]), data.reference_ids)
    early_end = data.tensors[0][:10].clone()
    early_end[:5, 3:] = 0
    early_end[:5, 3] = 1
    assert metrics.oracle(early_end, ctx).values["oracle_malformed"] == 0.5
    without = metrics.oracle(data.tensors[0][:10], context(data))
    assert "nll_gen" not in without.values and "not computed" in without.protocol["nll_gen"]
