"""gankit report: a self-contained HTML file, checked in a real headless browser."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

import gankit
from gankit.cli import main
from gankit.engine.previews import preview_inputs
from gankit.errors import GankitError
from gankit.report import chart_groups, latest_preview, line_chart, nice_ticks, render_report, write_report

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")

# Appended to a copy of the report in the browser test: once every <audio> has loaded its
# metadata, it records what the browser decoded (image widths, audio durations).
PROBE = """<script>
window.addEventListener('load', () => {
  const audios = [...document.querySelectorAll('audio')];
  Promise.all(audios.map(a => a.readyState >= 1 ? null : new Promise(done => {
    a.addEventListener('loadedmetadata', done); a.addEventListener('error', done); })))
  .then(() => {
    const out = document.createElement('div');
    out.id = 'probe';
    out.dataset.images = [...document.images].map(i => i.complete ? i.naturalWidth : 0).join(',');
    out.dataset.audio = audios.map(a => String(a.duration)).join(',');
    document.body.appendChild(out);
  });
});
</script>"""


def _browser() -> str:
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    pytest.skip("no chromium or chrome binary on PATH, so the report cannot be opened in a browser "
                "(.ci/run installs Debian's chromium with apt-get; apt-get install chromium to run this test)")


def _open_in_browser(browser: str, report: Path, tmp_path: Path) -> tuple[str, dict[str, str]]:
    """The DOM headless chromium built from ``report``, and what the probe recorded."""
    probe = report.with_name("probe.html")
    probe.write_text(report.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               f"--user-data-dir={tmp_path / 'browser-profile'}", "--virtual-time-budget=15000",
               "--dump-dom", probe.resolve().as_uri()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "<html" in result.stdout, result.stderr[-2000:]
    found = re.search(r'<div id="probe" data-images="([^"]*)" data-audio="([^"]*)"', result.stdout)
    assert found, "the probe did not run: " + result.stdout[-2000:]
    return result.stdout, {"images": found.group(1), "audio": found.group(2)}


def _report_via_cli(run_dir: Path, capsys) -> Path:
    try:
        main(["report", str(run_dir)])
    except SystemExit as exc:
        assert exc.code in (0, None), capsys.readouterr().err
    assert capsys.readouterr().out == f"wrote {run_dir / 'report.html'}\n"
    return run_dir / "report.html"


def test_report_of_an_image_run_in_a_browser(tmp_path, capsys):
    browser = _browser()
    run = gankit.train("image", model="mlp", dataset="shapes", hidden=32, count=256, steps=20, batch_size=32,
                       log_every=5, sample_every=10, out=str(tmp_path / "run"), quiet=True, device="cpu")
    dom, probe = _open_in_browser(browser, _report_via_cli(run.dir, capsys), tmp_path)
    assert re.findall(r'<svg class="chart"[^>]*data-title="([^"]+)"', dom) == ["losses", "steps_per_s"]
    assert len(re.findall(r'<polyline class="series" data-series="(d_loss|g_loss)"', dom)) == 2
    assert re.search(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]{100,}" alt="step-0000020.png"', dom)
    from PIL import Image

    with Image.open(run.dir / "samples" / "step-0000020.png") as grid:
        assert probe["images"] == str(grid.width) and grid.width > 8 * 28  # the browser decoded the whole grid
    assert "<th>model</th><td>mlp</td>" in dom and "<th>batch_size</th><td>32</td>" in dom
    assert "<th>hidden</th><td>32</td>" in dom and "<th>count</th><td>256</td>" in dom
    assert "Latest preview (step 20)" in dom and "20 of 20" in dom


def test_report_of_an_audio_run_in_a_browser(tmp_path, capsys):
    browser = _browser()
    run = gankit.train("audio", model="wavegan", dataset="tones", length=4096, sample_rate=8000, width=4, count=32,
                       batch_size=8, steps=4, log_every=2, num_preview=4, out=str(tmp_path / "run"), quiet=True,
                       device="cpu")
    dom, probe = _open_in_browser(browser, _report_via_cli(run.dir, capsys), tmp_path)
    assert re.search(r'<audio controls="" preload="metadata" src="data:audio/wav;base64,[A-Za-z0-9+/=]{100,}"', dom)
    assert re.search(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]{100,}" alt="step-0000004.png"', dom)
    assert dom.index("<audio") < dom.index('alt="step-0000004.png"')  # the player, then its spectrograms
    durations = [float(d) for d in probe["audio"].split(",")]
    assert len(durations) == 1 and 4 * 4096 / 8000 <= durations[0] < 4  # four 0.5 s clips and the gaps between
    assert int(probe["images"]) > 0
    assert "<th>model</th><td>wavegan</td>" in dom and "<th>sample_rate</th><td>8000</td>" in dom
    assert '<svg class="chart"' in dom and 'data-series="d_loss"' in dom


# Without a browser ---------------------------------------------------------------------

def test_evaluations_are_charted_over_time(gauss_plugin, tmp_path):
    run = gankit.train("gauss", steps=6, log_every=2, eval_every=2, eval_samples=64, count=256, batch_size=32,
                       out=str(tmp_path / "run"), quiet=True, device="cpu")
    page = write_report(run.dir, tmp_path / "elsewhere" / "r.html").read_text()
    assert 'data-title="eval/moments"' in page and 'data-series="eval/moments/mean_error"' in page
    assert '<pre class="samples">' in page  # the plugin's text preview

def _fake_run(tmp_path: Path, config: dict, records: list, previews: dict[str, bytes]) -> Path:
    run = tmp_path / "run"
    (run / "samples").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(config))
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + '{"step": 9, "d_lo')
    for name, data in previews.items():
        (run / "samples" / name).write_bytes(data)
    return run


def test_text_from_the_run_is_escaped_and_a_text_preview_is_shown(tmp_path):
    config = {"domain": "text", "model": "<b>lstm</b>", "steps": 10, "model_options": {"note": "a & b"},
              "provenance": {"command_line": "gankit train text --out '<script>alert(1)</script>'"}}
    records = [{"step": 5, "d_loss": 1.0, "g_loss": 2.0}, {"step": 10, "d_loss": 0.5, "g_loss": 1.5}]
    run = _fake_run(tmp_path, config, records, {"step-0000005.txt": b"old\n",
                                                "step-0000010.txt": b"the cat <sat>\non the mat\n"})
    page = render_report(run)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;lstm&lt;/b&gt;" in page and "a &amp; b" in page
    assert '<pre class="samples">the cat &lt;sat&gt;\non the mat</pre>' in page and "old" not in page
    assert "10 of 10" in page  # the line cut short by a crash is skipped


def test_any_domain_s_preview_files_are_shown_by_type(tmp_path):
    run = _fake_run(tmp_path, {"domain": "toy"}, [], {"step-0000003.png": b"\x89PNG fake", "step-0000003.ogg": b"OggS",
                                                       "step-0000003.bin": b"\0" * 10, "step-0000001.png": b"x"})
    assert latest_preview(run / "samples")[0] == 3
    page = render_report(run)
    assert '<audio controls preload="metadata" src="data:audio/ogg;base64,T2dnUw=="' in page
    assert 'src="data:image/png;base64,iVBORyBmYWtl"' in page
    assert '<a href="samples/step-0000003.bin">open the file</a>' in page
    assert "No metrics logged yet" in page


def test_a_paired_preview_plays_its_versions_side_by_side_in_order(tmp_path):
    names = ["step-0000004.wav", "step-0000004.griffin-lim.wav", "step-0000004.original.wav", "step-0000004.alt.wav",
             "step-0000004.png"]
    run = _fake_run(tmp_path, {"domain": "audio"}, [], {name: b"RIFF" for name in names})
    page = render_report(run)
    row = re.search(r'<div class="versions">(.*?)</div>', page).group(1)
    assert re.findall(r"<figcaption><b>([^<]+)</b><br>([^ ]+) ", row) == [
        ("original", "step-0000004.original.wav"), ("alt", "step-0000004.alt.wav"),
        ("griffin-lim", "step-0000004.griffin-lim.wav"), ("gankit", "step-0000004.wav")]
    assert page.index(row) < page.index('alt="step-0000004.png"')  # the players, then the picture, captioned as ever
    assert "<figcaption>step-0000004.png (" in page
    unpaired = _fake_run(tmp_path / "b", {"domain": "audio"}, [], {"step-0000004.wav": b"RIFF",
                                                                    "step-0000004.png": b"x"})
    assert '<div class="versions">' not in render_report(unpaired)


# Paired previews: what the engine hands the domain -----------------------------------------

def test_a_domain_without_a_paired_preview_gets_write_preview_as_before(paired_plugin, tmp_path):
    run = gankit.train("paired", steps=2, num_preview=5, sample_every=0, quiet=True, device="cpu",
                       out=str(tmp_path / "run"))
    assert [p.name for p in (run.dir / "samples").iterdir()] == ["step-0000002.txt"]
    dataset = paired_plugin.Pairs(paired_plugin.PairedDataOptions())
    z, cond, _ = preview_inputs(run.generator, 5, run.config.train.seed, torch.device("cpu"), dataset)
    with torch.no_grad():
        expected = run.generator.generate(z, cond)
    written = torch.tensor([[float(v) for v in line.split()]
                            for line in (run.dir / "samples" / "step-0000002.txt").read_text().splitlines()])
    assert torch.allclose(written, expected, atol=1e-4)  # the generated batch, as the gauss preview writes it


@pytest.fixture
def paired_preview_plugin(tmp_path):
    """The paired test plugin with a ``write_paired_preview`` that records what it is given."""
    import paired_plugin

    from gankit.hookspecs import hookimpl
    from gankit.registry import plugin_manager

    calls = []

    def write_paired_preview(fake, real, conditions, path, info):
        calls.append((fake, real, conditions, path))
        return paired_plugin.write_preview(fake, path, info)

    class Plugin:
        @hookimpl
        def register_domains(self, register):
            paired_plugin.register_domains(register=lambda spec: register(
                dataclasses.replace(spec, write_paired_preview=write_paired_preview)))

        @hookimpl
        def register_models(self, register):
            paired_plugin.register_models(register=register)

        @hookimpl
        def register_datasets(self, register):
            paired_plugin.register_datasets(register=register)

    pm = plugin_manager()
    pm.register(Plugin(), name="paired-preview-test-plugin")
    try:
        yield calls
    finally:
        pm.unregister(name="paired-preview-test-plugin")


def test_a_paired_preview_gets_the_real_items_its_conditions_came_from(paired_preview_plugin, tmp_path):
    import paired_plugin

    run = gankit.train("paired", steps=4, num_preview=6, sample_every=2, quiet=True, device="cpu",
                       dict_condition=True, out=str(tmp_path / "run"))
    dataset = paired_plugin.Pairs(paired_plugin.PairedDataOptions(dict_condition=True))
    assert [call[3].name for call in paired_preview_plugin] == ["step-0000002", "step-0000004"]
    fake, real, conditions, _ = paired_preview_plugin[-1]
    assert torch.equal(real, dataset.tensors[0][:6]) and torch.equal(conditions["c"], dataset.tensors[1]["c"][:6])
    assert fake.shape == real.shape and fake.device.type == real.device.type == "cpu"
    assert sorted(p.name for p in (run.dir / "samples").iterdir()) == ["step-0000002.txt", "step-0000004.txt"]


def test_chart_groups_and_ticks():
    records = [{"step": 1, "d_loss": 1.0, "g_loss": 2.0, "penalty": 0.1, "steps_per_s": 5.0, "time": 1.0},
               {"step": 2, "eval/fid/fid": 30.0, "eval/fid/kid": 0.1, "eval/is/is": 2.0, "flag": True}]
    assert chart_groups(records) == {"losses": ["d_loss", "g_loss", "penalty"], "steps_per_s": ["steps_per_s"],
                                     "eval/fid": ["eval/fid/fid", "eval/fid/kid"], "eval/is": ["eval/is/is"]}
    assert nice_ticks(0.0, 1.0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(3, 7, integer=True) == [3, 4, 5, 6, 7]
    svg = line_chart("x", {"a": [(0, 1.0), (1, float("nan")), (2, 3.0)], "b": [(1, 2.0)]})
    assert svg.count("<polyline") == 1 and svg.count("<circle") == 1 and "a (last 3)" in svg


def test_report_errors_are_clear(tmp_path):
    with pytest.raises(GankitError, match="is not a run directory"):
        write_report(tmp_path / "missing")
    with pytest.raises(GankitError, match="has no config.json"):
        write_report(tmp_path)


def test_tick_labels_tell_close_ticks_apart():
    from gankit.report import line_chart, nice_ticks, tick_labels

    ticks = nice_ticks(4.9995e-4, 5e-4)
    labels = tick_labels(ticks)
    assert len(set(labels)) == len(labels) == len(ticks) and all(float(t) == pytest.approx(v) for t, v in
                                                                   zip(labels, ticks))
    assert tick_labels([0.0, 0.5, 1.0]) == ["0", "0.5", "1"]
    chart = line_chart("lr_g", {"lr_g": [(0, 5e-4), (100, 4.9995e-4)]})
    shown = re.findall(r'text-anchor="end">([^<]+)</text>', chart)[:-1]  # the y ticks ("step" is last)
    assert len(shown) > 2 and len(set(shown)) == len(shown)
