"""gankit's conformance kit on the model and the objectives this plugin adds to built-in parts."""

from __future__ import annotations

import pytest

from gankit.registry import get_registry
from gankit.testing import check_domain, check_objective, check_registration_is_light


def test_the_plugin_adds_to_the_built_in_image_domain():
    registry = get_registry()
    assert registry.owner_of("models", ("image", "resmlp")) == "extras"
    assert registry.owner_of("domains", "image") == "gankit.plugins.image"
    assert {"rasgan", "ralsgan"} <= set(registry.objectives)
    assert [f for f in registry.failures() if f.plugin == "extras"] == []


def test_registering_imports_nothing_heavy():
    check_registration_is_light("gankit_extras", heavy=("torch", "numpy", "PIL"))


@pytest.mark.parametrize("conditional", [False, True])
def test_resmlp_conforms_on_the_shapes_data(tmp_path, conditional):
    # The image metrics train a feature network; they are the image plugin's to test.
    report = check_domain("image", "resmlp", "shapes", tmp_path=tmp_path, count=64, width=32, blocks=1,
                          conditional=conditional, skip=("metrics",) + (("registration", "options") if conditional else ()))
    assert {"dataset", "model", "train", "checkpoint", "resume", "samples"} <= set(report.passed)


@pytest.mark.parametrize("name", ["rasgan", "ralsgan"])
def test_objectives_conform_and_train_the_builtin_mlp(tmp_path, name):
    check_objective(name, tmp_path=tmp_path, model="mlp", count=64, hidden=16)


def test_objectives_train_the_builtin_mlp_with_a_penalty(tmp_path):
    check_objective("rasgan", tmp_path=tmp_path, model="mlp", count=64, hidden=16, penalty="gp")
