"""Few-shot data (issue 19): a dataset smaller than the batch trains instead of failing. Each
batch holds every sample once and the rest drawn again from fresh shuffles, seeded by
(seed, epoch) like any epoch, so runs are deterministic and resume bit for bit."""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils.data import Dataset

import gankit
from gankit.checkpoint import load_checkpoint
from gankit.data import BatchStream
from gankit.errors import GankitError
from gankit.plugins.image.options import ShapesOptions
from gankit.registry import get_registry

CPU = torch.device("cpu")


class Numbered(Dataset):
    """Sample i is the number i; ``in_memory`` exposes ``tensors`` (batched by indexing),
    otherwise the stream goes through a DataLoader."""

    def __init__(self, size: int, in_memory: bool = True):
        self.x = torch.arange(size, dtype=torch.float32)[:, None]
        self.y = torch.full((size,), -1, dtype=torch.long)
        if in_memory:
            self.tensors = (self.x, self.y)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return self.x[i], int(self.y[i])


def ids(stream: BatchStream, batches: int) -> list[list[int]]:
    return [stream.next()[0][:, 0].long().tolist() for _ in range(batches)]


@pytest.mark.parametrize("in_memory", [True, False])
def test_every_batch_holds_every_sample_and_the_rest_drawn_again(in_memory):
    stream = BatchStream(Numbered(48, in_memory), 64, seed=3, device=CPU)
    assert stream.batches_per_epoch == 1 and stream.notes and "smaller than the batch of 64" in stream.notes[0]
    batches = ids(stream, 4)
    for batch in batches:
        assert len(batch) == 64 and set(batch) == set(range(48))  # each sample at least once
        assert max(batch.count(i) for i in range(48)) == 2  # the other 16 are 16 different samples
    assert len({tuple(b) for b in batches}) == 4  # a fresh order every batch (each its own epoch)
    assert ids(BatchStream(Numbered(48, in_memory), 64, seed=3, device=CPU), 4) == batches  # deterministic


def test_the_resident_and_loader_streams_give_the_same_batches():
    resident = ids(BatchStream(Numbered(20), 64, seed=1, device=CPU), 3)
    assert resident == ids(BatchStream(Numbered(20, in_memory=False), 64, seed=1, device=CPU), 3)
    assert all(len(b) == 64 and max(b.count(i) for i in range(20)) == 4 for b in resident)  # 64 = 3 x 20 + 4


def test_a_resumed_stream_continues_with_the_same_batches():
    stream = BatchStream(Numbered(48), 64, seed=5, device=CPU)
    ids(stream, 3)
    state = stream.state_dict()
    expected = ids(stream, 3)
    resumed = BatchStream(Numbered(48), 64, seed=5, device=CPU)
    resumed.load_state_dict(state)
    assert ids(resumed, 3) == expected


def test_each_process_fills_its_batches_from_its_own_share():
    ranks = [BatchStream(Numbered(48), 32, seed=2, device=CPU, rank=r, world_size=2) for r in (0, 1)]
    assert "24 per process" in ranks[0].notes[0]
    first = [set(ids(stream, 1)[0]) for stream in ranks]
    assert len(first[0]) == len(first[1]) == 24 and not first[0] & first[1] and first[0] | first[1] == set(range(48))


def test_a_dataset_at_least_a_batch_keeps_the_plain_shuffled_order():
    """Nothing changes for the usual case: the order is the permutation of (seed, epoch), so
    existing runs train and resume exactly as before."""
    stream = BatchStream(Numbered(100), 32, seed=4, device=CPU, rank=1, world_size=2)
    assert stream.batches_per_epoch == 1 and not stream.notes
    expected = torch.randperm(100, generator=torch.Generator().manual_seed(4 * 1_000_003))[1::2][:32]
    assert ids(stream, 1)[0] == expected.tolist()


def test_no_samples_is_still_an_error():
    with pytest.raises(GankitError, match="the dataset is empty"):
        BatchStream(Numbered(0), 8, seed=0, device=CPU)
    with pytest.raises(GankitError, match="too few for 4 processes"):
        BatchStream(Numbered(3), 8, seed=0, device=CPU, rank=0, world_size=4)


FEW = dict(model="mlp", count=48, batch_size=64, seed=0, sample_every=0, log_every=50)


def test_a_gan_learns_from_48_images_with_batch_64(tmp_path, capsys):
    data = get_registry().dataset("image", "shapes").build(ShapesOptions(count=48), None).tensors[0]
    untrained = gankit.train("image", steps=1, out=str(tmp_path / "untrained"), quiet=True, **FEW).sample(256, seed=1)
    capsys.readouterr()
    run = gankit.train("image", steps=150, out=str(tmp_path / "run"), **FEW)
    assert "note: the dataset (48 samples) is smaller than the batch of 64" in capsys.readouterr().err
    trained = run.sample(256, seed=1)
    # Shapes are white on black: the data's mean pixel is about -0.7, an untrained G's about 0.
    before, after = (abs(float(s.mean() - data.mean())) for s in (untrained, trained))
    assert before > 0.5, "the test can fail"
    assert after < before / 2, f"mean pixel {float(trained.mean()):.3f} vs the data's {float(data.mean()):.3f}"
    # ... and where: the mean image moves toward the data's (the shapes sit near the centre).
    image_error = [float((s.mean(0) - data.mean(0)).abs().mean()) for s in (untrained, trained)]
    assert image_error[1] < image_error[0] / 2, image_error
    assert json.loads((tmp_path / "run" / "config.json").read_text())["batch_size"] == 64


def test_a_few_shot_run_resumes_bit_identically(tmp_path):
    whole = gankit.train("image", steps=6, out=str(tmp_path / "whole"), quiet=True, **FEW)
    gankit.train("image", steps=3, out=str(tmp_path / "split"), quiet=True, **FEW)
    split = gankit.train("image", steps=6, out=str(tmp_path / "split"), quiet=True, resume=True, **FEW)
    a, b = (load_checkpoint(run.dir / "checkpoints" / "last.pt") for run in (whole, split))
    assert a["sampler"] == b["sampler"] == {"epoch": 5, "index": 1, "seed": 0}  # six epochs of one batch
    for part in ("generator", "discriminator", "generator_ema"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), (part, key)
