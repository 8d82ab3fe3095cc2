"""The gankit command: help is fast and light, errors are one line, train/sample work."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from gankit.cli import cli, main

HEAVY = ("transformers", "torchaudio")


def _run(args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "GANKIT_LOAD_PLUGINS": ""}
    return subprocess.run([sys.executable, "-m", "gankit", *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize("args", [["--help"], ["list"], ["plugins"], ["train", "--help"], ["train", "image", "--help"]])
def test_listing_commands_import_no_heavy_library(args):
    probe = (
        "import sys, runpy\n"
        f"sys.argv = ['gankit', *{args!r}]\n"
        "try:\n    runpy.run_module('gankit', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        f"print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "GANKIT_LOAD_PLUGINS": ""})
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr


def test_train_help_lists_domains_models_datasets_and_options():
    runner = CliRunner()
    assert "image" in runner.invoke(cli, ["train", "--help"]).output
    output = runner.invoke(cli, ["train", "image", "--help"]).output
    for text in ("mlp (default)", "shapes (default)", "mnist", "-o latent_dim INT", "-o split", "--batch-size",
                 "--lr-g", "--penalty", "--ema-decay", "--max-minutes", "--keep-last", "non-saturating"):
        assert text in output, text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "video"], "unknown domain 'video'; choose one of: "),
        (["train", "image", "--model", "gpt"], "unknown model 'gpt' for domain 'image'; choose one of: "),
        (["train", "image", "--steps", "many"], "option 'steps': expected an integer, got 'many'"),
        (["train", "image", "--objective", "nope"], "unknown objective 'nope'; choose one of:"),
        (["train", "image", "-o", "colour", "red"], "unknown option 'colour'"),
        (["train", "image", "--device", "tpu"], "unknown device 'tpu'"),
        (["sample", "/nonexistent/run"], "neither a run directory nor a checkpoint file"),
    ],
)
def test_bad_input_is_a_one_line_error(args, message):
    result = _run(args)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert message in result.stderr
    listed = {"unknown domain": "image", "unknown model": "mlp", "unknown objective": "hinge"}
    for start, name in listed.items():
        if message.startswith(start):
            assert name in result.stderr.split("choose one of:")[1]
    assert "Traceback" not in result.stderr


def test_train_and_sample_from_the_cli(tmp_path, capsys):
    out = tmp_path / "run"
    with _no_exit():
        main(["train", "image", "--steps", "6", "--batch-size", "8", "-o", "count", "64", "--out", str(out),
              "--quiet", "--betas-g", "0.5,0.99"])
    config = json.loads((out / "config.json").read_text())
    assert config["betas_g"] == [0.5, 0.99] and config["dataset_options"]["count"] == 64
    assert config["provenance"]["command_line"].startswith("gankit train image --steps 6")
    main(["sample", str(out), "-n", "5", "--out", str(tmp_path / "png")])
    assert len(list((tmp_path / "png").glob("*.png"))) == 5


def test_throwaway_plugin_domain_trains_from_the_cli(gauss_plugin, tmp_path):
    result = CliRunner().invoke(cli, ["train", "gauss", "--steps", "30", "--out", str(tmp_path / "g"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "run saved to" in result.output
    assert (tmp_path / "g" / "checkpoints" / "last.pt").is_file()
    listing = CliRunner().invoke(cli, ["list", "--json"]).output
    assert json.loads(listing)["domains"]["gauss"]["plugin"] == "gauss-test-plugin"


def test_model_option_defaults_are_shown_as_dash_o(monkeypatch):
    from gankit.registry import get_registry

    registry = get_registry()
    spec = registry.model("image", "mlp")
    monkeypatch.setitem(registry.models, ("image", "mlp"),
                        type(spec)(**{**spec.__dict__, "defaults": {**spec.defaults, "hidden": 64}}))
    output = CliRunner().invoke(cli, ["train", "image", "--help"], terminal_width=200).output
    assert "-o hidden 64" in output and "--hidden" not in output and "--lr-g 0.0002" in output


def test_devices_reports_the_cpu():
    rows = json.loads(CliRunner().invoke(cli, ["devices", "--json"]).output)
    assert rows["devices"][0]["device"] == "cpu"


class _no_exit:
    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        return exc_type is SystemExit and (exc.code in (0, None))
