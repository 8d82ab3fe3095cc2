"""The text datasets: the embedded grammar (sampler and exact parser) and oracle, ``lines``
with its bad-line handling and held-out split, and ``chars`` windows. Files are written in
tmp_path."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
import torch

from gankit.errors import GankitError
from gankit.options import build_options
from gankit.plugins.text import grammar
from gankit.plugins.text.data_options import CharsOptions, GrammarOptions, LinesOptions, OracleOptions
from gankit.plugins.text.data_specs import DATASET_SPECS, METRIC_SPECS
from gankit.plugins.text.datasets import build_chars, build_grammar, build_lines, build_oracle
from gankit.plugins.text.io import decode


def assert_canonical(ids: torch.Tensor, eos: int = 1, pad: int = 0) -> None:
    """Every row: tokens (no PAD/EOS), one EOS, then only PAD."""
    assert ids.dtype == torch.long and ids.ndim == 2
    for row in ids.tolist():
        end = row.index(eos)
        assert end >= 1 and pad not in row[:end] and all(t == pad for t in row[end + 1:]), row


# grammar -------------------------------------------------------------------------------------

@pytest.mark.parametrize("sentence", [
    "alice runs",
    "the dog sleeps",
    "the dogs sleep quietly",
    "every small happy cat chases some birds near bob",
    "these children laugh with a red bird",
    "a dog near the cats sees alice",
])
def test_grammar_accepts_sentences_it_derives(sentence):
    assert grammar.is_valid(sentence)


@pytest.mark.parametrize("sentence", [
    "",
    "the dogs sleeps",          # subject-verb agreement
    "a dogs run",               # determiner-noun agreement
    "these dog sleeps",
    "sees the cat",             # no subject
    "the dog",                  # no verb phrase
    "dog sleeps",               # no determiner
    "bob sees alice quickly",   # adverbs only after intransitive verbs
    "the dog sleeps near",      # preposition without its noun phrase
    "the dog sleeps .",         # unknown token
    "the zebra sleeps",
])
def test_grammar_rejects_what_it_cannot_derive(sentence):
    assert not grammar.is_valid(sentence)


def test_grammar_parser_judges_sentences_longer_than_any_sample():
    long = "the old old old old old old old old old dog near the cats near bob sees alice"
    assert len(long.split()) > 12 and grammar.is_valid(long)
    assert not grammar.is_valid(long.replace("sees", "see"))


def test_grammar_samples_are_valid_bounded_and_seeded():
    sentences = grammar.sample_sentences(400, seed=3, max_words=8)
    assert all(grammar.is_valid(s) for s in sentences)
    assert max(len(s.split()) for s in sentences) <= 8
    assert min(len(s.split()) for s in sentences) == 2
    assert sentences == grammar.sample_sentences(400, seed=3, max_words=8)
    assert sentences != grammar.sample_sentences(400, seed=4, max_words=8)
    assert len(set(sentences)) > 200  # varied, not a handful of sentences
    assert len(grammar.WORDS) == 42


def test_grammar_dataset_is_canonical_with_held_out_references():
    data = build_grammar(GrammarOptions(count=300, reference_count=50, data_seed=1))
    x, y = data.tensors
    assert x.shape[0] == 300 and (y == -1).all()
    assert_canonical(x)
    info = data.info
    assert info.dtype == "int64" and info.value_range is None and info.num_classes == 0
    assert info.shape == (x.shape[1],) and info.shape[0] <= 13
    assert info.vocab_size == 4 + 42  # special tokens + every grammar word (the word tokenizer includes them all)
    assert set(info.extra) >= {"tokenizer", "tokenizer_kind", "pad_id", "eos_id", "bos_id"}
    texts = decode(x, info)
    assert texts == grammar.sample_sentences(300, seed=1)
    assert len(data.reference_texts) == 50 and data.reference_ids.shape == (50, x.shape[1])
    assert data.reference_texts != texts[:50]
    assert "300 sentences" in data.description and "50 held out" in data.description


@pytest.mark.parametrize("kind", ["char", "bpe"])
def test_grammar_dataset_with_other_tokenizers_decodes_to_the_same_sentences(kind):
    data = build_grammar(GrammarOptions(count=100, reference_count=0, tokenizer=kind, vocab_size=300 if kind == "bpe"
                                        else 0))
    assert decode(data.tensors[0], data.info) == grammar.sample_sentences(100, seed=0)
    assert data.info.extra["tokenizer_kind"] == kind
    assert data.reference_texts is None and data.reference_ids is None


def test_grammar_max_length_truncates_and_says_so():
    data = build_grammar(GrammarOptions(count=200, max_length=4))
    assert data.tensors[0].shape[1] == 4
    assert_canonical(data.tensors[0])
    assert "truncated to 3 tokens" in data.description


# oracle --------------------------------------------------------------------------------------

def test_oracle_dataset_is_fixed_length_and_follows_its_seeds():
    options = OracleOptions(count=64, oracle_vocab=30, oracle_length=6, reference_count=16)
    data = build_oracle(options)
    x = data.tensors[0]
    assert x.shape == (64, 7) and data.info.vocab_size == 34
    assert (x[:, :6] >= 4).all() and (x[:, 6] == 1).all()
    assert torch.equal(x, build_oracle(options).tensors[0])
    assert not torch.equal(x, build_oracle(OracleOptions(count=64, oracle_vocab=30, oracle_length=6,
                                                         data_seed=1)).tensors[0])
    other_oracle = build_oracle(OracleOptions(count=64, oracle_vocab=30, oracle_length=6, oracle_seed=1))
    assert not torch.equal(data.oracle.out.weight, other_oracle.oracle.out.weight)
    assert data.reference_ids.shape == (16, 7) and len(data.reference_texts) == 16
    assert decode(x[:1], data.info)[0].split()[0].startswith("t")


def test_oracle_likelihood_is_exact_and_prefers_its_own_samples():
    data = build_oracle(OracleOptions(count=400, oracle_vocab=50, oracle_length=10))
    oracle = data.oracle
    samples = data.tensors[0][:, :10] - 4
    uniform = torch.randint(0, 50, samples.shape, generator=torch.Generator().manual_seed(0))
    own, other = oracle.nll(samples).mean(), oracle.nll(uniform).mean()
    assert own < other - 1.0  # the oracle's samples follow it; uniform tokens do not
    # exactness: the per-token NLL is the mean of -log softmax at each step, by hand for one sequence
    seq = samples[:1]
    state, total, token = None, 0.0, torch.tensor([[oracle.vocab]])
    for t in range(10):
        hidden, state = oracle.lstm(oracle.embedding(token), state)
        total -= torch.log_softmax(oracle.out(hidden[:, -1]).double(), -1)[0, seq[0, t]].item()
        token = seq[:, t:t + 1]
    assert oracle.nll(seq).item() == pytest.approx(total / 10, rel=1e-6)  # float32 LSTM, batched vs stepwise


# lines ---------------------------------------------------------------------------------------

def write_bytes(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_lines_skips_and_counts_bad_lines_without_failing(tmp_path, caplog):
    data = (b"the cat sat\n"
            b"\n"
            b"   \t \n"
            b"caf\xe9 in latin-1\n"             # not UTF-8
            b"a binary\x00line\n"
            + b"x" * 50 + b"\n" +               # over-long
            b"the dog ran\r\n"
            b"the cat sat\n")                   # a duplicate: kept
    path = write_bytes(tmp_path, "bad.txt", data)
    with caplog.at_level(logging.WARNING, logger="gankit"):
        dataset = build_lines(LinesOptions(reference_fraction=0.0, max_line_chars=40), path)
    assert decode(dataset.tensors[0], dataset.info) == ["the cat sat", "the dog ran", "the cat sat"]
    text = dataset.description
    assert "skipped 5 of 8 lines" in text
    assert "2 empty (first: line 2)" in text and "1 not UTF-8 (first: line 4)" in text
    assert "1 with NUL bytes" in text and "1 over 40 characters (first: line 6)" in text
    assert "2 distinct" in text
    assert any("skipped 5 of 8 lines" in r.getMessage() for r in caplog.records)


def test_lines_with_nothing_usable_is_a_clear_error(tmp_path):
    with pytest.raises(GankitError, match="no usable line.*2 empty"):
        build_lines(LinesOptions(), write_bytes(tmp_path, "empty.txt", b"\n \n"))
    with pytest.raises(GankitError, match="does not exist"):
        build_lines(LinesOptions(), tmp_path / "missing.txt")
    with pytest.raises(GankitError, match="is a folder"):
        build_lines(LinesOptions(), tmp_path)
    with pytest.raises(GankitError, match="needs --data"):
        build_lines(LinesOptions(), None)


def test_lines_reference_split_and_reference_file(tmp_path):
    lines = [f"line number {i}" for i in range(40)]
    path = write_bytes(tmp_path, "data.txt", ("\n".join(lines) + "\n").encode())
    data = build_lines(LinesOptions(reference_fraction=0.25, data_seed=2), path)
    train = decode(data.tensors[0], data.info)
    assert len(train) == 30 and len(data.reference_texts) == 10
    assert sorted(train + data.reference_texts) == sorted(lines)
    assert "10 lines of data.txt held out" in data.reference_source
    again = build_lines(LinesOptions(reference_fraction=0.25, data_seed=2), path)
    other = build_lines(LinesOptions(reference_fraction=0.25, data_seed=3), path)
    assert again.reference_texts == data.reference_texts != other.reference_texts

    ref_path = write_bytes(tmp_path, "ref.txt", b"reference one\n\nreference two\n")
    with_file = build_lines(LinesOptions(reference=str(ref_path)), path)
    assert len(with_file.tensors[0]) == 40
    assert with_file.reference_texts == ["reference one", "reference two"]
    assert with_file.reference_ids.shape == (2, with_file.tensors[0].shape[1])


def test_lines_long_lines_are_truncated_or_skipped(tmp_path):
    path = write_bytes(tmp_path, "d.txt", b"a b c d e f\na b\nc\n")
    truncated = build_lines(LinesOptions(reference_fraction=0.0, max_length=4), path)
    assert decode(truncated.tensors[0], truncated.info) == ["a b c", "a b", "c"]
    assert "1 lines truncated to 3 tokens" in truncated.description
    skipped = build_lines(LinesOptions(reference_fraction=0.0, max_length=4, long_lines="skip"), path)
    assert decode(skipped.tensors[0], skipped.info) == ["a b", "c"]
    assert "1 lines over 3 tokens skipped" in skipped.description
    auto = build_lines(LinesOptions(reference_fraction=0.0), path)
    assert auto.tensors[0].shape[1] == 7  # the longest line's 6 tokens + the end token


def test_lines_tokenizer_kinds(tmp_path):
    path = write_bytes(tmp_path, "d.txt", "héllo wörld\nthe  end\n".encode())
    chars = build_lines(LinesOptions(reference_fraction=0.0, tokenizer="char"), path)
    assert decode(chars.tensors[0], chars.info) == ["héllo wörld", "the  end"]
    assert chars.tensors[0].shape[1] == len("héllo wörld") + 1


# chars ---------------------------------------------------------------------------------------

def test_chars_cuts_windows_with_stride_and_holds_out_the_tail(tmp_path):
    text = "".join(chr(ord("a") + i % 26) for i in range(100)) + "\nEND"
    path = write_bytes(tmp_path, "long.txt", text.encode())
    data = build_chars(CharsOptions(window=10, stride=5, reference_fraction=0.2), path)
    train_text = text[:len(text) - int(len(text) * 0.2)]
    windows = decode(data.tensors[0], data.info)
    assert windows[0] == text[:10] and windows[1] == text[5:15]
    assert len(windows) == (len(train_text) - 10) // 5 + 1
    assert data.tensors[0].shape[1] == 11 and data.info.extra["tokenizer_kind"] == "char"
    held = text[len(train_text):]
    assert data.reference_texts == [held[i:i + 10] for i in range(0, len(held) - 9, 10)]
    assert "\n" in "".join(data.reference_texts)  # newlines are characters like any other


def test_chars_skips_undecodable_lines_and_rejects_too_little_text(tmp_path):
    path = write_bytes(tmp_path, "t.txt", b"good line one\n\xff\xfe bad\ngood line two\n")
    data = build_chars(CharsOptions(window=8, reference_fraction=0.0), path)
    assert "".join(decode(data.tensors[0], data.info)) == "good line one\ngood line two\n"[:24]
    assert "1 not UTF-8 (first: line 2)" in data.description
    with pytest.raises(GankitError, match="fewer than one window"):
        build_chars(CharsOptions(window=500), path)


# options and specs ---------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "values", "word"), [
    ("lines", {"reference_fraction": 1.0}, "reference_fraction"),
    ("lines", {"long_lines": "wrap"}, "long_lines"),
    ("lines", {"max_length": 1}, "max_length"),
    ("grammar", {"count": 0}, "count"),
    ("oracle", {"oracle_vocab": 0}, "oracle_vocab"),
    ("chars", {"window": 0}, "window"),
])
def test_options_are_validated(spec, values, word):
    options = {s.name: s.options for s in DATASET_SPECS}[spec]
    with pytest.raises(GankitError, match=word):
        build_options(options, values, what=f"dataset {spec!r}")


def test_specs_build_through_lazy_and_import_nothing_heavy():
    specs = {spec.name: spec for spec in DATASET_SPECS}
    assert [s.name for s in DATASET_SPECS] == ["grammar", "oracle", "lines", "chars"]
    assert specs["lines"].needs_data and specs["chars"].needs_data and not specs["grammar"].needs_data
    assert [s.name for s in METRIC_SPECS] == ["bleu", "diversity", "ngram-nll", "grammar", "oracle"]
    assert [s.primary for s in METRIC_SPECS if s.primary] == ["bleu4"]
    data = specs["grammar"].build(GrammarOptions(count=20, reference_count=5), None)
    assert len(data) == 20
    code = ("import sys; import gankit.plugins.text.data_specs; "
            "print(sorted(m for m in ('torch', 'tokenizers', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
