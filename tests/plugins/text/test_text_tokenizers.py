"""Text tokenisers: round trips (char exact, word up to whitespace, BPE exact), special
tokens, the canonical padding/truncation, and loading a local tokenizer folder."""

from __future__ import annotations

import json

import pytest
import torch

from gankit.errors import GankitError
from gankit.plugins.text import tokenizers as tok
from gankit.plugins.text.io import write_run_files
from gankit.specs import DataInfo

CORPUS = [
    "The cat sat on the mat.",
    "Héllo, wörld! naïve café — 東京 😀",
    "  two  spaces,\ttab and a\nnewline  ",
    "quotes \"double\" 'single' (brackets) [x] {y} 3.14 + e\u0301",
]


def info_of(tokenizer: tok.TextTokenizer, length: int = 8) -> DataInfo:
    return DataInfo(shape=(length,), dtype="int64", value_range=None, vocab_size=tokenizer.vocab_size,
                    extra=tokenizer.info_extra())


def round_trip(tokenizer: tok.TextTokenizer, texts: list[str]) -> list[str]:
    return tokenizer.decode(tokenizer.encode(texts))


def test_special_tokens_come_first_in_every_built_kind():
    for kind in tok.KINDS:
        tokenizer = tok.build(kind, CORPUS * 3, vocab_size=300 if kind == "bpe" else 0)
        assert (tokenizer.pad_id, tokenizer.eos_id, tokenizer.bos_id, tokenizer.unk_id) == (0, 1, 2, 3), kind
        assert tokenizer.kind == kind


def test_char_round_trip_is_exact_for_spaces_punctuation_and_unicode():
    tokenizer = tok.build_char(CORPUS)
    assert round_trip(tokenizer, CORPUS) == CORPUS
    ids = tokenizer.encode(["e\u0301 😀"])[0]
    assert len(ids) == 4  # one id per code point: e, combining accent, space, emoji


def test_char_vocabulary_is_by_frequency_and_unknown_characters_become_unk():
    tokenizer = tok.build_char(["aaab", "ab", "c"], vocab_size=6)  # 4 special + a, b
    vocab = tokenizer.tokenizer.get_vocab()
    assert vocab["a"] == 4 and vocab["b"] == 5 and "c" not in vocab
    assert tokenizer.encode(["abcz"])[0] == [4, 5, 3, 3]
    assert round_trip(tokenizer, ["abc"]) == ["ab<unk>"]


def test_word_round_trip_normalises_whitespace():
    tokenizer = tok.build_word(CORPUS)
    assert round_trip(tokenizer, CORPUS) == [" ".join(text.split()) for text in CORPUS]
    assert tokenizer.encode(["the cat unseenword"])[0][-1] == tokenizer.unk_id


def test_word_vocab_size_keeps_the_most_frequent_words_and_extra_tokens_always():
    tokenizer = tok.build_word(["b a a", "c a b"], vocab_size=6, extra_tokens=["zebra"])
    vocab = tokenizer.tokenizer.get_vocab()
    assert vocab["zebra"] == 4 and vocab["a"] == 5 and "b" not in vocab and len(vocab) == 6
    with pytest.raises(GankitError, match="vocab_size"):
        tok.build_word(["a"], vocab_size=3)


def test_bpe_round_trip_is_exact_in_and_out_of_its_training_text():
    tokenizer = tok.build_bpe(CORPUS * 5, vocab_size=320)
    assert round_trip(tokenizer, CORPUS) == CORPUS
    novel = ["zebras quietly juxtapose 漢字\r\n and ümlauts"]
    assert round_trip(tokenizer, novel) == novel
    assert tokenizer.vocab_size <= 320
    # merges were learnt: a frequent training word takes fewer tokens than characters
    assert len(tokenizer.encode(["The cat sat"])[0]) < len("The cat sat")


def test_bpe_training_is_deterministic_and_validates_its_size():
    first = tok.build_bpe(CORPUS * 5, vocab_size=300).tokenizer.to_str()
    second = tok.build_bpe(CORPUS * 5, vocab_size=300).tokenizer.to_str()
    assert first == second
    with pytest.raises(GankitError, match="at least 260"):
        tok.build_bpe(CORPUS, vocab_size=100)


@pytest.mark.parametrize("kind", tok.KINDS)
def test_special_token_text_in_the_data_never_ends_a_sample(kind):
    tokenizer = tok.build(kind, ["a <eos> b <pad>"] * 3, vocab_size=300 if kind == "bpe" else 0)
    ids = tokenizer.encode(["a <eos> b <pad> <bos>"])[0]
    assert not {tokenizer.eos_id, tokenizer.pad_id, tokenizer.bos_id} & set(ids)


def test_info_extra_round_trips_through_json():
    tokenizer = tok.build_word(CORPUS)
    extra = json.loads(json.dumps(tokenizer.info_extra()))
    again = tok.from_extra(extra)
    assert (again.kind, again.pad_id, again.eos_id, again.bos_id, again.unk_id) == ("word", 0, 1, 2, 3)
    assert again.encode(CORPUS) == tokenizer.encode(CORPUS)
    with pytest.raises(GankitError, match="no usable tokenizer"):
        tok.from_extra({})


# Padding -------------------------------------------------------------------------------------

def test_pad_gives_tokens_then_eos_then_pad():
    tokenizer = tok.build_word(["a b c d e"])
    padded = tok.pad([[4, 5], [4, 5, 6, 7, 8], [6]], 5, tokenizer)
    assert padded.ids.dtype == torch.long
    assert padded.ids.tolist() == [[4, 5, 1, 0, 0], [4, 5, 6, 7, 1], [6, 1, 0, 0, 0]]
    assert (padded.truncated, padded.kept) == (1, [0, 1, 2])


def test_pad_skips_long_and_empty_sequences_when_asked():
    tokenizer = tok.build_word(["a b c d e"])
    padded = tok.pad([[4, 5, 6, 7], [], [4]], 4, tokenizer, long="skip")
    assert padded.ids.tolist() == [[4, 1, 0, 0]]
    assert (padded.kept, padded.dropped_long, padded.dropped_empty, padded.truncated) == ([2], 1, 1, 0)
    with pytest.raises(GankitError, match="at least 2"):
        tok.pad([[4]], 1, tokenizer)


def test_content_cuts_at_the_first_eos_and_drops_pad_and_bos():
    tokenizer = tok.build_word(["a b"])
    assert tok.content([4, 0, 2, 5, 1, 4, 1, 0], tokenizer) == [4, 5]


# A tokenizer folder ------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", tok.KINDS)
def test_a_saved_run_tokenizer_folder_loads_back_with_the_same_ids(tmp_path, kind):
    built = tok.build(kind, CORPUS * 3, vocab_size=300 if kind == "bpe" else 0)
    folder = write_run_files(tmp_path, info_of(built, 16))
    assert (folder / "tokenizer.json").is_file()
    loaded = tok.build(str(folder), ["ignored: a folder's vocabulary is fixed"])
    assert loaded.kind == "pretrained"
    assert (loaded.pad_id, loaded.eos_id, loaded.bos_id, loaded.unk_id) == (0, 1, 2, 3)
    assert loaded.vocab_size == built.vocab_size
    assert loaded.encode(CORPUS) == built.encode(CORPUS)
    assert loaded.decode(loaded.encode(CORPUS)) == built.decode(built.encode(CORPUS))


def test_a_folder_tokenizer_without_pad_or_bos_falls_back_to_eos(tmp_path):
    from transformers import PreTrainedTokenizerFast

    backend = tok.build_word(CORPUS).tokenizer
    PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<eos>").save_pretrained(str(tmp_path / "t"))
    loaded = tok.load_pretrained(tmp_path / "t")
    assert loaded.eos_id == loaded.pad_id == loaded.bos_id == 1


def test_bad_tokenizer_folders_give_clear_errors(tmp_path):
    with pytest.raises(GankitError, match="neither char, word nor bpe, and no such folder"):
        tok.build("wrod", CORPUS)
    (tmp_path / "file.json").write_text("{}")
    with pytest.raises(GankitError, match="is a file"):
        tok.build(str(tmp_path / "file.json"), CORPUS)
    (tmp_path / "empty").mkdir()
    with pytest.raises(GankitError, match="cannot load a fast tokenizer"):
        tok.build(str(tmp_path / "empty"), CORPUS)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "tokenizer.json").write_text("not json")
    with pytest.raises(GankitError, match="cannot load a fast tokenizer"):
        tok.build(str(tmp_path / "broken"), CORPUS)
