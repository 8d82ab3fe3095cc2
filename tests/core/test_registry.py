"""The plugin system: built-ins, throwaway plugins, failures, clashes, entry points."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

from gankit.hookspecs import hookimpl
from gankit.registry import Registry, build_registry, get_plugin_manager, get_registry, plugin_manager
from gankit.specs import DomainSpec, ObjectiveSpec


def _objective(name: str) -> ObjectiveSpec:
    return ObjectiveSpec(name=name, description="test", d_loss=lambda r, f: r.mean(), g_loss=lambda r, f: f.mean())


def _module(name: str, **hooks) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, hookimpl(function))
    return module


def test_builtin_plugins_register_their_specs():
    registry = build_registry(load_entry_points=False)
    assert registry.failures() == []
    assert "image" in registry.domains
    assert ("image", "mlp") in registry.models
    assert {"minimax", "non-saturating", "wasserstein", "wgan-gp", "hinge", "lsgan", "rsgan"} <= set(registry.objectives)
    assert registry.owner_of("models", ("image", "mlp")) == "gankit.plugins.image"
    assert registry.objectives["wgan-gp"].penalty == "gp"


def test_throwaway_plugin_is_seen_and_removed(gauss_plugin):
    assert "gauss" in get_registry().domains
    plugin_manager().unregister(name="gauss-test-plugin")
    try:
        assert "gauss" not in get_registry().domains
    finally:
        plugin_manager().register(gauss_plugin, name="gauss-test-plugin")


def test_failing_plugin_is_reported_and_skipped():
    pm, infos = get_plugin_manager(load_entry_points=False)

    def register_objectives(register):
        register(_objective("half-done"))
        raise RuntimeError("boom")

    pm.register(_module("broken", register_objectives=register_objectives), name="broken")
    registry = Registry(pm, infos)
    failures = {f.plugin: f.error for f in registry.failures()}
    assert "boom" in failures["broken"]
    assert "half-done" not in registry.objectives  # nothing half-registered lingers
    assert "non-saturating" in registry.objectives  # the others keep working


def test_name_clash_names_both_plugins_and_keeps_the_first():
    pm, infos = get_plugin_manager(load_entry_points=False)
    pm.register(_module("clasher", register_objectives=lambda register: register(_objective("hinge"))), name="clasher")
    registry = Registry(pm, infos)
    error = {f.plugin: f.error for f in registry.failures()}["clasher"]
    assert "gankit.plugins.objectives" in error and "clasher" in error and "hinge" in error
    assert registry.owner_of("objectives", "hinge") == "gankit.plugins.objectives"


def test_model_for_unknown_domain_is_a_failure():
    from gankit.specs import ModelSpec

    pm, infos = get_plugin_manager(load_entry_points=False)
    spec = ModelSpec(name="m", domain="nowhere", description="x", build=lambda o, i: (None, None))
    pm.register(_module("lost", register_models=lambda register: register(spec)), name="lost")
    error = {f.plugin: f.error for f in Registry(pm, infos).failures()}["lost"]
    assert "nowhere" in error


def test_lookup_errors_list_the_valid_names():
    from gankit.errors import GankitError

    registry = build_registry(load_entry_points=False)
    with pytest.raises(GankitError, match="choose one of: .*mlp"):
        registry.model("image", "nope")
    with pytest.raises(GankitError, match="choose one of: .*image"):
        registry.domain("video")
    with pytest.raises(GankitError, match="hinge"):
        registry.objective("nope")


def _write_dist(site: Path, plugin_source: str, name: str = "gankit_hello") -> None:
    (site / f"{name}.py").write_text(textwrap.dedent(plugin_source))
    dist = site / f"{name}-1.2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text(f"[gankit]\nhello = {name}\n")


HELLO_PLUGIN = """
from gankit.hookspecs import hookimpl
from gankit.specs import ObjectiveSpec

@hookimpl
def register_objectives(register):
    register(ObjectiveSpec(name="hello-loss", description="from an entry point",
                           d_loss=lambda r, f: r.mean(), g_loss=lambda r, f: f.mean()))

@hookimpl
def register_commands(cli):
    @cli.command()
    def hello():
        print("hello from a plugin command")
"""


def _gankit(args: list[str], site: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(site), **env}
    environment.pop("GANKIT_LOAD_PLUGINS", None)
    environment.update(env)
    return subprocess.run([sys.executable, "-m", "gankit", *args], capture_output=True, text=True, env=environment, timeout=120)


def test_entry_point_plugin_shows_in_gankit_plugins(tmp_path):
    _write_dist(tmp_path, HELLO_PLUGIN)
    result = _gankit(["plugins", "--json"], tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["hello"]["version"] == "1.2.3"
    assert rows["hello"]["registered"] == {"objectives": ["hello-loss"]}
    assert rows["gankit.plugins.image"]["builtin"] is True
    assert "hello from a plugin command" in _gankit(["hello"], tmp_path).stdout


def test_load_plugins_filter_hides_entry_points(tmp_path):
    _write_dist(tmp_path, HELLO_PLUGIN)
    result = _gankit(["plugins", "--json"], tmp_path, GANKIT_LOAD_PLUGINS="")
    names = {row["name"] for row in json.loads(result.stdout)}
    assert "hello" not in names and "gankit.plugins.image" in names


def test_entry_point_that_fails_to_import_is_reported(tmp_path):
    _write_dist(tmp_path, "raise ImportError('missing dependency xyz')\n", name="gankit_broken")
    result = _gankit(["plugins"], tmp_path)
    assert result.returncode == 1, result.stderr
    assert "FAILED" in result.stdout and "missing dependency xyz" in result.stdout
    assert "gankit.plugins.image" in result.stdout
