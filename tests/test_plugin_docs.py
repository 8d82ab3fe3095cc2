"""docs/plugins.md stays true, and every hook stays tested (as datasette does it).

- each hook in ``gankit.hookspecs`` has a section in docs/plugins.md headed by its current
  signature, and the guide documents no hook that is gone;
- each hook has a test named ``test_hook_<hook>`` somewhere under tests/ (the ones below
  register a throwaway plugin implementing just that hook and use what it adds);
- every field of the specs a plugin fills in, and the conformance kit's API, are named
  in the guide.

Adding a hook therefore means adding its section to the guide and a ``test_hook_`` test.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import re
import types
from pathlib import Path

import click
import pytest
import torch
from click.testing import CliRunner

import gankit
import gankit.testing
from gankit import hookspecs
from gankit.cli import cli
from gankit.hookspecs import hookimpl
from gankit.registry import get_registry, plugin_manager
from gankit.specs import (
    DataInfo,
    DatasetSpec,
    DomainSpec,
    EvalContext,
    MetricResult,
    MetricSpec,
    ModelSpec,
    ObjectiveSpec,
    Preset,
    lazy,
)
from gankit.testing import check_objective, plugin_registered

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
HOOKS = sorted(name for name, value in vars(hookspecs).items() if callable(value) and hasattr(value, "gankit_spec"))


def _annotation(annotation: object) -> str:
    text = annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)
    return text.replace('"', "").replace("'", "")


def rendered_signature(hook: str) -> str:
    """``register_models(register: Callable[[ModelSpec], None]) -> None``."""
    signature = inspect.signature(getattr(hookspecs, hook))
    params = ", ".join(f"{p.name}: {_annotation(p.annotation)}" for p in signature.parameters.values())
    return f"{hook}({params}) -> {_annotation(signature.return_annotation)}"


def test_the_hooks_are_found():
    assert {"register_domains", "register_models", "register_datasets", "register_objectives", "register_metrics",
            "register_commands"} <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_with_its_current_signature(hook):
    heading = f"### `{rendered_signature(hook)}`"
    assert re.search(rf"^{re.escape(heading)}$", GUIDE, flags=re.M), f"docs/plugins.md needs a section: {heading}"


def test_the_guide_documents_only_hooks_that_exist():
    documented = re.findall(r"^### `(\w+)\(", GUIDE, flags=re.M)
    assert sorted(documented) == HOOKS


@functools.cache
def _test_functions() -> frozenset[str]:
    names = set()
    for path in (ROOT / "tests").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names |= {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return frozenset(names)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook):
    assert f"test_hook_{hook}" in _test_functions(), f"add a test named test_hook_{hook} under tests/"


@pytest.mark.parametrize("spec", [DataInfo, DomainSpec, ModelSpec, Preset, DatasetSpec, ObjectiveSpec, MetricSpec,
                                  MetricResult, EvalContext])
def test_every_field_a_plugin_fills_in_is_documented(spec):
    missing = [f.name for f in dataclasses.fields(spec) if not re.search(rf"`{re.escape(f.name)}\b", GUIDE)]
    assert not missing, f"docs/plugins.md does not mention {spec.__name__}'s {', '.join(missing)}"


def test_the_generator_contract_and_the_conformance_kit_are_documented():
    names = ["latent_dim", "num_classes", "sample_latent", "generate", "on_step", *gankit.testing.__all__]
    missing = [name for name in names if not re.search(rf"\b{re.escape(name)}\b", GUIDE)]
    assert not missing, f"docs/plugins.md does not mention {', '.join(missing)}"


# One test per hook: a throwaway plugin implementing just that hook ---------------------

def _plugin(**hooks) -> types.SimpleNamespace:
    return types.SimpleNamespace(**{name: hookimpl(function) for name, function in hooks.items()})


class _Tiny(torch.utils.data.Dataset):
    """32 random 1×8×8 images in [-1, 1], labelled 0/1."""

    def __init__(self, options=None, data_path=None):
        x = torch.rand(32, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
        self.tensors = (x, torch.arange(32) % 2)
        self.info = DataInfo(shape=(1, 8, 8), num_classes=2)

    def __len__(self):
        return 32

    def __getitem__(self, i):
        return self.tensors[0][i], self.tensors[1][i]


QUICK = {"steps": 2, "batch_size": 8, "quiet": True, "sample_every": 0, "device": "cpu"}


def test_hook_register_domains():
    spec = DomainSpec(name="hooked", description="a domain from a hook", default_model="m", default_dataset="d",
                      write_samples=lazy("x:y"), write_preview=lazy("x:y"), to_numpy=lazy("x:y"))
    with plugin_registered(_plugin(register_domains=lambda register: register(spec)), "hook-domains"):
        registry = get_registry()
        assert registry.domain("hooked") is spec and registry.owner_of("domains", "hooked") == "hook-domains"
        assert "hooked" in CliRunner().invoke(cli, ["train", "--help"]).output
    assert "hooked" not in get_registry().domains


def test_hook_register_models(tmp_path):
    from gankit.plugins.image.options import MLPOptions

    spec = ModelSpec(name="hooked-mlp", domain="image", description="the mlp under another name",
                     build=lazy("gankit.plugins.image.mlp:build"), options=MLPOptions, defaults={"ema_decay": 0.0})
    with plugin_registered(_plugin(register_models=lambda register: register(spec)), "hook-models"):
        assert "hooked-mlp" in CliRunner().invoke(cli, ["train", "image", "--help"]).output
        run = gankit.train("image", model="hooked-mlp", count=32, hidden=8, out=str(tmp_path / "run"), **QUICK)
        assert run.step == 2 and not run.uses_ema  # the model's defaults applied


def test_hook_register_datasets(tmp_path):
    spec = DatasetSpec(name="hooked-data", domain="image", description="32 noise images", build=_Tiny)
    with plugin_registered(_plugin(register_datasets=lambda register: register(spec)), "hook-datasets"):
        run = gankit.train("image", model="mlp", dataset="hooked-data", hidden=8, out=str(tmp_path / "run"), **QUICK)
        assert run.info.shape == (1, 8, 8) and run.sample(3).shape == (3, 1, 8, 8)


def test_hook_register_objectives(tmp_path):
    spec = ObjectiveSpec(name="hooked-loss", description="least squares, written again",
                         d_loss=lambda real, fake: ((real - 1) ** 2).mean() + (fake ** 2).mean(),
                         g_loss=lambda real, fake: ((fake - 1) ** 2).mean())
    with plugin_registered(_plugin(register_objectives=lambda register: register(spec)), "hook-objectives"):
        assert get_registry().objective("hooked-loss") is spec
        check_objective("hooked-loss", tmp_path=tmp_path, model="mlp", count=32, hidden=8)


def test_hook_register_metrics(tmp_path):
    from gankit.evaluation import evaluate

    def mean_gap(fake, context):
        return MetricResult({"gap": float((fake.mean() - context.real.mean()).abs())}, {"n": len(fake)})

    spec = MetricSpec(name="hooked-gap", domain="image", description="mean pixel gap", compute=mean_gap)
    with plugin_registered(_plugin(register_metrics=lambda register: register(spec)), "hook-metrics"):
        run = gankit.train("image", model="mlp", count=32, hidden=8, out=str(tmp_path / "run"), **QUICK)
        result = evaluate(run.dir, n=16, metrics=["hooked-gap"])
        assert result["metrics"]["hooked-gap"]["protocol"] == {"n": 16}
        assert 0 <= result["metrics"]["hooked-gap"]["values"]["gap"] <= 2


def test_hook_register_commands():
    def register_commands(cli):
        @cli.command("hooked-hello")
        @click.argument("who")
        def hello(who):
            click.echo(f"hello {who}")

    group = click.Group()
    with plugin_registered(_plugin(register_commands=register_commands), "hook-commands"):
        plugin_manager().hook.register_commands(cli=group)  # what the gankit command does at start-up
    result = CliRunner().invoke(group, ["hooked-hello", "plugins"])
    assert result.exit_code == 0 and result.output == "hello plugins\n"
