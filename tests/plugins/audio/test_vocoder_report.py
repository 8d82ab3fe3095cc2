"""The report page of a vocoder run (issue 17): each preview of a tiny vocoder writes the
generated clips, the original clips its mels came from and Griffin-Lim's reconstruction
from the same mels, with their spectrograms in one picture, and ``gankit report`` plays the
three side by side: original, Griffin-Lim, gankit."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image

import gankit
from gankit.cli import main
from gankit.plugins.audio import io
from gankit.plugins.audio.mel import build_mel
from gankit.plugins.audio.melspec import settings_of
from gankit.plugins.audio.options import MelOptions
from gankit.plugins.audio.paired_preview import write_paired_preview
from gankit.plugins.audio.vocoder_metrics import mel_l1
from gankit.specs import DataInfo

from vocoder_helpers import MEL, RATE

TINY = dict(size="cpu", upsample_rates=(4, 4), upsample_initial_channel=16, d_width=1 / 32, periods=(2, 3), scales=2)
CLIPS = 4  # num_preview: under io.PREVIEW_CLIPS, so the preview shows every one
STEPS = 2


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tones")
    t = np.arange(int(0.4 * RATE)) / RATE
    rng = np.random.default_rng(0)
    for i in range(6):  # rising tones with a quieter partial over faint noise (no band is empty, as in speech)
        f = 120 + 60 * i
        wave = 0.5 * np.sin(2 * np.pi * f * t) + 0.2 * np.sin(6 * np.pi * f * t) + 0.02 * rng.standard_normal(len(t))
        sf.write(folder / f"tone{i}.wav", wave.astype(np.float32), RATE)
    return folder


@pytest.fixture(scope="module")
def run(data, tmp_path_factory) -> gankit.Run:
    return gankit.train("audio", model="hifigan", dataset="mel", data=str(data), steps=STEPS, batch_size=4,
                        num_preview=CLIPS, sample_every=0, quiet=True, device="cpu",
                        out=str(tmp_path_factory.mktemp("runs") / "vocoder"), **MEL, **TINY)


def clips_of(path: Path) -> np.ndarray:
    """The clips of a preview WAV (CLIPS clips of one segment, joined by silences)."""
    audio, rate = sf.read(str(path), dtype="float32")
    assert rate == RATE
    stride = MEL["segment"] + int(io.PREVIEW_GAP_S * RATE)
    assert len(audio) == CLIPS * stride - int(io.PREVIEW_GAP_S * RATE)
    return np.stack([audio[i * stride:i * stride + MEL["segment"]] for i in range(CLIPS)])


def test_each_preview_writes_original_griffin_lim_and_gankit_and_their_spectrograms(run):
    stem = run.dir / "samples" / f"step-{STEPS:07d}"
    names = sorted(p.name for p in (run.dir / "samples").iterdir())
    assert names == [f"{stem.name}{suffix}" for suffix in (".griffin-lim.wav", ".original.wav", ".png", ".wav")]
    image = np.asarray(Image.open(stem.with_name(stem.name + ".png")))
    tile = 2 * io.N_MELS  # one row of spectrograms per version, one column per clip
    assert image.shape[0] == 3 * (tile + 4) + 4 and image.shape[1] > CLIPS * 256


def test_the_original_is_the_datasets_real_clips(run, data):
    dataset = build_mel(MelOptions(**MEL), data)
    real = np.stack([dataset[i][0][0].numpy() for i in range(CLIPS)])
    original = clips_of(run.dir / "samples" / f"step-{STEPS:07d}.original.wav")
    assert np.abs(original - real).max() <= 1 / 32768 + 1e-7  # 16-bit rounding
    assert np.abs(real).max() > 0.5


def test_the_griffin_lim_clip_follows_the_real_mels(run):
    samples = run.dir / "samples"
    real = torch.from_numpy(clips_of(samples / f"step-{STEPS:07d}.original.wav")).unsqueeze(1)
    griffin_lim = torch.from_numpy(clips_of(samples / f"step-{STEPS:07d}.griffin-lim.wav")).unsqueeze(1)
    settings = settings_of(run.info)
    noise = 0.3 * torch.randn(real.shape, generator=torch.Generator().manual_seed(0))
    distance = {name: float(mel_l1(real, clips, settings).mean())
                for name, clips in (("griffin-lim", griffin_lim), ("silence", torch.zeros_like(real)),
                                    ("noise", noise))}
    assert distance["griffin-lim"] < 0.5 * min(distance["silence"], distance["noise"]), distance


def test_without_mel_settings_only_the_original_and_the_generated_clips_are_written(tmp_path):
    real, fake = torch.rand(3, 1, 512) - 0.5, torch.zeros(3, 1, 512)
    path = write_paired_preview(fake, real, torch.zeros(3, 4), tmp_path / "step-0000005",
                                DataInfo(shape=(1, 512), sample_rate=4000))
    assert path == tmp_path / "step-0000005.wav"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-0000005.original.wav", "step-0000005.png",
                                                          "step-0000005.wav"]
    assert np.asarray(Image.open(tmp_path / "step-0000005.png")).shape[0] == 2 * (2 * io.N_MELS + 4) + 4


def test_the_report_plays_original_griffin_lim_and_gankit_in_a_row(run, capsys):
    try:
        main(["report", str(run.dir)])
    except SystemExit as exc:
        assert exc.code in (0, None), capsys.readouterr().err
    page = (run.dir / "report.html").read_text(encoding="utf-8")
    row = re.search(r'<div class="versions">(.*?)</div>', page, re.S)
    assert row, "no row of versions in the report"
    players = re.findall(r'<figure><audio controls preload="metadata" src="data:audio/wav;base64,[A-Za-z0-9+/=]{100,}">'
                         r'</audio><figcaption><b>([^<]+)</b><br>([^ ]+) ', row.group(1))
    step = f"step-{STEPS:07d}"
    assert players == [("original", f"{step}.original.wav"), ("griffin-lim", f"{step}.griffin-lim.wav"),
                       ("gankit", f"{step}.wav")]
    assert page.count("<audio") == 3
    assert page.index(row.group(0)) < page.index(f'alt="{step}.png"')  # the players, then the spectrograms
