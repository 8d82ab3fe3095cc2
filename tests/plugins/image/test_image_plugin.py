"""The image plugin's hooks: what it registers, that registering is cheap, and that the
domain's callables work through the lazy wrappers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import gankit.plugins.image as image_plugin
from gankit.plugins.image.options import MLPOptions, MNISTOptions, ShapesOptions
from gankit.specs import DatasetSpec, DomainSpec, ModelSpec


def collect(hook):
    specs = []
    hook(register=specs.append)
    return specs


def test_hooks_register_the_domain_model_and_datasets():
    (domain,) = collect(image_plugin.register_domains)
    assert isinstance(domain, DomainSpec)
    assert (domain.name, domain.default_model, domain.default_dataset) == ("image", "mlp", "shapes")
    assert domain.prepare_real is None
    model = {spec.name: spec for spec in collect(image_plugin.register_models)}["mlp"]
    assert isinstance(model, ModelSpec) and (model.name, model.domain, model.options) == ("mlp", "image", MLPOptions)
    assert model.defaults["penalty"] == "r1" and model.defaults["objective"] == "non-saturating"
    assert set(model.presets) == {"cpu", "seed", "textbook"}
    datasets = {spec.name: spec for spec in collect(image_plugin.register_datasets)}
    assert all(isinstance(spec, DatasetSpec) and spec.domain == "image" for spec in datasets.values())
    assert datasets["shapes"].options is ShapesOptions and not datasets["shapes"].needs_data
    assert datasets["mnist"].options is MNISTOptions and not datasets["mnist"].needs_data


def test_importing_the_plugin_stays_light():
    code = (
        "import sys, gankit.plugins.image; "
        "print(sorted(m for m in ('torch', 'numpy', 'PIL') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_specs_work_end_to_end(tmp_path):
    (domain,) = collect(image_plugin.register_domains)
    model = {spec.name: spec for spec in collect(image_plugin.register_models)}["mlp"]
    shapes = next(s for s in collect(image_plugin.register_datasets) if s.name == "shapes")
    data = shapes.build(ShapesOptions(count=16), None)
    g, d = model.build(MLPOptions(hidden=16), data.info)
    x_real, _ = data.tensors
    assert d(x_real).shape == (16,)
    with torch.no_grad():
        fake = g(g.sample_latent(4))
    paths = domain.write_samples(fake, tmp_path / "samples", data.info, 0)
    assert len(paths) == 4 and all(p.is_file() for p in paths)
    assert domain.write_preview(fake, tmp_path / "preview", data.info).name == "preview.png"
    array = domain.to_numpy(fake, data.info)
    assert isinstance(array, np.ndarray) and array.shape == (4, 1, 28, 28)


def test_registry_finds_the_image_plugin(monkeypatch):
    pytest.importorskip("gankit.plugins.objectives")
    from gankit.registry import build_registry

    monkeypatch.setenv("GANKIT_LOAD_PLUGINS", "")
    registry = build_registry(load_entry_points=False)
    assert registry.domain("image").default_dataset == "shapes"
    assert registry.model("image", "mlp").options is MLPOptions
    assert set(registry.datasets_for("image")) >= {"shapes", "mnist"}
    assert registry.owner_of("datasets", ("image", "mnist")) == "gankit.plugins.image"
    assert not [f for f in registry.failures() if f.plugin == "gankit.plugins.image"]


def test_every_mlp_preset_resolves():
    from gankit.config import resolve_config
    from gankit.registry import build_registry

    registry = build_registry(load_entry_points=False)
    for name in registry.model("image", "mlp").presets:
        resolved = resolve_config(registry, {"domain": "image", "model": "mlp", "preset": name})
        assert resolved.train.preset == name
