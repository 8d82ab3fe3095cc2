"""Listeners on training events (the register_callbacks hook) and the TensorBoard listener."""

from __future__ import annotations

import json
import random
import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

import gankit
from gankit.callbacks import Callback, CallbackSpec
from gankit.errors import GankitError
from gankit.hookspecs import hookimpl
from gankit.registry import get_registry
from gankit.testing import plugin_registered

QUICK = dict(steps=6, log_every=2, sample_every=3, checkpoint_every=3, eval_every=3, eval_samples=64, count=256,
             batch_size=32, quiet=True, device="cpu")


class Recorder(Callback):
    """Writes down every event it is told about."""

    def __init__(self):
        self.events = []

    def on_run_start(self, run):
        self.events.append(("start", run))

    def on_log(self, step, record):
        self.events.append(("log", step, dict(record)))

    def on_eval(self, step, metric, values, best):
        self.events.append(("eval", step, metric, dict(values), best))

    def on_preview(self, step, path):
        self.events.append(("preview", step, path))

    def on_checkpoint(self, step, path):
        self.events.append(("checkpoint", step, path))

    def on_run_end(self, step, status):
        self.events.append(("end", step, status))


def _listener_plugin(name, build):
    spec = CallbackSpec(name=name, description=f"the {name} test listener", build=build)
    return types.SimpleNamespace(register_callbacks=hookimpl(lambda register: register(spec)))


def test_hook_register_callbacks(gauss_plugin, tmp_path):
    built = []

    def build():
        built.append(Recorder())
        return built[-1]

    with plugin_registered(_listener_plugin("recorder", build), "hook-callbacks"):
        registry = get_registry()
        assert registry.callback("recorder").description == "the recorder test listener"
        assert registry.owner_of("callbacks", "recorder") == "hook-callbacks"
        run = gankit.train("gauss", callbacks=["recorder"], out=str(tmp_path / "run"), **QUICK)
    assert len(built) == 1
    events = built[0].events
    kinds = [event[0] for event in events]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("start") == kinds.count("end") == 1

    start = events[0][1]
    assert start.run_dir == run.dir and start.start_step == 0 and start.total_steps == 6 and not start.resumed
    assert start.config == json.loads((run.dir / "config.json").read_text())
    logged = [event[2] for event in events if event[0] == "log"]
    assert logged == [json.loads(line) for line in (run.dir / "metrics.jsonl").read_text().splitlines()]
    evals = [event for event in events if event[0] == "eval"]
    assert [(e[1], e[2]) for e in evals] == [(3, "moments"), (6, "moments")] and evals[0][4] is True
    assert evals[0][3] == {k.split("/")[-1]: v for k, v in logged[1].items() if k.startswith("eval/")}
    previews = [event for event in events if event[0] == "preview"]
    assert [p[1] for p in previews] == [3, 6] and all(p[2].is_file() and p[2].suffix == ".txt" for p in previews)
    checkpoints = [event for event in events if event[0] == "checkpoint"]
    assert [c[1] for c in checkpoints] == [3, 6] and checkpoints[-1][2].name == "step-0000006.pt"
    assert events[-1] == ("end", 6, "finished")


def test_a_listener_not_named_is_not_built(gauss_plugin, tmp_path):
    def build():
        raise AssertionError("built although the run did not ask for it")

    with plugin_registered(_listener_plugin("unwanted", build), "unwanted-plugin"):
        gankit.train("gauss", out=str(tmp_path / "run"), **QUICK)


class RandomListener(Callback):
    """Draws from every global RNG at every event: training must not notice."""

    def _draw(self, *args):
        torch.rand(5)
        np.random.rand(5)
        random.random()

    on_run_start = on_log = on_eval = on_preview = on_checkpoint = on_run_end = _draw


def test_listeners_never_change_training(tmp_path):
    # Dropout draws from torch's global RNG at every step, so a listener's draws would show.
    options = {**QUICK, "eval_every": 0, "seed": 3, "model": "mlp", "hidden": 16, "dropout": 0.3}
    plain = gankit.train("image", out=str(tmp_path / "plain"), **options)
    with plugin_registered(_listener_plugin("random", RandomListener), "random-plugin"):
        listened = gankit.train("image", callbacks="random", out=str(tmp_path / "listened"), **options)
    for a, b in zip(plain.generator.state_dict().values(), listened.generator.state_dict().values()):
        assert torch.equal(a, b)
    losses = [{k: v for k, v in r.items() if k not in ("steps_per_s", "time")} for r in plain.metrics]
    assert losses == [{k: v for k, v in r.items() if k not in ("steps_per_s", "time")} for r in listened.metrics]


def test_a_failing_listener_stops_the_run_with_an_error_naming_it(gauss_plugin, tmp_path):
    class Broken(Callback):
        def on_checkpoint(self, step, path):
            raise RuntimeError("the tracking server is down")

    recorder = Recorder()
    broken = _listener_plugin("broken", Broken)
    with plugin_registered(broken, "broken-plugin"), \
            plugin_registered(_listener_plugin("recorder", lambda: recorder), "recorder-plugin"):
        with pytest.raises(GankitError, match=r"callback 'broken' from plugin broken-plugin failed in on_checkpoint: "
                                              r"RuntimeError: the tracking server is down"):
            gankit.train("gauss", callbacks="broken,recorder", out=str(tmp_path / "run"), **QUICK)
    assert recorder.events[-1] == ("end", 3, "failed")  # the others hear that the run failed
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()  # written before the listener heard of it


def test_unknown_and_misbuilt_listeners_fail_before_the_run_starts(gauss_plugin, tmp_path):
    with pytest.raises(GankitError, match="unknown callback 'mlflow'; choose one of: .*tensorboard"):
        gankit.train("gauss", callbacks="mlflow", out=str(tmp_path / "a"), **QUICK)
    assert not (tmp_path / "a").exists()
    with plugin_registered(_listener_plugin("odd", lambda: object()), "odd-plugin"):
        with pytest.raises(GankitError, match="callback 'odd' from plugin odd-plugin built a object, not a "
                                              "gankit.callbacks.Callback"):
            gankit.train("gauss", callbacks="odd", out=str(tmp_path / "b"), **QUICK)
    assert not (tmp_path / "b").exists()


def test_a_listener_clash_is_reported_and_skipped():
    clash = _listener_plugin("tensorboard", Recorder)
    with plugin_registered(clash, "clashing-plugin"):
        registry = get_registry()
        assert registry.owner_of("callbacks", "tensorboard") == "gankit.tensorboard"
        failure = next(f for f in registry.failures() if f.plugin == "clashing-plugin")
        assert "already registered by gankit.tensorboard" in failure.error


# TensorBoard ------------------------------------------------------------------------------

def _event_accumulator(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0, "audio": 0})
    accumulator.Reload()
    return accumulator


def test_tensorboard_scalars_and_previews_can_be_read_back(tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed: pip install 'gankit[tensorboard]'")
    run = gankit.train("image", model="mlp", hidden=16, tensorboard=True, out=str(tmp_path / "run"),
                       **{**QUICK, "eval_every": 0})
    files = list((run.dir / "tensorboard").glob("events.out.tfevents.*"))
    assert len(files) == 1
    events = _event_accumulator(run.dir / "tensorboard")
    tags = events.Tags()
    assert {"d_loss", "g_loss", "steps_per_s"} <= set(tags["scalars"]) and tags["images"] == ["preview/image"]
    logged = run.metrics
    assert [(e.step, e.value) for e in events.Scalars("d_loss")] == \
        [(r["step"], pytest.approx(r["d_loss"], rel=1e-6)) for r in logged]
    images = events.Images("preview/image")
    assert [image.step for image in images] == [3, 6] and images[0].width > 28 and images[0].height > 28


def test_tensorboard_on_resume_keeps_each_step_once(gauss_plugin, tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed: pip install 'gankit[tensorboard]'")
    options = {**QUICK, "eval_every": 0}
    gankit.train("gauss", tensorboard=True, out=str(tmp_path / "run"), **options)
    gankit.train("gauss", tensorboard=True, out=str(tmp_path / "run"), resume=True, **{**options, "steps": 10})
    steps = [e.step for e in _event_accumulator(tmp_path / "run" / "tensorboard").Scalars("g_loss")]
    assert steps == [2, 4, 6, 8, 10]


def test_tensorboard_without_the_package_is_a_clear_error(gauss_plugin, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as if not installed
    with pytest.raises(GankitError, match=r"--tensorboard needs the tensorboard package.*pip install 'gankit\[tensorboard\]'"):
        gankit.train("gauss", tensorboard=True, out=str(tmp_path / "run"), **QUICK)
    assert not (tmp_path / "run").exists()


def test_the_mlflow_example_of_docs_logging_md(tmp_path, monkeypatch):
    """The page's example runs as it is, against a stand-in mlflow module that records calls."""
    calls = []
    mlflow = types.ModuleType("mlflow")
    for name in ("start_run", "log_params", "log_metrics", "log_artifact", "end_run"):
        setattr(mlflow, name, lambda *args, _name=name, **kwargs: calls.append((_name, args, kwargs)))
    monkeypatch.setitem(sys.modules, "mlflow", mlflow)
    monkeypatch.chdir(tmp_path)
    page = (Path(__file__).resolve().parents[2] / "docs" / "logging.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```python\n(.*?)```", page, flags=re.S)
    module = types.ModuleType("docs_logging_md")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(block, "logging.md", "exec"), module.__dict__)

    names = [call[0] for call in calls]
    assert names[0] == "start_run" and calls[0][2] == {"run_name": "mlflow-demo"}
    params = calls[1][1][0]
    assert names[1] == "log_params" and params["model"] == "mlp" and params["dataset_options.count"] == 256
    assert "provenance.gankit" not in params
    metrics = [call for call in calls if call[0] == "log_metrics"]
    assert [call[2]["step"] for call in metrics] == [5, 10, 15, 20] and "d_loss" in metrics[0][1][0]
    artifacts = [Path(call[1][0]).name for call in calls if call[0] == "log_artifact"]
    assert artifacts == ["step-0000010.png", "step-0000020.png"]
    assert calls[-1] == ("end_run", (), {"status": "FINISHED"})


def test_listeners_are_listed_with_their_plugin():
    from click.testing import CliRunner

    from gankit.cli import cli

    listing = json.loads(CliRunner().invoke(cli, ["list", "--json"]).output)
    assert listing["callbacks"]["tensorboard"]["plugin"] == "gankit.tensorboard"
    assert "tensorboard" in CliRunner().invoke(cli, ["list"]).output.split("callbacks (")[1]
    plugins = {row["name"]: row for row in json.loads(CliRunner().invoke(cli, ["plugins", "--json"]).output)}
    assert plugins["gankit.tensorboard"]["registered"] == {"callbacks": ["tensorboard"]}
    assert "Callbacks (--callbacks NAME): tensorboard" in CliRunner().invoke(cli, ["train", "image", "--help"]).output
