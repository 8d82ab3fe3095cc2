"""gankit's conformance kit on every toy2d dataset and model variant."""

from __future__ import annotations

import pytest

from gankit.testing import check_domain, check_registration_is_light


def test_the_plugin_loads_from_its_entry_point():
    from gankit.registry import get_registry

    registry = get_registry()
    assert registry.owner_of("domains", "toy2d") == "toy2d"
    assert set(registry.datasets_for("toy2d")) == {"ring8", "grid25"}
    assert [f for f in registry.failures() if f.plugin == "toy2d"] == []


def test_registering_imports_nothing_heavy():
    check_registration_is_light("gankit_toy2d", heavy=("torch", "numpy", "PIL", "matplotlib"))


@pytest.mark.parametrize("dataset", ["ring8", "grid25"])
def test_conformance(gankit_check, dataset):
    report = gankit_check("toy2d", "mlp", dataset, count=64, hidden=16)
    assert report.skipped == {} and "metrics" in report.passed


def test_conformance_of_the_conditional_model(tmp_path):
    report = check_domain("toy2d", dataset="ring8", tmp_path=tmp_path, count=64, hidden=16, conditional=True,
                          skip=("registration", "options"))
    assert report.passed[-1] == "metrics"
