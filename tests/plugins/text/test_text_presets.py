"""The text models' presets: the lstm's `cpu` recipe for COCO-sized caption files resolves
to its measured values, fits any text dataset, and the transformer has none."""

from __future__ import annotations

import pytest

from gankit.config import resolve_config
from gankit.errors import GankitError
from gankit.registry import get_registry


def test_lstm_cpu_preset_sets_the_measured_recipe():
    resolved = resolve_config(get_registry(), {"domain": "text", "model": "lstm", "dataset": "lines",
                                               "data": "captions.txt", "preset": "cpu"})
    train, model, data = resolved.train, resolved.model_options, resolved.dataset_options
    assert (train.pretrain_steps, train.pretrain_lr, train.steps) == (1000, 1e-2, 400)
    assert (train.objective, train.lr_g, train.lr_d, train.max_minutes) == ("rsgan", 2e-4, 1e-3, 15.0)
    assert (model.temperature_schedule, model.beta_max) == ("exp", 10.0)
    assert (data.tokenizer, data.max_length, data.vocab_size) == ("word", 21, 3000)


def test_explicit_options_beat_the_preset_and_other_datasets_skip_its_data_options():
    resolved = resolve_config(get_registry(), {"domain": "text", "dataset": "oracle", "preset": "cpu", "steps": 7})
    assert resolved.train.steps == 7 and resolved.train.pretrain_steps == 1000
    assert not hasattr(resolved.dataset_options, "tokenizer")  # the oracle has its own tokens


def test_the_transformer_has_no_cpu_preset():
    with pytest.raises(GankitError, match="has no preset 'cpu'"):
        resolve_config(get_registry(), {"domain": "text", "model": "transformer", "preset": "cpu"})
