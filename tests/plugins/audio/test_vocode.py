"""``gankit vocode`` and ``gankit.vocode``: a tiny vocoder trained on a folder of 2-kHz
tones written here, then used through the CLI and the API on files, folders and ``.npy``
mels of any length; bad input gets one line, never a traceback. Also ``gankit sample
--conditions file.wav`` and ``gankit evaluate`` of a vocoder run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import gankit
from gankit.cli import main
from gankit.errors import GankitError
from gankit.plugins.audio.melspec import LogMel, MelSettings

RATE = 2000
MEL = dict(sample_rate=RATE, n_fft=64, win=64, hop=16, n_mels=16, fmax=1000.0, segment=256)
TINY = dict(size="cpu", upsample_rates=(4, 4), upsample_initial_channel=16, d_width=1 / 32, periods=(2, 3), scales=2)


def tone(frequency: float, seconds: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tones")
    for i in range(8):
        sf.write(folder / f"tone{i}.wav", tone(100 + 40 * i, 0.4), RATE)
    out = tmp_path_factory.mktemp("runs") / "vocoder"
    gankit.train("audio", model="hifigan", dataset="mel", data=str(folder), out=str(out), steps=3, batch_size=4,
                 quiet=True, sample_every=0, **MEL, **TINY)
    return out


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """``gankit ARGS``: exit status, stdout, stderr."""
    try:
        main([str(a) for a in args])
        status = 0
    except SystemExit as exc:
        status = int(exc.code or 0)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_the_api_writes_one_wav_per_input_at_the_run_rate_and_length(run_dir, tmp_path):
    sf.write(tmp_path / "a.wav", tone(220, 0.3), RATE)
    sf.write(tmp_path / "b.flac", tone(330, 0.25), RATE)
    result = gankit.vocode(run_dir, [tmp_path / "a.wav", tmp_path / "b.flac"], out=tmp_path / "out")
    assert gankit.vocode is gankit.plugins.audio.vocode
    assert [p.name for p in result.outputs] == ["a.wav", "b.wav"]
    for name, length in (("a.wav", 600), ("b.wav", 500)):
        audio, rate = sf.read(tmp_path / "out" / name, dtype="float32")
        assert rate == RATE and len(audio) == length and np.isfinite(audio).all()
    assert result.audio_seconds == pytest.approx(0.55) and result.compute_seconds > 0 and result.rtf > 0
    assert "real-time factor" in result.summary()


def test_the_cli_takes_folders_keeps_their_layout_and_prints_the_real_time_factor(run_dir, tmp_path, capsys):
    (tmp_path / "in" / "sub").mkdir(parents=True)
    sf.write(tmp_path / "in" / "x.wav", tone(200, 0.2), RATE)
    sf.write(tmp_path / "in" / "sub" / "y.ogg", tone(300, 0.2), RATE)
    (tmp_path / "in" / "notes.txt").write_text("not audio, not looked at")
    status, out, err = cli(capsys, "vocode", run_dir, tmp_path / "in", "--out", tmp_path / "out", "--quiet")
    assert status == 0, err
    assert "vocoded 2 files" in out and "real-time factor" in out and str(tmp_path / "out") in out
    assert (tmp_path / "out" / "x.wav").is_file() and (tmp_path / "out" / "sub" / "y.wav").is_file()


def test_npy_mels_and_other_sample_rates(run_dir, tmp_path, capsys):
    np.save(tmp_path / "m.npy", np.full((16, 10), -4.0, dtype=np.float32))
    sf.write(tmp_path / "fast.wav", tone(200, 0.25, rate=8000), 8000)
    status, _, err = cli(capsys, "vocode", run_dir, tmp_path / "m.npy", tmp_path / "fast.wav", "--out", tmp_path / "o")
    assert status == 0, err
    assert "resampled from 8000 to 2000 Hz" in err
    assert len(sf.read(tmp_path / "o" / "m.wav")[0]) == 10 * 16
    assert len(sf.read(tmp_path / "o" / "fast.wav")[0]) == 500


def test_chunked_synthesis_matches_one_pass_at_any_length(run_dir, tmp_path):
    sf.write(tmp_path / "long.wav", tone(150, 6.0) * np.linspace(0.2, 1, 12000, dtype=np.float32), RATE)
    whole = gankit.vocode(run_dir, tmp_path / "long.wav", out=tmp_path / "whole", chunk_frames=100_000)
    pieces = gankit.vocode(run_dir, tmp_path / "long.wav", out=tmp_path / "pieces", chunk_frames=37)
    a, b = (sf.read(result.outputs[0], dtype="float32")[0] for result in (whole, pieces))
    assert len(a) == len(b) == 12000
    assert np.abs(a - b).max() < 2e-3  # the chunks' context covers the generator's reach; 16-bit rounding aside


def test_the_output_follows_the_mel_of_the_input_at_the_level_the_run_trained_at(run_dir, tmp_path):
    """Vocoding is analysis then synthesis: the run's generator on the mel of the input
    brought to the training data's peak (0.95), scaled back to the input's level."""
    wave = tone(250, 0.32)  # peak 0.5
    sf.write(tmp_path / "in.wav", wave, RATE)
    sf.write(tmp_path / "quiet.wav", wave / 20, RATE)
    result = gankit.vocode(run_dir, [tmp_path / "in.wav", tmp_path / "quiet.wav"], out=tmp_path / "o")
    run = gankit.load(run_dir)
    assert run.info.extra["peak"] == 0.95
    with torch.no_grad():
        mel = LogMel(MelSettings(**run.info.extra["mel"]))(torch.from_numpy(wave * 1.9)[None])
        direct = run.generator(None, mel)[0, 0].numpy() / 1.9
    loud, quiet = (sf.read(path, dtype="float32")[0] for path in result.outputs)
    assert np.abs(loud - direct).max() < 2e-3
    assert np.abs(quiet - loud / 20).max() < 2e-4  # the same sound, at the input's level


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.write_bytes(b"RIFF, but not really"), "not an audio file soundfile can read"),
    (lambda p: sf.write(p, np.array([0.1, np.nan, 0.2] * 100, dtype=np.float32), RATE, subtype="FLOAT"),
     "NaN or infinite"),
    (lambda p: sf.write(p, np.zeros(800, dtype=np.float32), RATE), "silent"),
    (lambda p: sf.write(p, np.array([0.5], dtype=np.float32), RATE), "1 samples at 2000 Hz is too short"),
    (lambda p: np.save(p.with_suffix(".npy"), np.zeros((80, 20), dtype=np.float32)),
     "has 80 bands; this run's mels have 16"),
])
def test_bad_input_gets_one_line_and_no_traceback(run_dir, tmp_path, capsys, make, message):
    target = tmp_path / "bad.wav"
    make(target)
    source = target if target.exists() else target.with_suffix(".npy")
    status, _, err = cli(capsys, "vocode", run_dir, source, "--out", tmp_path / "o", "--quiet")
    assert status == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_missing_inputs_clashing_names_and_overwriting_are_refused(run_dir, tmp_path):
    with pytest.raises(GankitError, match="no such file or folder"):
        gankit.vocode(run_dir, tmp_path / "nothing.wav", out=tmp_path / "o")
    sf.write(tmp_path / "a.wav", tone(200, 0.2), RATE)
    sf.write(tmp_path / "a.flac", tone(200, 0.2), RATE)
    with pytest.raises(GankitError, match="would both be written"):
        gankit.vocode(run_dir, [tmp_path / "a.wav", tmp_path / "a.flac"], out=tmp_path / "o")
    with pytest.raises(GankitError, match="overwrite the input"):
        gankit.vocode(run_dir, tmp_path / "a.wav", out=tmp_path)


def test_a_run_that_is_not_a_vocoder_is_refused(tmp_path, capsys):
    gankit.train("audio", model="wavegan", dataset="tones", count=16, length=4096, width=2, latent_dim=8, steps=1,
                 batch_size=8, out=str(tmp_path / "wavegan"), quiet=True, sample_every=0)
    sf.write(tmp_path / "a.wav", tone(200, 0.2), RATE)
    status, _, err = cli(capsys, "vocode", tmp_path / "wavegan", tmp_path / "a.wav", "--out", tmp_path / "o")
    assert status == 2 and "has no mel settings" in err and "Traceback" not in err


def test_sample_reads_audio_as_conditions(run_dir, tmp_path, capsys):
    sf.write(tmp_path / "c.wav", tone(300, 0.2), RATE)  # 400 samples: 25 frames
    status, out, err = cli(capsys, "sample", run_dir, "--conditions", tmp_path / "c.wav", "--out", tmp_path / "s")
    assert status == 0, err
    assert "wrote 1 samples" in out and len(sf.read(tmp_path / "s" / "sample-00000.wav")[0]) == 25 * 16


def test_evaluate_on_a_validation_folder_prints_the_vocoder_metrics_beside_griffin_lim(run_dir, tmp_path, capsys):
    folder = tmp_path / "validation"
    folder.mkdir()
    for i in range(4):
        sf.write(folder / f"v{i}.wav", tone(120 + 70 * i, 0.5), RATE)
    status, out, err = cli(capsys, "evaluate", run_dir, "--data", folder, "-n", "4", "--metric", "vocoder",
                           "--metric", "stoi", "--metric", "pesq")
    assert status == 0, err
    metrics = json.loads(out)["metrics"]
    values = metrics["vocoder"]["values"]
    assert {"mel_l1", "mel_l1_griffin_lim", "mrstft", "mrstft_griffin_lim"} <= set(values)
    assert all(np.isfinite(v) and v >= 0 for v in values.values())
    assert "Griffin-Lim" in metrics["vocoder"]["protocol"]["griffin_lim"]
    for name in ("stoi", "pesq"):  # optional packages, and clips this short: values or a reason
        assert metrics[name]["values"] or metrics[name]["protocol"]["skipped"]
