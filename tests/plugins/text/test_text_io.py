"""Text sample I/O: decoding canonical ids, one-hot real batches, samples.txt and previews
(one sample a line, newlines escaped), numpy export/import and the run's tokenizer folder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gankit.errors import GankitError
from gankit.plugins.text import io
from gankit.plugins.text import tokenizers as tok
from gankit.specs import DataInfo


def make_info(kind: str = "word", texts=("the cat sat", "a dog ran"), length: int = 6) -> DataInfo:
    tokenizer = tok.build(kind, list(texts))
    return DataInfo(shape=(length,), dtype="int64", value_range=None, vocab_size=tokenizer.vocab_size,
                    extra=tokenizer.info_extra())


def ids_of(info: DataInfo, texts: list[str]) -> torch.Tensor:
    tokenizer = io.tokenizer_from_info(info)
    return tok.pad(tokenizer.encode(texts), info.shape[0], tokenizer).ids


def test_decode_cuts_at_the_first_eos_and_drops_pad_and_bos():
    info = make_info()
    vocab = io.tokenizer_from_info(info).tokenizer.get_vocab()
    the, cat, sat = vocab["the"], vocab["cat"], vocab["sat"]
    batch = torch.tensor([[the, cat, 1, sat, 0, 0],
                          [2, the, 0, sat, 1, 0],
                          [1, the, cat, 0, 0, 0],
                          [the, cat, sat, 3, the, cat]])  # no EOS at all (not canonical): everything decodes
    assert io.decode(batch, info) == ["the cat", "the sat", "", "the cat sat <unk> the cat"]
    assert io.decode(batch.float(), info) == io.decode(batch, info)  # the engine's previews pass floats
    assert io.decode(batch[:0], info) == []


def test_prepare_real_is_one_hot_over_the_vocabulary():
    info = make_info()
    ids = ids_of(info, ["the cat sat", "a dog"])
    onehot = io.prepare_real(ids, info)
    assert onehot.shape == (2, 6, info.vocab_size) and onehot.dtype == torch.float32
    assert torch.equal(onehot.argmax(-1), ids) and torch.equal(onehot.sum(-1), torch.ones(2, 6))


def test_write_samples_writes_one_file_one_sample_a_line(tmp_path):
    info = make_info()
    batch = ids_of(info, ["the cat sat", "a dog ran", "the dog"])
    paths = io.write_samples(batch, tmp_path / "out", info)
    assert paths == [tmp_path / "out" / "samples.txt"]
    assert paths[0].read_text(encoding="utf-8") == "the cat sat\na dog ran\nthe dog\n"
    io.write_samples(batch[:1], tmp_path / "out", info, start=3)  # later chunks append
    assert io.read_samples(paths[0]) == ["the cat sat", "a dog ran", "the dog", "the cat sat"]
    io.write_samples(batch[1:2], tmp_path / "out", info)  # start 0 begins the file afresh
    assert io.read_samples(paths[0]) == ["a dog ran"]


def test_samples_with_newlines_stay_one_a_line_and_read_back_exactly(tmp_path):
    texts = ["line one\nline two", "back\\slash and \r return", "plain"]
    info = make_info("char", texts, length=30)
    [path] = io.write_samples(ids_of(info, texts), tmp_path, info)
    assert len(path.read_text(encoding="utf-8").splitlines()) == 3
    assert io.read_samples(path) == texts
    assert io.unescape_line(io.escape_line("a\\nb\n")) == "a\\nb\n"


def test_write_preview_writes_path_txt(tmp_path):
    info = make_info()
    batch = ids_of(info, ["the cat sat"] * 40).float()
    path = io.write_preview(batch, tmp_path / "samples" / "step-0000010", info)
    assert path == tmp_path / "samples" / "step-0000010.txt"
    assert path.read_text(encoding="utf-8").splitlines() == ["the cat sat"] * io.PREVIEW_SAMPLES


def test_to_numpy_and_from_numpy_round_trip_and_check():
    info = make_info()
    batch = ids_of(info, ["the cat sat", "a dog"])
    array = io.to_numpy(batch.float(), info)
    assert array.dtype == np.int64 and np.array_equal(array, batch.numpy())
    assert torch.equal(io.from_numpy(array, info), batch)
    with pytest.raises(GankitError, match="N×6"):
        io.from_numpy(array[:, :4], info)
    with pytest.raises(GankitError, match="must lie in 0.."):
        io.from_numpy(array + info.vocab_size, info)
    with pytest.raises(GankitError, match="integer token ids"):
        io.from_numpy(array + 0.5, info)


def test_write_run_files_saves_a_transformers_fast_tokenizer(tmp_path):
    from transformers import PreTrainedTokenizerFast

    info = make_info("word", ["the cat sat", "a dog ran"], length=6)
    folder = io.write_run_files(tmp_path, info)
    assert folder == tmp_path / "tokenizer" and (folder / "tokenizer.json").is_file()
    loaded = PreTrainedTokenizerFast.from_pretrained(str(folder), local_files_only=True)
    assert (loaded.pad_token_id, loaded.eos_token_id, loaded.bos_token_id, loaded.unk_token_id) == (0, 1, 2, 3)
    assert loaded.model_max_length == 6
    expected = io.tokenizer_from_info(info).encode(["the dog sat"])[0]
    assert loaded("the dog sat", add_special_tokens=False)["input_ids"] == expected
