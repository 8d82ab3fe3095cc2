"""Option precedence: defaults < model defaults < preset < config file < explicit."""

from __future__ import annotations

import json

import pytest

from gankit.config import TrainConfig, config_from_dict, read_config_file, resolve_config
from gankit.errors import GankitError
from gankit.registry import get_registry


def test_layers_apply_in_order(gauss_plugin, tmp_path):
    registry = get_registry()
    resolved = resolve_config(registry, {"domain": "gauss"})
    assert resolved.train.lr_g == 1e-3  # model default beats the engine default
    assert resolved.train.n_critic == TrainConfig().n_critic

    resolved = resolve_config(registry, {"domain": "gauss", "preset": "tiny"})
    assert resolved.model_options.hidden == 8 and resolved.train.steps == 5

    config_file = tmp_path / "run.toml"
    config_file.write_text('steps = 7\nlr_g = 0.5\n[model_options]\nhidden = 16\n')
    resolved = resolve_config(registry, {"domain": "gauss", "preset": "tiny", "lr_g": 0.25}, config_file)
    assert resolved.train.steps == 7  # file beats preset
    assert resolved.model_options.hidden == 16
    assert resolved.train.lr_g == 0.25  # explicit beats file


def test_options_are_sorted_into_model_and_dataset(gauss_plugin):
    resolved = resolve_config(get_registry(), {"domain": "gauss", "hidden": "12", "count": "100", "seed": "3"})
    assert resolved.model_options.hidden == 12
    assert resolved.dataset_options.count == 100
    assert resolved.train.seed == 3 and resolved.dataset_options.data_seed == 0


def test_unknown_option_and_preset_are_clear_errors(gauss_plugin):
    registry = get_registry()
    with pytest.raises(GankitError, match="unknown option 'colour'.*hidden"):
        resolve_config(registry, {"domain": "gauss", "colour": "red"})
    with pytest.raises(GankitError, match="no preset 'huge'.*tiny"):
        resolve_config(registry, {"domain": "gauss", "preset": "huge"})
    with pytest.raises(GankitError, match="'steps' must be at least 1"):
        resolve_config(registry, {"domain": "gauss", "steps": -5})
    with pytest.raises(GankitError, match="choose one of: 32, bf16, 16"):
        resolve_config(registry, {"domain": "gauss", "precision": "8"})


def test_run_config_json_round_trips(gauss_plugin, tmp_path):
    registry = get_registry()
    resolved = resolve_config(registry, {"domain": "gauss", "hidden": 12, "betas_g": "0.1,0.2"})
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**resolved.to_dict(), "provenance": {"gankit": "x"}}))
    assert resolve_config(registry, {}, path) == resolved
    assert config_from_dict(registry, resolved.to_dict()) == resolved


def test_config_file_errors(tmp_path):
    with pytest.raises(GankitError, match="does not exist"):
        read_config_file(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("steps = = 3")
    with pytest.raises(GankitError, match="not valid TOML"):
        read_config_file(bad)


def test_non_finite_learning_rate_is_rejected(gauss_plugin):
    for value in ("nan", "inf", "0"):
        with pytest.raises(GankitError, match="'lr_g' must be a positive number"):
            resolve_config(get_registry(), {"domain": "gauss", "lr_g": value})


def test_preset_dataset_options_apply_only_where_the_dataset_has_them(gauss_plugin, monkeypatch):
    from gankit.specs import Preset

    registry = get_registry()
    spec = registry.model("gauss", "net")
    presets = {**spec.presets, "with-data": Preset("dataset options", {"count": 64, "steps": 3, "normalize": True})}
    monkeypatch.setitem(registry.models, ("gauss", "net"), type(spec)(**{**spec.__dict__, "presets": presets}))
    resolved = resolve_config(registry, {"domain": "gauss", "preset": "with-data"})
    assert resolved.dataset_options.count == 64 and resolved.train.steps == 3  # "normalize" skipped: points lack it
    with pytest.raises(GankitError, match="unknown option 'colour'"):
        resolve_config(registry, {"domain": "gauss", "preset": "with-data", "colour": 1})
