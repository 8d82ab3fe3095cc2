"""MLE pre-training in the engine (core/pretraining.py): its records, checkpoints and exact
resume, on a throwaway domain of tiny token sequences trained with the text plugin's
``lstm`` model (the engine's pre-training is generic: any generator with pretrain_loss).
Also the engine's other text hooks: ``DomainSpec.write_run_files`` and
``EvalContext.generator``."""

from __future__ import annotations

import json
import types

import pytest
import torch
import torch.nn.functional as F

import gankit
from gankit.checkpoint import load_checkpoint
from gankit.errors import GankitError
from gankit.hookspecs import hookimpl
from gankit.plugins.text.discriminators import CNNDiscriminator
from gankit.plugins.text.generators import TextGenerator, build_lstm
from gankit.plugins.text.options import LSTMOptions
from gankit.specs import DataInfo, DatasetSpec, DomainSpec, MetricResult, MetricSpec, ModelSpec
from gankit.testing import plugin_registered

PAD, EOS, BOS, VOCAB, LENGTH = 0, 1, 2, 8, 6
TINY = dict(embed_dim=8, hidden_dim=16, d_embed_dim=8, d_representations=4, d_filters=8, d_filter_sizes=(2, 3))
RUN = dict(batch_size=16, log_every=5, checkpoint_every=10, sample_every=0, seed=1, ema_decay=0.9, quiet=True,
           pretrain_steps=30, steps=20, **TINY)


class Sequences(torch.utils.data.Dataset):
    """256 sequences of 1-4 tokens from 3..7, then EOS, then PAD."""

    def __init__(self, options=None, data_path=None):
        rng = torch.Generator().manual_seed(0)
        ids = torch.full((256, LENGTH), PAD)
        lengths = torch.randint(1, 5, (256,), generator=rng)
        for i, n in enumerate(lengths.tolist()):
            ids[i, :n] = torch.randint(3, VOCAB, (n,), generator=rng)
            ids[i, n] = EOS
        self.tensors = (ids, torch.full((256,), -1))
        self.info = DataInfo(shape=(LENGTH,), dtype="int64", value_range=None, vocab_size=VOCAB,
                             extra={"pad_id": PAD, "eos_id": EOS, "bos_id": BOS})

    def __len__(self):
        return 256

    def __getitem__(self, i):
        return self.tensors[0][i], self.tensors[1][i]


def _write_preview(batch, path, info):
    target = path.with_name(path.name + ".txt")
    target.write_text("\n".join(" ".join(map(str, row)) for row in batch.long().tolist()) + "\n")
    return target


def _write_samples(batch, out_dir, info, start=0):
    return [_write_preview(batch[i:i + 1], out_dir / f"sample-{start + i:05d}", info) for i in range(len(batch))]


def _write_run_files(run_dir, info):
    (run_dir / "vocab.txt").write_text(f"{info.vocab_size}\n")


def _real_nll(fake, context):
    """NLL of the real samples under the generator that made the fakes (NLL_gen's recipe)."""
    generator = context.generator
    return MetricResult({"nll": float(generator.token_nll(context.real.long()).mean()),
                         "eval_mode": float(not generator.training)})


PLUGIN = types.SimpleNamespace(
    register_domains=hookimpl(lambda register: register(DomainSpec(
        name="tokens", description="tiny token sequences", default_model="lstm", default_dataset="seqs",
        write_samples=_write_samples, write_preview=_write_preview, to_numpy=lambda batch, info: batch.numpy(),
        prepare_real=lambda batch, info: F.one_hot(batch, VOCAB).float(), write_run_files=_write_run_files))),
    register_metrics=hookimpl(lambda register: register(MetricSpec(
        name="real-nll", domain="tokens", description="NLL of real data under G", compute=_real_nll,
        primary="nll"))),
    register_models=hookimpl(lambda register: register(ModelSpec(
        name="lstm", domain="tokens", description="the text plugin's lstm", build=build_lstm, options=LSTMOptions,
        defaults={"objective": "rsgan", "pretrain_lr": 1e-2}))),
    register_datasets=hookimpl(lambda register: register(DatasetSpec(
        name="seqs", domain="tokens", description="tiny sequences", build=Sequences))),
)


@pytest.fixture
def tokens_domain():
    with plugin_registered(PLUGIN, "tokens-test-plugin"):
        yield


def _records(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _without_timing(records):
    return [{k: v for k, v in r.items() if k not in ("steps_per_s", "time")} for r in records]


def _assert_same_weights(a_dir, b_dir):
    a, b = load_checkpoint(a_dir / "checkpoints" / "last.pt"), load_checkpoint(b_dir / "checkpoints" / "last.pt")
    for part in ("generator", "discriminator", "generator_ema"):
        assert a[part].keys() == b[part].keys()
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), (part, key)


def _crash_after(monkeypatch, cls, name, calls):
    """Make ``cls.name`` raise on its ``calls``-th call (a process killed there)."""
    original = getattr(cls, name)
    count = {"n": 0}

    def crashing(self, *args, **kwargs):
        count["n"] += 1
        if count["n"] >= calls:
            raise RuntimeError("killed")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, crashing)
    return count


def test_records_and_checkpoint_of_a_pretrained_run(tokens_domain, tmp_path):
    run = gankit.train("tokens", out=str(tmp_path / "r"), **RUN)
    records = _records(run.dir)
    pre = [r for r in records if "mle_loss" in r]
    adversarial = [r for r in records if "d_loss" in r]
    assert [r["step"] for r in pre] == [-25, -20, -15, -10, -5, 0]
    assert [r["pretrain_step"] for r in pre] == [5, 10, 15, 20, 25, 30]
    assert all("d_loss" not in r for r in pre) and all("pretrain_step" not in r for r in adversarial)
    assert pre[-1]["mle_loss"] < pre[0]["mle_loss"]  # it learns the sequences
    assert [r["step"] for r in adversarial] == [5, 10, 15, 20]
    assert {"temperature", "gumbel_entropy", "duplicate_rate"} <= set(adversarial[0])  # generator.log_values()
    state = load_checkpoint(run.dir / "checkpoints" / "last.pt")
    assert state["pretraining"] == {"step": 30, "total": 30, "optimizer": None, "scaler": None}


@pytest.mark.parametrize("crash", ["pretraining", "adversarial"])
def test_resume_equals_an_uninterrupted_run(tokens_domain, tmp_path, monkeypatch, crash):
    straight = gankit.train("tokens", out=str(tmp_path / "straight"), **RUN)
    if crash == "pretraining":  # killed at pre-training step 25; the last checkpoint is step 20's
        _crash_after(monkeypatch, TextGenerator, "pretrain_loss", 25)
    else:  # killed in adversarial step 15 (4 D calls a step with rsgan); the last checkpoint is step 10's
        _crash_after(monkeypatch, CNNDiscriminator, "forward", 4 * 15)
    with pytest.raises(RuntimeError, match="killed"):
        gankit.train("tokens", out=str(tmp_path / "split"), **RUN)
    monkeypatch.undo()
    last = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")
    assert (last["step"], last["pretraining"]["step"]) == ((0, 20) if crash == "pretraining" else (10, 30))

    calls = _crash_after(monkeypatch, TextGenerator, "pretrain_loss", 10**9)  # counts pre-training steps
    resumed = gankit.train("tokens", out=str(tmp_path / "split"), resume=True, steps=RUN["steps"], quiet=True)
    assert calls["n"] == (10 if crash == "pretraining" else 0)  # never repeated
    _assert_same_weights(straight.dir, resumed.dir)
    assert _without_timing(_records(resumed.dir)) == _without_timing(_records(straight.dir))  # each step once


def test_max_minutes_stops_in_pretraining_and_resume_finishes(tokens_domain, tmp_path, capsys):
    options = {**RUN, "quiet": False, "pretrain_steps": 10**6, "max_minutes": 0.002}
    run = gankit.train("tokens", out=str(tmp_path / "r"), **options)
    err = capsys.readouterr().err
    assert "MLE pre-training of the generator" in err and "stopping in pre-training" in err
    state = load_checkpoint(run.dir / "checkpoints" / "last.pt")
    assert run.step == 0 and 0 < state["pretraining"]["step"] < 10**6
    assert state["pretraining"]["optimizer"] is not None


def test_pretraining_needs_a_generator_with_pretrain_loss(gauss_plugin, tmp_path):
    with pytest.raises(GankitError, match="no MLE pre-training"):
        gankit.train("gauss", steps=2, pretrain_steps=5, out=str(tmp_path / "r"), quiet=True)


def test_run_files_and_the_generator_in_the_eval_context(tokens_domain, tmp_path):
    run = gankit.train("tokens", out=str(tmp_path / "r"), **{**RUN, "steps": 2, "eval_every": 2, "eval_samples": 64})
    assert (run.dir / "vocab.txt").read_text() == f"{VOCAB}\n"  # write_run_files, called at the start
    assert [r["eval/real-nll/eval_mode"] for r in run.metrics if "eval/real-nll/nll" in r] == [1.0]  # --eval-every
    values = gankit.evaluate(run.dir, n=64)["metrics"]["real-nll"]["values"]
    assert values["eval_mode"] == 1.0
    assert 0.0 < values["nll"] < float(torch.log(torch.tensor(VOCAB - 2.0)))  # better than uniform after training
