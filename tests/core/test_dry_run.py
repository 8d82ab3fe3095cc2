"""Config files and --dry-run: every engine option is a key, a run's config.json resolves
back to the same configuration, and a dry run resolves without touching the disk."""

from __future__ import annotations

import dataclasses
import json
import types
import typing

import pytest

import gankit
from gankit.cli import main, resolve_only
from gankit.config import TrainConfig, resolve_config
from gankit.errors import GankitError
from gankit.options import field_types
from gankit.registry import get_registry

# Values for the options a generic rule cannot pick: names must exist.
NAMED = {"domain": "image", "model": "mlp", "dataset": "shapes", "objective": "hinge", "preset": "cpu",
         "device": "cpu", "data": "some/folder", "out": "runs/elsewhere", "callbacks": ["tensorboard"]}


def _dry_run(args, capsys) -> dict:
    try:
        main(["train", *args, "--dry-run"])
    except SystemExit as exc:
        assert exc.code in (0, None), capsys.readouterr().err
    out, err = capsys.readouterr()
    assert err == ""
    return json.loads(out)


def _other_value(name: str, annotation: typing.Any, default: typing.Any) -> typing.Any:
    """A valid value of the option's type that differs from its default."""
    if name in NAMED:
        return NAMED[name]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return next(choice for choice in args if choice != default)
    if origin in (typing.Union, types.UnionType):
        annotation = next(arg for arg in args if arg is not type(None))
        return _other_value(name, annotation, None) if default is None else default
    if origin is tuple:
        return [0.25] * len(args) if args[-1] is not Ellipsis else [default[0]] if default else []
    if annotation is bool:
        return not default
    if annotation is int:
        return 2 if default is None else default + 1
    if annotation is float:
        return 0.5 if default in (None, 0.0) else default / 2
    return default  # a str option whose valid values this test cannot know: the key is still checked


def _toml(value: typing.Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)  # strings and numbers: JSON's forms are TOML's


@pytest.mark.parametrize("field", [f for f in dataclasses.fields(TrainConfig)], ids=lambda f: f.name)
def test_every_train_option_is_a_toml_key(field, tmp_path):
    annotation = field_types(TrainConfig)[field.name]
    value = _other_value(field.name, annotation, field.default)
    path = tmp_path / "run.toml"
    lines = {"domain": '"image"', field.name: _toml(value)}
    path.write_text("".join(f"{key} = {text}\n" for key, text in lines.items()), encoding="utf-8")
    resolved = resolve_config(get_registry(), {}, path).to_dict()
    if field.name in ("resume", "overwrite"):
        assert resolved[field.name] is False  # accepted and ignored: continuing or replacing a run is the command's job
    else:
        assert resolved[field.name] == (list(value) if isinstance(value, tuple) else value), field.name


def test_a_runs_config_json_resolves_to_the_same_configuration(tmp_path, capsys):
    run = gankit.train("image", model="mlp", hidden=16, count=64, steps=2, batch_size=8, sample_every=0,
                       betas_g=(0.4, 0.9), callbacks=[], out=str(tmp_path / "run"), quiet=True, device="cpu")
    stored = json.loads((run.dir / "config.json").read_text())
    printed = _dry_run(["image", "--config", str(run.dir / "config.json")], capsys)
    assert printed == {k: v for k, v in stored.items() if k not in ("provenance", "data_info")}
    again = tmp_path / "again.json"  # a dry run's output is itself a config file
    again.write_text(json.dumps(printed))
    assert _dry_run(["image", "--config", str(again)], capsys) == printed


def test_dry_run_resolves_every_layer_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run.toml").write_text('steps = 40\nlr_g = 0.001\n[model_options]\nhidden = 32\n')
    printed = _dry_run(["image", "--preset", "cpu", "--config", "run.toml", "--lr-g", "0.003", "-o", "count", "99",
                        "--tensorboard", "--out", "runs/x"], capsys)
    assert printed["steps"] == 40  # the file beats the preset (3000)
    assert printed["batch_size"] == 128 and printed["log_every"] == 100  # the preset beats the defaults
    assert printed["lr_g"] == 0.003 and printed["model_options"]["hidden"] == 32
    assert printed["dataset_options"]["count"] == 99 and printed["tensorboard"] is True and printed["out"] == "runs/x"
    assert list(tmp_path.iterdir()) == [tmp_path / "run.toml"]


def test_dry_run_reports_what_the_run_would_fail_on(tmp_path, capsys):
    for args, message in [(["--callbacks", "mlflow"], "unknown callback 'mlflow'"),
                          (["--objective", "nope"], "unknown objective 'nope'"),
                          (["--dataset", "folder"], "needs --data PATH")]:
        with pytest.raises(SystemExit):
            main(["train", "image", *args, "--dry-run", "--out", str(tmp_path / "r")])
        assert message in capsys.readouterr().err
    with pytest.raises(GankitError, match="unknown callback"):
        resolve_only(get_registry(), "image", None, {"callbacks": "mlflow"})
    assert not (tmp_path / "r").exists()


def test_dry_run_of_a_resume_shows_the_stored_configuration(tmp_path, capsys):
    gankit.train("image", model="mlp", hidden=16, count=64, steps=2, batch_size=8, sample_every=0,
                 out=str(tmp_path / "run"), quiet=True, device="cpu")
    printed = _dry_run(["image", "--out", str(tmp_path / "run"), "--resume", "--steps", "5"], capsys)
    assert printed["steps"] == 5 and printed["resume"] is True and printed["model_options"]["hidden"] == 16
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["last.pt", "step-0000002.pt"]
