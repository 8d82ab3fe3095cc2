"""Every failure of issue 19 ends the `gankit` command with one line on stderr, no
traceback and a non-zero exit, and leaves no partial file: full disks, read-only folders,
hostile files, interrupted commands and the messages that used to mislead."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import torch

import gankit
from gankit.cli import main
from gankit.errors import GankitError
from gankit.run import Run

from test_sample_streaming import file_size_limit

TINY = ["--model", "mlp", "--steps", "2", "--batch-size", "8", "-o", "count", "64", "-o", "hidden", "16",
        "--checkpoint-every", "1", "--keep-last", "0", "--quiet"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished two-step run with step-0000001.pt, step-0000002.pt and last.pt."""
    out = tmp_path_factory.mktemp("failures") / "run"
    main(["train", "image", *TINY, "--out", str(out)])
    return out


@pytest.fixture(scope="module")
def exported(finished, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "generator"
    main(["export", str(finished), "--out", str(out)])
    return out


def _gankit(args: list[Any], capsys) -> tuple[int, str, str]:
    """Run the console script in this process: exit code, stdout, stderr."""
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``folder`` made read-only for real: by permissions for a normal user; root ignores
    them, so a read-only bind mount there (skipped where mounting is not allowed)."""
    if os.geteuid() != 0:
        entries = [folder, *folder.rglob("*")]
        modes = {p: p.stat().st_mode for p in entries}
        for p in entries:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            yield
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    if subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True).returncode != 0:
        pytest.skip("root, and mount is not allowed here: no way to make a read-only folder")
    try:
        if subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], capture_output=True).returncode != 0:
            pytest.skip("root, and a read-only remount is not allowed here")
        yield
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


def _hostile_export(exported: Path, tmp_path: Path, change: Callable[[dict], Any] | str) -> Path:
    folder = _copy(exported, tmp_path / "hostile")
    if isinstance(change, str):
        (folder / "generator.json").write_text(change)
    else:
        meta = json.loads((folder / "generator.json").read_text())
        change(meta)
        (folder / "generator.json").write_text(json.dumps(meta))
    return folder


# The cases: each returns (arguments, what the one line says, a context to run in, a check after).
Case = tuple[list[Any], str, Any, Callable[[], None] | None]
CASES: dict[str, Callable[[Path, Path, Path], Case]] = {}


def case(function: Callable[[Path, Path, Path], Case]) -> Callable[[Path, Path, Path], Case]:
    CASES[function.__name__.removeprefix("case_")] = function
    return function


@case
def case_sample_onto_a_file(run, exported, tmp):
    (tmp / "notes.txt").write_text("mine\n")
    return (["sample", run, "--out", tmp / "notes.txt"], r"'.*notes.txt' is a file, not a folder",
            contextlib.nullcontext(), lambda: _equal((tmp / "notes.txt").read_text(), "mine\n"))


@case
def case_sample_an_absurd_count(run, exported, tmp):
    return (["sample", run, "-n", "100000000000", "--format", "npy", "--out", tmp / "huge"],
            r"the 100,000,000,000 samples need about [\d.]+ TB, but .* free", contextlib.nullcontext(),
            lambda: _absent(tmp / "huge"))


@case
def case_sample_on_a_full_disk(run, exported, tmp):
    return (["sample", run, "-n", "300", "--format", "npy", "--out", tmp / "s"],
            r"cannot write the samples to .*: File too large; partial files were removed", file_size_limit(64_000),
            lambda: _absent(tmp / "s"))


@case
def case_export_on_a_full_disk(run, exported, tmp):
    return (["export", run, "--out", tmp / "e"], r"cannot write the export to .*: File too large",
            file_size_limit(8_000), lambda: _absent(tmp / "e"))


@case
def case_report_on_a_full_disk(run, exported, tmp):
    return (["report", run, "--out", tmp / "r" / "report.html"], r"cannot write the report to .*: File too large",
            file_size_limit(2_000), lambda: _absent(tmp / "r"))


@case
def case_checkpoint_on_a_full_disk(run, exported, tmp):
    copy = _copy(run, tmp / "run")
    last = (copy / "checkpoints" / "last.pt").read_bytes()
    return (["train", "image", "--out", copy, "--resume", "--steps", "4", "--quiet"],
            r"cannot write the checkpoint for step 3 .*File too large; the previous checkpoint \(last.pt\) is intact",
            file_size_limit(64_000), lambda: _equal((copy / "checkpoints" / "last.pt").read_bytes(), last))


@case
def case_sample_into_a_read_only_folder(run, exported, tmp):
    (tmp / "ro").mkdir()
    return (["sample", run, "--out", tmp / "ro" / "s"], r"cannot write the samples to .*ro/s': (Read-only|Permission)",
            read_only(tmp / "ro"), None)


@case
def case_export_into_a_read_only_folder(run, exported, tmp):
    (tmp / "ro").mkdir()
    return (["export", run, "--out", tmp / "ro" / "e"], r"cannot write the export to .*: (Read-only|Permission)",
            read_only(tmp / "ro"), None)


@case
def case_report_into_a_read_only_folder(run, exported, tmp):
    (tmp / "ro").mkdir()
    return (["report", run, "--out", tmp / "ro" / "r.html"], r"cannot write the report to .*: (Read-only|Permission)",
            read_only(tmp / "ro"), None)


@case
def case_resume_a_read_only_run(run, exported, tmp):
    copy = _copy(run, tmp / "ro")
    before = _files(copy)
    return (["train", "image", "--out", copy, "--resume", "--steps", "3", "--quiet"], r"(not writable|Read-only|Permission)",
            read_only(copy), lambda: _equal(_files(copy), before))


@case
def case_an_unwritable_cache(run, exported, tmp):
    (tmp / "a-file").write_text("")
    os.environ["GANKIT_CACHE"] = str(tmp / "a-file" / "cache")  # restored by the test
    return (["evaluate", run, "-n", "8"],
            r"cannot create gankit's cache folder .*a-file/cache/metrics': Not a directory; set GANKIT_CACHE",
            contextlib.nullcontext(), None)


@case
def case_an_export_asking_for_a_huge_model(run, exported, tmp):
    folder = _hostile_export(exported, tmp, lambda m: m["config"]["model_options"].update(hidden=1e9))
    return (["sample", folder, "--out", tmp / "s"],
            r"generator.json' describes a model of [\d,]+ parameters .*more than gankit builds \(2,000,000,000\)",
            contextlib.nullcontext(), lambda: _absent(tmp / "s"))


@case
def case_an_export_whose_domain_is_not_a_name(run, exported, tmp):
    folder = _hostile_export(exported, tmp, lambda m: m["config"].update(domain={"a": 1}))
    return (["sample", folder], r"is damaged or not gankit's: its configuration's 'domain' must be a name",
            contextlib.nullcontext(), None)


@case
def case_an_export_with_broken_json(run, exported, tmp):
    folder = _hostile_export(exported, tmp, '{"format": "gankit-generator", ')
    return (["sample", folder], r"generator.json' is not valid JSON .*; export the run again", contextlib.nullcontext(),
            None)


@case
def case_an_export_with_huge_samples(run, exported, tmp):
    folder = _hostile_export(exported, tmp, lambda m: m["data_info"].update(shape=[1, 100000, 100000]))
    return (["sample", folder], r"its data_info shape \[1, 100000, 100000\] makes samples of 10,000,000,000 values",
            contextlib.nullcontext(), None)


@case
def case_a_pretrained_folder_asking_for_a_huge_model(run, exported, tmp):
    (tmp / "lm").mkdir()
    (tmp / "lm" / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_embd": 100000, "n_layer": 1,
                                                         "n_head": 1, "vocab_size": 50, "n_positions": 64,
                                                         "bos_token_id": 0, "eos_token_id": 1}))
    return (["train", "text", "--model", "transformer", "-o", "pretrained", tmp / "lm", "--out", tmp / "t",
             "--steps", "1", "--quiet"],
            r"-o pretrained .*lm' \(its config.json\) describes a model of 120,012,900,000 parameters",
            contextlib.nullcontext(), lambda: _absent(tmp / "t"))


@case
def case_a_checkpoint_holding_code(run, exported, tmp):
    torch.save({"format_version": 1, "payload": print}, tmp / "evil.pt")
    return (["sample", tmp / "evil.pt"], r"'.*evil.pt' is not a gankit checkpoint: it holds Python objects",
            contextlib.nullcontext(), None)


@case
def case_a_truncated_last_checkpoint(run, exported, tmp):
    copy = _copy(run, tmp / "run")
    last = copy / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[:1000])

    def follow_the_advice() -> None:
        shutil.copy(copy / "checkpoints" / "step-0000002.pt", last)
        assert gankit.load(copy).step == 2

    return (["sample", copy], r"damaged .*; intact step checkpoints, newest first: step-0000002.pt, step-0000001.pt; "
                              r"to continue from the newest: cp .*step-0000002.pt .*last.pt$",
            contextlib.nullcontext(), follow_the_advice)


@case
def case_betas_out_of_range(run, exported, tmp):
    return (["train", "image", "--betas-g", "2,3", "--dry-run"],
            r"option 'betas_g' must be two numbers in \[0, 1\); got \(2.0, 3.0\)", contextlib.nullcontext(), None)


@case
def case_an_unknown_key_in_a_config_file(run, exported, tmp):
    (tmp / "c.json").write_text('{"hiden": 3}')
    return (["train", "image", "--config", tmp / "c.json", "--dry-run"],
            r"unknown option 'hiden': not an engine option, nor one of model 'mlp' or dataset 'shapes' "
            r"\(did you mean 'hidden'\?\)", contextlib.nullcontext(), None)


@case
def case_a_yaml_config(run, exported, tmp):
    (tmp / "c.yaml").write_text("steps: 3\n")
    return (["train", "image", "--config", tmp / "c.yaml", "--dry-run"],
            r"YAML is not supported; write the options as TOML \(.toml\) or JSON \(.json\)", contextlib.nullcontext(),
            None)


@case
def case_resume_with_another_model(run, exported, tmp):
    return (["train", "image", "--out", run, "--resume", "--model", "dcgan"],
            r"the model cannot change when resuming: .* trains model 'mlp', not 'dcgan'", contextlib.nullcontext(), None)


@case
def case_resume_in_another_domain(run, exported, tmp):
    return (["train", "audio", "--out", run, "--resume"], r"trains domain 'image', not 'audio'; continue it with "
                                                          r"`gankit train image --out .* --resume`",
            contextlib.nullcontext(), None)


@case
def case_evaluate_one_sample(run, exported, tmp):
    return (["evaluate", run, "-n", "1"], r"evaluation needs at least 2 samples \(-n\), got 1", contextlib.nullcontext(),
            None)


@case
def case_report_onto_an_existing_file(run, exported, tmp):
    (tmp / "page.html").write_text("mine\n")
    return (["report", run, "--out", tmp / "page.html"], r"already exists; pass --overwrite to replace it",
            contextlib.nullcontext(), lambda: _equal((tmp / "page.html").read_text(), "mine\n"))


@case
def case_ctrl_c_during_sample(run, exported, tmp):
    batches = Run._batches

    def interrupted(self, *args):
        chunks = batches(self, *args)
        yield next(chunks)
        raise KeyboardInterrupt

    @contextlib.contextmanager
    def pressing_ctrl_c() -> Iterator[None]:
        Run._batches = interrupted
        try:
            yield
        finally:
            Run._batches = batches

    return (["sample", run, "-n", "600", "--format", "npy", "--out", tmp / "s"],
            r"^interrupted: no samples written to .*s \(partial files removed\)$", pressing_ctrl_c(),
            lambda: _absent(tmp / "s"))


def _absent(path: Path) -> None:
    assert not path.exists(), sorted(p.name for p in path.rglob("*"))


def _equal(a: Any, b: Any) -> None:
    assert a == b


@pytest.mark.parametrize("name", list(CASES))
def test_each_failure_is_one_line_without_a_traceback(name, finished, exported, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", os.environ["GANKIT_CACHE"])  # a case may point it elsewhere
    args, message, context, check = CASES[name](finished, exported, tmp_path)
    with context:
        code, out, err = _gankit(args, capsys)
    assert code != 0, out + err
    assert "Traceback" not in out + err and "weights_only" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and re.search(message, lines[0]), err
    if check is not None:
        check()


# Behaviour beyond the one line ------------------------------------------------------------

def test_the_refusals_come_before_allocating(exported, finished, tmp_path, monkeypatch):
    """A checkpoint or export asking for 1e9 hidden units would allocate 400 GB: it is
    measured on the meta device and refused; a trusted large model passes with the limit raised."""
    state = torch.load(finished / "checkpoints" / "last.pt", weights_only=True)
    state["config"]["model_options"]["hidden"] = 10**9
    torch.save(state, tmp_path / "huge.pt")
    with pytest.raises(GankitError, match=r"'.*huge.pt' describes a model of [\d,]+ parameters"):
        gankit.load(tmp_path / "huge.pt")
    monkeypatch.setenv("GANKIT_MAX_PARAMETERS", "1000")
    with pytest.raises(GankitError, match=r"a model of 28,065 parameters .*more than gankit builds \(1,000\)"):
        gankit.load(exported)
    monkeypatch.setenv("GANKIT_MAX_PARAMETERS", "1e6")
    assert gankit.load(exported).sample(2).shape == (2, 1, 28, 28)


def test_evaluate_warns_about_too_few_samples_and_says_when_it_capped(finished, capsys, caplog):
    code, out, err = _gankit(["evaluate", finished, "-n", "3", "--metric", "fid"], capsys)
    result = json.loads(out)
    assert code == 0 and result["n"] == 3 and "n_requested" not in result
    assert result["warnings"] == ["3 samples are too few for fid (needs 129+): the scores vary widely and are not "
                                  "comparable; use -n 2000 or more"]
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == result["warnings"]  # on stderr
    code, out, err = _gankit(["evaluate", finished, "-n", "100000000", "--metric", "kid"], capsys)
    result = json.loads(out)
    assert result["n"] == 64 and result["n_requested"] == 100000000
    assert result["warnings"][0] == "scored 64 samples, not the 100000000 asked for: the dataset has 64"


def test_quiet_silences_skip_warnings_and_json_logs_carry_them(tmp_path, capsys, caplog):
    """The skip warning is a ``gankit`` log record: shown as a plain line normally, never
    with --quiet, and as a JSON ``warning`` event (not plain text) with --log-format json."""
    from PIL import Image

    data = tmp_path / "images"
    data.mkdir()
    for i in range(8):
        Image.new("L", (8, 8), color=30 * i).save(data / f"{i}.png")
    (data / "broken.png").write_bytes(b"not a png")
    common = ["train", "image", "--model", "mlp", "--dataset", "folder", "--data", data, "-o", "size", "8",
              "-o", "channels", "1", "-o", "hidden", "8", "--steps", "1", "--batch-size", "4"]
    code, out, err = _gankit([*common, "--out", tmp_path / "plain"], capsys)
    assert code == 0 and "skipped 1 unreadable image file(s) of 9" in caplog.text
    caplog.clear()
    code, out, err = _gankit([*common, "--out", tmp_path / "quiet", "--quiet"], capsys)
    assert code == 0 and err == "" and out.startswith("run saved to") and "skipped" not in caplog.text
    code, out, err = _gankit([*common, "--out", tmp_path / "json", "--log-format", "json"], capsys)
    assert code == 0 and err == "" and "skipped" not in caplog.text
    events = [json.loads(line) for line in out.splitlines()]
    warnings = [e for e in events if e["event"] == "warning"]
    assert len(warnings) == 1 and "skipped 1 unreadable image file(s) of 9" in warnings[0]["message"]


def test_only_rank_0_reports_the_saved_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RANK", "1")  # a torchrun worker (WORLD_SIZE unset: it trains alone here)
    code, out, err = _gankit(["train", "image", *TINY, "--out", tmp_path / "r"], capsys)
    assert code == 0 and out == "" and (tmp_path / "r" / "checkpoints" / "last.pt").is_file()


def test_report_replaces_its_own_file_and_another_only_with_overwrite(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path / "run")
    (run / "report.html").write_text("old")
    assert _gankit(["report", run], capsys)[0] == 0 and (run / "report.html").read_text().startswith("<!DOCTYPE")
    (tmp_path / "page.html").write_text("old")
    assert _gankit(["report", run, "--out", tmp_path / "page.html", "--overwrite"], capsys)[0] == 0
    assert (tmp_path / "page.html").read_text().startswith("<!DOCTYPE")


def test_a_cache_that_cannot_be_written_costs_only_the_caching(finished, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    with file_size_limit(16_000):  # the fitted classifier does not fit
        result = gankit.evaluate(finished, n=8, metrics=["fid"])
    assert result["metrics"]["fid"]["values"]["fid"] >= 0
    assert "cannot cache the image metrics' classifier" in caplog.text and "File too large" in caplog.text
