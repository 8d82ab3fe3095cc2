"""The two BLEU protocols of the ``bleu`` metric: gankit's own (whitespace words, every
sample) and the Texygen/RelGAN one (``--metric-option bleu_protocol texygen``: nltk's
word_tokenize on both sides, the first 200 samples against the raw reference lines). The
tokenizer and the scores are checked against nltk when it is installed (CI does not
install it: those tests are skipped there) and against hand-computed values always."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from gankit.cli import cli, main
from gankit.errors import GankitError
from gankit.evaluation import build_metric_options
from gankit.plugins.text import metrics
from gankit.plugins.text.bleu import TEXYGEN_SAMPLES, BleuOptions, texygen_bleu, word_tokenize
from gankit.plugins.text.data_options import LinesOptions
from gankit.plugins.text.data_specs import METRIC_SPECS
from gankit.plugins.text.datasets import build_lines
from gankit.specs import EvalContext

# (text, nltk.word_tokenize(text, preserve_line=True) with nltk 3.10)
TOKENIZED = [
    ("a bicycle replica with a clock as the front wheel.",
     ["a", "bicycle", "replica", "with", "a", "clock", "as", "the", "front", "wheel", "."]),
    ("a man's hat, on a t-shirt.", ["a", "man", "'s", "hat", ",", "on", "a", "t-shirt", "."]),
    ('He said "hello" (twice) -- can\'t; gonna $3.88 at 3,000 people... ok?',
     ["He", "said", "``", "hello", "''", "(", "twice", ")", "--", "ca", "n't", ";", "gon", "na", "$", "3.88", "at",
      "3,000", "people", "...", "ok", "?"]),
    ("'tis the `quote' don't I'll", ["'", "tis", "the", "`", "quote", "'", "do", "n't", "I", "'ll"]),
    ("St. Mary. Then.", ["St.", "Mary.", "Then", "."]),  # one line is one sentence: only the last period splits
]


@pytest.mark.parametrize("text,expected", TOKENIZED)
def test_word_tokenize_follows_nltk(text, expected):
    assert word_tokenize(text) == expected


def test_word_tokenize_equals_nltk_on_random_captions():
    nltk_tokenize = pytest.importorskip("nltk.tokenize").word_tokenize
    rng = random.Random(0)
    pieces = ["a", "man", "dog's", "wheel.", "t-shirt", ",", "3,000", "3.5", "(big)", '"quoted"', "can't", "--", "...",
              "it's", "'em", "$5", "ok?", "yes!", "x;y", "a:b", "[c]", "it'll", "<unk>", "gonna", "I'd"]
    for _ in range(300):
        text = " ".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        assert word_tokenize(text) == nltk_tokenize(text, preserve_line=True), text


def test_texygen_bleu_equals_the_mean_of_nltk_sentence_bleu():
    bleu_score = pytest.importorskip("nltk.translate.bleu_score")
    rng = random.Random(1)
    words = "a man dog rides the horse on beach wheel. near red bus , of".split()
    references = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 9))) for _ in range(40)]
    hypotheses = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 9))) for _ in range(30)]
    ours = texygen_bleu(hypotheses, references, orders=(2, 3, 4, 5), samples=25)
    tokenized_refs = [word_tokenize(text) for text in references]
    smoothing = bleu_score.SmoothingFunction().method1
    for n in (2, 3, 4, 5):
        theirs = [bleu_score.sentence_bleu(tokenized_refs, word_tokenize(h), tuple([1 / n] * n),
                                           smoothing_function=smoothing) for h in hypotheses[:25]]
        assert ours[n] == pytest.approx(sum(theirs) / len(theirs), abs=1e-12)


def test_texygen_bleu_splits_punctuation_and_scores_only_the_first_samples():
    references = ["a man rides a horse on the beach.", "a red bus parked near the road."]
    # a tokenizer that keeps words and periods apart: whitespace BLEU misses "beach." vs "beach ."
    good = "a man rides a horse on the beach ."
    assert texygen_bleu([good], references) == {2: 1.0, 3: 1.0, 4: 1.0, 5: 1.0}
    assert metrics.bleu_lib.mean_bleu([good.split()], [r.split() for r in references], (4,))[4] < 0.9
    # RelGAN's sample_size: the samples after the first 200 are not scored
    hypotheses = [good] * TEXYGEN_SAMPLES + ["zebra"] * 50
    assert texygen_bleu(hypotheses, references)[3] == 1.0
    assert texygen_bleu(hypotheses, references, samples=250)[3] == pytest.approx(TEXYGEN_SAMPLES / 250)


@pytest.fixture()
def coco_like(tmp_path: Path):
    train = ["a man rides a horse on the beach.", "a red bus parked near the road.", "a dog sleeps on a bed.",
             "two people walk in the park."] * 30
    (tmp_path / "train.txt").write_text("\n".join(train) + "\n")
    (tmp_path / "test.txt").write_text("a man rides a horse on a beach.\na red bus near the road.\n")
    dataset = build_lines(LinesOptions(reference=str(tmp_path / "test.txt")), tmp_path / "train.txt")
    return dataset, tmp_path


def context(dataset, options=None) -> EvalContext:
    n = len(dataset.tensors[0])
    return EvalContext(real=dataset.tensors[0], real_labels=torch.full((n,), -1), fake_labels=None,
                       info=dataset.info, dataset=dataset, dataset_key="test-bleu-protocols", cache_dir=Path("."),
                       device=torch.device("cpu"), options=options)


def test_the_bleu_metric_takes_the_protocol_as_a_metric_option(coco_like):
    dataset, _ = coco_like
    fake = dataset.tensors[0]  # 120 training captions as the "samples"
    spec = next(spec for spec in METRIC_SPECS if spec.name == "bleu")
    options = build_metric_options([spec], {"bleu-protocol": "texygen"})["bleu"]
    assert options == BleuOptions(bleu_protocol="texygen")
    texygen = metrics.bleu(fake, context(dataset, options))
    own = metrics.bleu(fake, context(dataset))
    assert texygen.protocol["bleu_protocol"] == "texygen" and "bleu_protocol" not in own.protocol
    assert texygen.protocol["samples"] == 120 and texygen.protocol["reference_count"] == 2
    assert "test.txt" in texygen.protocol["references"]
    # "beach." is one whitespace word but two treebank words, so the protocols differ
    assert texygen.values["bleu2"] > own.values["bleu2"]
    capped = metrics.bleu(fake, context(dataset, BleuOptions(bleu_protocol="texygen", bleu_samples=4)))
    assert capped.protocol["samples"] == 4
    assert metrics.bleu(fake, context(dataset, BleuOptions(bleu_samples=4))).protocol["samples"] == 4


def test_bad_metric_options_are_one_line_errors():
    spec = next(spec for spec in METRIC_SPECS if spec.name == "bleu")
    with pytest.raises(GankitError, match="bleu_protocol must be gankit or texygen|not allowed; choose one of"):
        build_metric_options([spec], {"bleu_protocol": "relgan2"})
    with pytest.raises(GankitError, match=r"no metric here \(bleu, diversity\) takes the option 'resize'"):
        build_metric_options(METRIC_SPECS[:2], {"resize": "clean"})


def test_gankit_evaluate_passes_metric_options(coco_like, capsys):
    dataset, folder = coco_like
    samples = folder / "samples.npy"
    np.save(samples, dataset.tensors[0][:20].numpy())
    args = ["evaluate", "--samples", str(samples), "--domain", "text", "--dataset", "lines", "--data",
            str(folder / "train.txt"), "-o", "reference", str(folder / "test.txt"), "--metric", "bleu", "-n", "20"]
    result = CliRunner().invoke(cli, [*args, "--metric-option", "bleu_protocol", "texygen"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["metrics"]["bleu"]["protocol"]["bleu_protocol"] == "texygen"
    with pytest.raises(SystemExit) as exited:
        main([*args, "--metric-option", "resize", "clean"])
    error = capsys.readouterr().err
    assert exited.value.code == 2 and error.strip().count("\n") == 0
    assert "takes the option 'resize'; they take: bleu_protocol, bleu_samples" in error
