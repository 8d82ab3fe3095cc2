"""What a run prints: text by default, nothing but errors with --quiet, JSON lines with
--log-format json."""

from __future__ import annotations

import json
import types
import warnings

import pytest

from gankit.callbacks import Callback, CallbackSpec
from gankit.cli import main
from gankit.hookspecs import hookimpl
from gankit.testing import plugin_registered

ARGS = ["--steps", "6", "--log-every", "2", "--sample-every", "3", "--checkpoint-every", "3", "--eval-every", "3",
        "--eval-samples", "64", "-o", "count", "256", "--batch-size", "32", "--device", "cpu"]


def _main(args):
    """Run the gankit command in this process; returns its exit code."""
    try:
        main(args)
    except SystemExit as exc:
        return exc.code or 0
    return 0


class Warner(Callback):
    def on_log(self, step, record):
        warnings.warn(f"a listener's warning at step {step}", UserWarning)


def _warner():
    spec = CallbackSpec(name="warner", description="warns at each log", build=Warner)
    return types.SimpleNamespace(register_callbacks=hookimpl(lambda register: register(spec)))


def test_json_logs_are_one_object_a_line(gauss_plugin, tmp_path, capsys):
    with plugin_registered(_warner(), "warner-plugin"):
        code = _main(["train", "gauss", *ARGS, "--out", str(tmp_path / "run"), "--log-format", "json",
                      "--callbacks", "warner"])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    lines = [json.loads(line) for line in out.splitlines()]  # every line parses on its own
    assert all(isinstance(line["ts"], float) for line in lines)
    kinds = [line["event"] for line in lines]
    assert kinds[0] == "start" and kinds[-1] == "end"
    assert {"message", "log", "eval", "preview", "checkpoint", "warning"} <= set(kinds)
    assert lines[0]["config"]["domain"] == "gauss" and lines[0]["steps"] == 6
    logs = [line for line in lines if line["event"] == "log"]
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [{k: v for k, v in line.items() if k not in ("event", "ts")} for line in logs] == records
    evals = [line for line in lines if line["event"] == "eval"]
    assert [(e["step"], e["metric"]) for e in evals] == [(3, "moments"), (6, "moments")]
    assert "mean_error" in evals[0]["values"] and evals[0]["best"] is True
    warned = [line for line in lines if line["event"] == "warning"]
    assert warned[0]["message"] == "a listener's warning at step 2" and warned[0]["category"] == "UserWarning"
    assert any(line["event"] == "message" and line["message"].startswith("data: ") for line in lines)
    assert lines[-1] == {**lines[-1], "status": "finished", "step": 6, "run_dir": str(tmp_path / "run")}


def test_quiet_prints_nothing_but_the_result_and_errors(gauss_plugin, tmp_path, capsys):
    with plugin_registered(_warner(), "warner-plugin"):
        code = _main(["train", "gauss", *ARGS, "--out", str(tmp_path / "run"), "--quiet", "--callbacks", "warner"])
        assert code == 0 and capsys.readouterr() == (f"run saved to {tmp_path / 'run'} (step 6)\n", "")
        code = _main(["train", "gauss", *ARGS, "--out", str(tmp_path / "run"), "--quiet"])  # the run exists
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.startswith("error: ") and err.count("\n") == 1 and "--resume" in err
    with plugin_registered(_warner(), "warner-plugin"):
        code = _main(["train", "gauss", *ARGS, "--out", str(tmp_path / "json"), "--quiet", "--log-format", "json",
                      "--callbacks", "warner"])
    assert code == 0 and capsys.readouterr() == ("", "")  # JSON's end event would name the run: nothing at all


def test_text_logs_go_to_stderr_and_the_result_to_stdout(gauss_plugin, tmp_path, capsys):
    code = _main(["train", "gauss", *ARGS, "--out", str(tmp_path / "run")])
    out, err = capsys.readouterr()
    assert code == 0 and out == f"run saved to {tmp_path / 'run'} (step 6)\n"
    assert "gauss/net: steps 0..6" in err and "step 6/6 d_loss=" in err and "moments/mean_error" in err


@pytest.mark.parametrize("args", [["--steps", "many"], ["--callbacks", "nope"]])
def test_an_error_under_json_logs_is_one_json_line_on_stderr(gauss_plugin, tmp_path, capsys, args):
    code = _main(["train", "gauss", "--log-format", "json", *args, "--out", str(tmp_path / "run")])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    (line,) = err.splitlines()
    error = json.loads(line)
    assert error["event"] == "error" and ("'steps'" in error["message"] or "unknown callback 'nope'" in error["message"])
    assert not (tmp_path / "run").exists()


def test_json_logs_from_a_config_file(gauss_plugin, tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text('log_format = "json"\nsteps = 2\nsample_every = 0\n')
    assert _main(["train", "gauss", "--config", str(config), "--out", str(tmp_path / "run")]) == 0
    out, err = capsys.readouterr()
    assert err == "" and [json.loads(line)["event"] for line in out.splitlines()][-1] == "end"
