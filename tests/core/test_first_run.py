"""A first run that impresses (issue 19): a model sized for a GPU takes its CPU preset on a
CPU and says so, the console shows the pace from the first step, and the README shows the
measured quickstart grid and the CPU-only install."""

from __future__ import annotations

import io
import json
import re
import sys
import time
from pathlib import Path

import torch

import gankit
import gankit.progress as progress
from gankit.config import resolve_config
from gankit.progress import Progress
from gankit.registry import get_registry

ROOT = Path(__file__).resolve().parents[2]
TINY_AUDIO = dict(length=4096, sample_rate=8000, width=4, count=32, batch_size=8)


def test_wavegan_takes_its_cpu_preset_on_the_cpu_and_says_so():
    registry = get_registry()
    assert registry.model("audio", "wavegan").cpu_preset == "cpu"
    chosen = resolve_config(registry, {"domain": "audio", "device": "cpu"})
    assert chosen.train.preset == "cpu" and chosen.train.objective == "non-saturating" and chosen.train.n_critic == 1
    assert chosen.train.max_minutes == 12 and chosen.dataset_options.length == 8192
    assert len(chosen.notes) == 1 and "uses its preset 'cpu'" in chosen.notes[0] and "--preset none" in chosen.notes[0]
    assert chosen.to_dict()["preset"] == "cpu"  # config.json records it
    explicit = resolve_config(registry, {"domain": "audio", "device": "cpu", "steps": 7, "lr_g": 3e-4})
    assert (explicit.train.steps, explicit.train.lr_g) == (7, 3e-4)  # the user's options still win
    for preset, objective in (("none", "wgan-gp"), ("paper", "wgan-gp"), ("cpu", "non-saturating")):
        named = resolve_config(registry, {"domain": "audio", "device": "cpu", "preset": preset})
        assert named.train.objective == objective and not named.notes
    accelerator = resolve_config(registry, {"domain": "audio", "device": "cuda:0"})
    assert accelerator.train.preset is None and accelerator.train.objective == "wgan-gp" and not accelerator.notes


def test_auto_takes_the_cpu_preset_only_without_an_accelerator(monkeypatch):
    registry = get_registry()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_config(registry, {"domain": "audio"}).train.preset == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_config(registry, {"domain": "audio"}).train.preset is None


def test_a_config_file_that_names_no_preset_keeps_the_defaults(tmp_path):
    stored = resolve_config(get_registry(), {"domain": "audio", "device": "cpu", "preset": "none"}).to_dict()
    assert stored["preset"] is None and stored["objective"] == "wgan-gp"
    (tmp_path / "config.json").write_text(json.dumps(stored))
    again = resolve_config(get_registry(), {"domain": "audio", "device": "cpu"}, tmp_path / "config.json")
    assert again.train.preset is None and again.train.objective == "wgan-gp" and not again.notes


def test_models_without_a_cpu_preset_are_unchanged():
    registry = get_registry()
    for domain, model in (("image", "mlp"), ("image", "dcgan"), ("text", "lstm"), ("text", "transformer")):
        config = resolve_config(registry, {"domain": domain, "model": model, "device": "cpu"})
        assert config.train.preset is None and not config.notes, (domain, model)


def test_a_cpu_run_prints_the_note_once_and_resumes_with_its_preset(tmp_path, capsys):
    out = str(tmp_path / "run")
    run = gankit.train("audio", steps=1, out=out, device="cpu", log_format="json", **TINY_AUDIO)
    messages = [json.loads(line)["message"] for line in capsys.readouterr().out.splitlines()
                if json.loads(line)["event"] == "message"]
    assert sum("uses its preset 'cpu'" in m for m in messages) == 1
    assert run.config.train.preset == "cpu" and run.config.train.objective == "non-saturating"
    assert json.loads((tmp_path / "run" / "config.json").read_text())["preset"] == "cpu"
    resumed = gankit.train("audio", steps=2, out=out, resume=True, device="cpu", log_format="json")
    assert "uses its preset" not in capsys.readouterr().out  # said when the run started
    assert resumed.step == 2 and resumed.config.train.objective == "non-saturating"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_without_a_terminal_the_pace_shows_after_the_first_slow_step(capsys):
    clock = Clock()
    bar = Progress(1000, 0, quiet=False, description="audio/wavegan", clock=clock)
    bar.message("data: tones")
    clock.now += 133
    bar.advance()
    assert capsys.readouterr().err.splitlines()[-1] == "step 1/1000: 133 s a step, about 36.9 h left"
    clock.now += 20
    bar.advance()
    assert capsys.readouterr().err == ""  # at most one such line every HEARTBEAT_S
    bar.report({"step": 2, "d_loss": 1.0})
    clock.now += progress.HEARTBEAT_S - 1
    bar.advance()
    assert "d_loss=1" in capsys.readouterr().err  # a log line counts as one
    clock.now += 2
    bar.advance()
    assert capsys.readouterr().err.strip() == "step 4/1000: 46 s a step, about 12.7 h left"


def test_a_fast_run_prints_no_extra_lines(capsys):
    clock = Clock()
    bar = Progress(3000, 0, quiet=False, description="image/mlp", clock=clock)
    for _ in range(100):
        clock.now += 0.01
        bar.advance()
    assert capsys.readouterr().err == "image/mlp: steps 0..3000\n"


def test_the_pace_is_timed_from_the_last_line_before_the_first_step(capsys):
    clock = Clock()
    bar = Progress(100, 0, quiet=False, description="text/lstm", clock=clock)
    clock.now += 600  # MLE pre-training
    bar.message("pre-training 1000/1000 mle_loss=1.2")
    clock.now += 40
    bar.advance()
    assert capsys.readouterr().err.splitlines()[-1] == "step 1/100: 40 s a step, about 66 min left"


def test_the_bar_shows_the_rate_after_the_first_step(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    bar = Progress(1000, 0, quiet=False, description="audio/wavegan")
    time.sleep(0.15)  # tqdm redraws at most every 0.1 s
    bar.advance()
    shown = terminal.getvalue().split("\r")[-1]
    bar.close()
    assert "1/1000" in shown and re.search(r"(s/step|step/s)", shown) and "?" not in shown, shown


def test_a_run_with_a_large_log_interval_shows_progress_from_step_1(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(progress, "HEARTBEAT_S", 0.0)
    gankit.train("image", model="mlp", count=64, batch_size=32, steps=3, log_every=1000, out=str(tmp_path / "r"))
    lines = capsys.readouterr().err.splitlines()
    assert any(line.startswith("step 1/3: ") and "left" in line for line in lines), lines


def test_the_readme_shows_the_measured_grid_and_the_cpu_only_install():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    grid = ROOT / "docs" / "img" / "quickstart-grid.png"
    assert grid.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and grid.stat().st_size < 200_000
    assert "docs/img/quickstart-grid.png" in readme
    for page in ("index.md", "quickstart.md"):
        assert "img/quickstart-grid.png" in (ROOT / "docs" / page).read_text(encoding="utf-8"), page
    assert "--index-url https://download.pytorch.org/whl/cpu" in readme
    main_job = re.search(r"^(.*gankit train image .*)$", readme, re.M)
    assert main_job and "--steps 3000" in main_job.group(1) and "--steps 300 " not in main_job.group(1)
