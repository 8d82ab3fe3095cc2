"""Contract defects found by writing a plugin from the docs alone (issue 15), and the
guards that keep them fixed: ``gankit plugins`` fails when a plugin did, an unknown name in
``GANKIT_LOAD_PLUGINS`` is reported, the typed-option helpers, the documented output keys,
and no import cycle among gankit's modules."""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import re
import subprocess
import sys
import textwrap
import types
from pathlib import Path
from typing import Literal

import pytest
from click.testing import CliRunner

from gankit import registry as registry_module
from gankit.cli import cli
from gankit.errors import GankitError
from gankit.hookspecs import hookimpl
from gankit.options import OptionError, build_options, check_bounds, option, option_help, require_positive, \
    require_range
from gankit.registry import get_plugin_manager
from gankit.testing import plugin_registered

ROOT = Path(__file__).resolve().parents[2]


def _install(site: Path, module: str, source: str, entry_point: str) -> None:
    """A distribution in ``site`` whose ``gankit`` entry point ``entry_point`` is ``module``."""
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    dist = site / f"{module}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[gankit]\n{entry_point} = {module}\n")


# A.1: `gankit plugins` exits 1 when a plugin failed ------------------------------------

def _broken_plugin() -> types.SimpleNamespace:
    def register_objectives(register):
        raise RuntimeError("the broken plugin's hook raised")

    return types.SimpleNamespace(register_objectives=hookimpl(register_objectives))


@pytest.mark.parametrize("args", [["plugins"], ["plugins", "--json"]])
def test_plugins_command_lists_everything_then_exits_1_when_a_plugin_failed(args):
    with plugin_registered(_broken_plugin(), "broken-plugin"):
        result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert "the broken plugin's hook raised" in result.stdout and "gankit.plugins.image" in result.stdout
    assert "error: plugin broken-plugin failed to load" in result.stderr
    if "--json" in args:
        rows = {row["name"]: row for row in json.loads(result.stdout)}
        assert rows["broken-plugin"]["error"] and rows["gankit.plugins.image"]["error"] is None


def test_the_gankit_process_exits_1_when_an_installed_plugin_fails_to_import(tmp_path):
    _install(tmp_path, "gankit_contract_broken", "raise ImportError('missing dependency xyz')\n", "contract-broken")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "GANKIT_LOAD_PLUGINS": "contract-broken"}
    result = subprocess.run([sys.executable, "-m", "gankit", "plugins"], capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 1, result.stderr
    assert "missing dependency xyz" in result.stdout and "gankit.plugins.image" in result.stdout


def test_plugins_command_exits_0_when_every_plugin_loaded():
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    assert "FAILED" not in result.stdout


# A.2: an unknown name in GANKIT_LOAD_PLUGINS warns -------------------------------------

HELLO = """
from gankit.hookspecs import hookimpl
from gankit.specs import ObjectiveSpec

@hookimpl
def register_objectives(register):
    register(ObjectiveSpec(name="contract-hello", description="from an entry point",
                           d_loss=lambda r, f: r.mean(), g_loss=lambda r, f: f.mean()))
"""


@pytest.fixture
def hello_entry_point(tmp_path, monkeypatch):
    """An installed third-party plugin ``contract-hello`` (an entry point in a folder on sys.path)."""
    _install(tmp_path, "gankit_contract_hello", HELLO, "contract-hello")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry_module, "_warned_unknown", set(), raising=False)
    return "contract-hello"


def test_an_unknown_name_in_load_plugins_is_one_warning_naming_it_and_the_installed_ones(
        hello_entry_point, monkeypatch, capsys):
    monkeypatch.setenv("GANKIT_LOAD_PLUGINS", f"{hello_entry_point}, contract-helo")
    _, infos = get_plugin_manager()
    assert hello_entry_point in {info.name for info in infos}  # the known one still loads
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("warning: GANKIT_LOAD_PLUGINS names unknown plugin contract-helo ")
    assert hello_entry_point in lines[0].split("installed third-party plugins:")[1]
    get_plugin_manager()
    assert capsys.readouterr().err == ""  # once per process


@pytest.mark.parametrize("value", ["", "contract-hello"])
def test_known_or_no_names_in_load_plugins_say_nothing(hello_entry_point, value, monkeypatch, capsys):
    monkeypatch.setenv("GANKIT_LOAD_PLUGINS", value)
    get_plugin_manager()
    assert capsys.readouterr().err == ""


# C: the public helper for typed plugin options -----------------------------------------

@dataclasses.dataclass(frozen=True)
class Bounded:
    count: int = option(10, "how many", ge=1)
    offset: int = option(0, "where to start", ge=0)
    std: float = option(0.5, "spread", gt=0)
    dropout: float = option(0.0, "dropout", ge=0, lt=1)
    limit: int | None = option(None, "at most this many", ge=1)
    mode: Literal["a", "b"] = option("a", "which mode")

    def __post_init__(self) -> None:
        check_bounds(self)


def test_option_is_a_field_with_help_and_bounds():
    fields = {f.name: f for f in dataclasses.fields(Bounded)}
    assert dict(fields["dropout"].metadata) == {"help": "dropout", "ge": 0, "lt": 1}
    assert dict(fields["mode"].metadata) == {"help": "which mode"}
    assert ("count", "int", "how many (default: 10)") in option_help(Bounded)
    with pytest.raises(GankitError, match="has no help text"):
        option(1, "")


@pytest.mark.parametrize(("values", "message"), [
    ({"count": 0}, "count must be a positive integer, got 0"),
    ({"count": True}, "count must be a positive integer, got True"),
    ({"count": 2.0}, "count must be a positive integer, got 2.0"),
    ({"offset": -1}, "offset must be an integer >= 0, got -1"),
    ({"std": 0.0}, "std must be a positive number, got 0.0"),
    ({"std": float("inf")}, "std must be a positive number, got inf"),
    ({"std": float("nan")}, "std must be a positive number, got nan"),
    ({"dropout": 1.0}, r"dropout must be a number in \[0, 1\), got 1.0"),
    ({"limit": 0}, "limit must be a positive integer, got 0"),
])
def test_check_bounds_rejects_what_the_bounds_exclude(values, message):
    with pytest.raises(OptionError, match=f"^{message}$") as info:
        Bounded(**values)
    assert isinstance(info.value, GankitError) and isinstance(info.value, ValueError)


def test_check_bounds_lets_none_through_only_where_the_type_allows_it():
    assert Bounded(limit=None, std=2).limit is None
    with pytest.raises(OptionError, match="count must be a positive integer, got None"):
        Bounded(count=None)


def test_build_options_checks_bounds_and_names_the_owner_even_without_post_init():
    @dataclasses.dataclass(frozen=True)
    class Unchecked:
        width: int = option(8, "a width", ge=2)

    assert build_options(Unchecked, {"width": "4"}, what="model 'm'").width == 4
    with pytest.raises(GankitError, match="^model 'm': width must be an integer >= 2, got 1$"):
        build_options(Unchecked, {"width": "1"}, what="model 'm'")


def test_validators_for_values_no_single_field_describes():
    require_positive("n", 3)
    require_range("ratio", 0.5, gt=0, le=1)
    with pytest.raises(OptionError, match="^n must be a positive integer, got -2$"):
        require_positive("n", -2)
    with pytest.raises(OptionError, match=r"^ratio must be a number in \(0, 1\], got 1.5$"):
        require_range("ratio", 1.5, gt=0, le=1)
    with pytest.raises(OptionError, match="^k must be an integer <= 12, got 13$"):
        require_range("k", 13, integer=True, le=12)


PLUGIN_OPTION_FILES = ["plugins/image/options.py", "plugins/audio/options.py", "plugins/text/options.py",
                       "plugins/text/data_options.py", "examples/gankit-toy2d/src/gankit_toy2d/options.py"]


@pytest.mark.parametrize("path", PLUGIN_OPTION_FILES)
def test_plugins_use_the_public_option_helpers_not_private_copies(path):
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    private = sorted(node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
                     and node.name in ("_positive", "_non_negative", "_positive_float", "_opt"))
    assert not private, f"{path} defines {private}; use gankit.options (option, check_bounds, require_*)"
    calls = {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert "field" not in calls, f"{path} declares a field with dataclasses.field; use gankit.options.option"


# A.3: the documented output keys --------------------------------------------------------

INTERFACES = (ROOT / "docs" / "interfaces.md").read_text(encoding="utf-8")


def _documented(section: str) -> set[str]:
    """The keys in the first column of the tables under the heading ``section``."""
    body = INTERFACES.split(f"{section}\n", 1)[1]
    body = re.split(r"^#{2,3} ", body, maxsplit=1, flags=re.M)[0]
    return set(re.findall(r"^\| `([^`]+)` \|", body, flags=re.M))


def test_every_config_json_key_is_documented():
    from gankit.config import ENGINE_KEYS, resolve_config
    from gankit.registry import build_registry
    from gankit.rundir import provenance
    from gankit.specs import DataInfo

    record = resolve_config(build_registry(load_entry_points=False), {"domain": "image"}).to_dict()
    assert set(ENGINE_KEYS) == _documented("### Engine options"), "docs/interfaces.md: Engine options"
    assert set(record) - set(ENGINE_KEYS) | {"data_info", "provenance"} <= _documented("## `config.json`")
    assert {f.name for f in dataclasses.fields(DataInfo)} <= _documented("### `data_info`")
    assert set(provenance([], None)) <= _documented("### `provenance`")


def test_every_metrics_and_evaluate_key_of_a_run_is_documented(gauss_plugin, tmp_path):
    import gankit
    from gankit.evaluation import evaluate

    run = gankit.train("gauss", steps=4, log_every=2, eval_every=4, eval_samples=32, count=128, batch_size=32,
                       quiet=True, device="cpu", out=str(tmp_path / "run"))
    documented = _documented("### Loss records") | _documented("### Evaluation records")
    keys = {key for line in (run.dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
            for key in json.loads(line)}
    assert "eval/moments/mean_error" in keys
    undocumented = {key for key in keys if re.sub(r"^eval/[^/]+/[^/]+$", "eval/METRIC/VALUE", key) not in documented}
    assert not undocumented, f"metrics.jsonl keys missing from docs/interfaces.md: {sorted(undocumented)}"
    result = evaluate(run.dir, n=32)
    assert set(result) <= _documented("## `gankit evaluate`")
    for scored in result["metrics"].values():
        assert {f"metrics.METRIC.{key}" for key in scored} <= _documented("## `gankit evaluate`")


# B: no import cycle among gankit's modules ------------------------------------------------

def module_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Which module imports which, among the modules under ``root`` (the folder of
    ``package``). Every import counts: at the top, in a function, under TYPE_CHECKING.
    ``from X import Y`` depends on X and, when Y is a module, on X.Y; imports of
    ``package`` itself (its ``__init__``) are left out."""
    modules: dict[str, Path] = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join([package, *parts])] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        here = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target not in (name, package):
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import(tmp_path):
    (tmp_path / "a.py").write_text("from .b import thing\n")
    (tmp_path / "b.py").write_text("def thing():\n    from . import a\n")
    (tmp_path / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import x\n")
    assert cycles(module_graph(tmp_path, "pkg")) == [["pkg.a", "pkg.b"]]


@pytest.mark.parametrize(("folder", "package"), [("core", "gankit"), ("plugins", "gankit.plugins"),
                                                 ("examples/gankit-toy2d/src/gankit_toy2d", "gankit_toy2d")])
def test_no_import_cycles(folder, package):
    found = cycles(module_graph(ROOT / folder, package))
    assert not found, ("import cycles (move what both sides need into a module that imports neither): "
                       + "; ".join(" ".join(c) for c in found))
