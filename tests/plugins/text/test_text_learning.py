"""The text GAN learns: on the embedded grammar, MLE pre-training plus a few adversarial
Gumbel-softmax steps take the share of grammatical samples from ~0 (untrained) to most."""

from __future__ import annotations

import torch

import gankit
from gankit.plugins.text import grammar, io
from gankit.plugins.text.generators import build_lstm
from gankit.plugins.text.options import LSTMOptions

MODEL = dict(embed_dim=32, hidden_dim=64, d_embed_dim=32, d_representations=8, d_filters=32)
SAMPLES = 500


def _valid_and_distinct(generator, info) -> tuple[float, float]:
    generator.eval()
    with torch.no_grad():
        z = generator.sample_latent(SAMPLES, generator=torch.Generator().manual_seed(5))
        texts = io.decode(generator.generate(z), info)
    return sum(map(grammar.is_valid, texts)) / SAMPLES, len(set(texts)) / SAMPLES


def test_pretraining_and_adversarial_steps_learn_the_grammar(tmp_path):
    run = gankit.train("text", dataset="grammar", count=2000, reference_count=0, pretrain_steps=150, steps=10,
                       batch_size=32, log_every=5, sample_every=0, seed=0, out=str(tmp_path / "run"), quiet=True,
                       **MODEL)
    assert [r["step"] for r in run.metrics if "d_loss" in r] == [5, 10]  # the adversarial steps ran

    torch.manual_seed(0)
    untrained, _ = build_lstm(LSTMOptions(**MODEL), run.info)
    untrained_valid, _ = _valid_and_distinct(untrained, run.info)
    trained_valid, trained_distinct = _valid_and_distinct(run.generator, run.info)
    assert untrained_valid < 0.05  # random word strings are almost never sentences of the grammar
    assert trained_valid > 0.7  # measured 0.9
    assert trained_distinct > 0.5  # and not by repeating a few sentences
