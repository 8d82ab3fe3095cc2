"""The audio datasets: ``tones`` synthesis, ``folder`` decoding (formats, rates, channels,
labels, bad files) and ``fsdd`` name parsing. Files are generated in tmp_path."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import soundfile as sf
import torch

from gankit.errors import GankitError
from gankit.options import build_options
from gankit.plugins.audio.datasets import (
    build_folder,
    build_fsdd,
    build_tones,
    parse_fsdd_name,
    synthesise_tones,
    trim_silence,
)
from gankit.plugins.audio.options import FolderOptions, FSDDOptions, TonesOptions


def sine(freq: float, seconds: float, rate: int, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(clip: torch.Tensor | np.ndarray, rate: int) -> float:
    clip = np.asarray(clip, dtype=np.float64).reshape(-1)
    return float(np.fft.rfftfreq(len(clip), 1 / rate)[np.abs(np.fft.rfft(clip)).argmax()])


# tones -----------------------------------------------------------------------------------

def test_tones_are_labelled_clips_in_range():
    options = TonesOptions(count=48, sample_rate=8000, length=4096, classes=12, octaves=1, harmonics=1)
    data = build_tones(options)
    x, y = data.tensors
    assert x.shape == (48, 1, 4096) and x.dtype == torch.float32 and x.abs().max() <= 1
    assert y.dtype == torch.long and sorted(y.bincount().tolist()) == [4] * 12
    info = data.info
    assert (info.shape, info.sample_rate, info.num_classes) == ((1, 4096), 8000, 12)
    assert "48 synthesised notes" in data.description
    # Pure tones: each clip's spectral peak is its pitch class's frequency (2 Hz bins).
    for clip, label in zip(x[:12], y[:12]):
        assert abs(peak_hz(clip, 8000) - 220 * 2 ** (int(label) / 12)) < 3


def test_tones_follow_the_data_seed_and_have_envelopes():
    a, _ = synthesise_tones(TonesOptions(count=8, length=2048))
    b, _ = synthesise_tones(TonesOptions(count=8, length=2048))
    c, _ = synthesise_tones(TonesOptions(count=8, length=2048, data_seed=1))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    loud, _ = synthesise_tones(TonesOptions(count=8, length=2048, normalize=True))
    np.testing.assert_allclose(np.abs(loud).max(axis=1), 0.95, rtol=1e-5)
    np.testing.assert_allclose(loud / np.abs(loud).max(axis=1, keepdims=True),
                               a / np.abs(a).max(axis=1, keepdims=True), atol=1e-5)
    quarters = np.abs(a).reshape(8, 4, 512).max(axis=2)
    assert (quarters.max(axis=1) > 1.5 * quarters.min(axis=1)).all()  # onsets and decays, not steady tones


def test_tones_harmonics_stay_below_nyquist():
    # 220 Hz with 12 partials at 4 kHz: 2200, 2420 and 2640 Hz would fold back to 1800, 1580
    # and 1360 Hz, which are not multiples of 220 Hz.
    options = TonesOptions(count=8, sample_rate=4000, length=4096, classes=1, octaves=1, harmonics=12)
    x, _ = synthesise_tones(options)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(4096), axis=1)).max(axis=0)
    freqs = np.fft.rfftfreq(4096, 1 / 4000)
    for alias in (1800, 1580, 1360):
        assert spectrum[np.abs(freqs - alias) < 3].max() < 1e-3 * spectrum.max()
    assert spectrum[np.abs(freqs - 1980) < 5].max() > 1e-2 * spectrum.max()  # the 9th partial is there


@pytest.mark.parametrize(("values", "word"), [({"classes": 13}, "classes"), ({"count": 0}, "count"),
                                              ({"base_frequency": 3000.0, "sample_rate": 8000}, "Nyquist")])
def test_tones_options_are_validated(values, word):
    with pytest.raises(ValueError, match=word):
        TonesOptions(**values)


# folder ----------------------------------------------------------------------------------

@pytest.fixture
def sound_folder(tmp_path):
    """Two sub-folders at other sample rates and formats, a stereo file, a corrupt file."""
    root = tmp_path / "sounds"
    (root / "low").mkdir(parents=True)
    (root / "high").mkdir()
    sf.write(str(root / "low" / "a.wav"), sine(300, 0.5, 22050), 22050, subtype="PCM_16")
    sf.write(str(root / "low" / "b.flac"), sine(300, 0.2, 44100), 44100, format="FLAC")
    stereo = np.stack([sine(1000, 1.0, 16000), sine(1000, 1.0, 16000, amp=0.1)], axis=1)
    sf.write(str(root / "high" / "c.wav"), stereo, 16000, subtype="FLOAT")
    (root / "high" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    (root / "high" / "notes.txt").write_text("not audio")
    return root


def test_folder_resamples_mixes_down_and_labels_by_subfolder(sound_folder, caplog):
    options = FolderOptions(sample_rate=8000, length=2048)
    with caplog.at_level(logging.WARNING, logger="gankit"):
        data = build_folder(options, sound_folder)
    x, y = data.tensors
    assert x.shape == (3, 1, 2048) and x.abs().max() <= 1
    assert data.info.sample_rate == 8000 and data.info.num_classes == 2
    assert data.info.extra["class_names"] == ["high", "low"]
    assert y.tolist() == [0, 1, 1]  # high/c.wav, low/a.wav, low/b.flac
    assert abs(peak_hz(x[0], 8000) - 1000) < 8 and abs(peak_hz(x[1], 8000) - 300) < 8  # resampled, same pitch
    # c.wav: 0.5 and 0.1 amplitude channels average to 0.3.
    assert x[0].abs().max() == pytest.approx(0.3, abs=0.01)
    # b.flac: 0.2 s at 8 kHz is 1600 samples, zero-padded to 2048.
    assert x[2, 0, 1500:1590].abs().max() > 0.1 and x[2, 0, 1610:].abs().max() == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "skipped 1 of 4" in warnings[0] and "broken.wav" in warnings[0]
    assert "labels from sub-folder names" in data.description


@pytest.mark.parametrize(("fmt", "subtype", "step"), [
    ("WAV", "PCM_U8", 1 / 128), ("FLAC", "PCM_S8", 1 / 128), ("WAV", "PCM_16", 1 / 32768),
    ("WAV", "PCM_24", 2 ** -23), ("FLAC", "PCM_24", 2 ** -23), ("WAV", "PCM_32", 2 ** -31),
    ("WAV", "FLOAT", 0.0), ("WAV", "DOUBLE", 0.0),
])
def test_every_bit_depth_decodes_to_the_same_clip(tmp_path, fmt, subtype, step):
    clip = sine(440, 0.1, 8000, amp=0.7)  # 800 samples, zero-padded to 1024
    path = tmp_path / f"clip.{fmt.lower()}"
    sf.write(str(path), clip, 8000, format=fmt, subtype=subtype)
    assert sf.info(str(path)).subtype == subtype
    x = build_folder(FolderOptions(sample_rate=8000, length=1024), tmp_path).tensors[0][0, 0].numpy()
    assert np.abs(x[:800] - clip).max() <= step + 1e-7  # within one quantisation step of the file's format
    assert np.abs(x[800:]).max() == 0


def test_a_folder_of_mixed_depths_rates_channels_and_lengths(tmp_path, caplog):
    """8-, 16-, 24-bit and float files at four rates, mono and stereo, shorter and longer
    than the clip length, beside three unusable files: every good file becomes a clip at
    the dataset's rate with its pitch and level kept; the bad ones are skipped and counted."""
    files = [("a_u8.wav", "PCM_U8", 11025, 1, 0.2), ("b_16.wav", "PCM_16", 22050, 2, 0.3),
             ("c_24.flac", "PCM_24", 48000, 2, 1.0), ("d_float.wav", "FLOAT", 16000, 1, 0.6)]
    for name, subtype, rate, channels, seconds in files:
        tone = sine(500, seconds, rate, amp=0.4)
        data = np.stack([tone] * channels, axis=1) if channels == 2 else tone
        sf.write(str(tmp_path / name), data, rate, subtype=subtype)
    (tmp_path / "e_empty.wav").write_bytes(b"")
    (tmp_path / "f_junk.flac").write_bytes(b"fLaC" + bytes(60))
    (tmp_path / "g_text.ogg").write_text("not audio")
    with caplog.at_level(logging.WARNING, logger="gankit"):
        data = build_folder(FolderOptions(sample_rate=8000, length=4096), tmp_path)
    x = data.tensors[0][:, 0].numpy()
    assert x.shape == (4, 4096) and data.info.sample_rate == 8000
    for clip, (_, _, _, _, seconds) in zip(x, files):
        filled = min(4096, int(seconds * 8000))
        assert np.abs(clip[filled + 8:]).max(initial=0) == 0  # short files zero-padded after their end
        body = clip[64:filled - 64]
        assert abs(peak_hz(body, 8000) - 500) < 8000 / len(body) + 1  # the pitch survives resampling
        assert np.abs(body).max() == pytest.approx(0.4, abs=0.02)  # so does the level, stereo mixed down
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "skipped 3 of 7 files" in warning and "e_empty.wav" in warning


def test_folder_crops(tmp_path):
    ramp = np.linspace(-1, 1, 8000, dtype=np.float32)
    sf.write(str(tmp_path / "ramp.wav"), ramp, 8000, subtype="FLOAT")
    start = build_folder(FolderOptions(sample_rate=8000, length=1024, crop="start"), tmp_path).tensors[0][0, 0]
    center = build_folder(FolderOptions(sample_rate=8000, length=1024, crop="center"), tmp_path).tensors[0][0, 0]
    rnd = [build_folder(FolderOptions(sample_rate=8000, length=1024, crop="random", data_seed=s), tmp_path)
           .tensors[0][0, 0] for s in range(3)]
    assert torch.equal(start, torch.from_numpy(ramp[:1024]))
    assert torch.equal(center, torch.from_numpy(ramp[3488:4512]))
    assert len({float(r[0]) for r in rnd}) == 3  # a different crop per seed
    assert data_unlabelled(tmp_path)


def data_unlabelled(folder) -> bool:
    data = build_folder(FolderOptions(sample_rate=8000, length=256), folder)
    return data.info.num_classes == 0 and data.tensors[1].tolist() == [-1]


def test_folder_trims_silence_and_normalises(tmp_path):
    clip = np.concatenate([np.zeros(4000), sine(500, 0.25, 8000, amp=0.2), np.zeros(4000)]).astype(np.float32)
    sf.write(str(tmp_path / "quiet.wav"), clip, 8000, subtype="FLOAT")
    plain = build_folder(FolderOptions(sample_rate=8000, length=4096), tmp_path).tensors[0][0, 0]
    trimmed = build_folder(FolderOptions(sample_rate=8000, length=4096, trim_silence=True, normalize=True),
                           tmp_path).tensors[0][0, 0]
    assert plain[:4000].abs().max() == 0
    assert trimmed[:80].abs().max() > 0.5  # the tone starts within the first 10 ms frame
    assert trimmed.abs().max() == pytest.approx(0.95, abs=1e-3)
    assert len(trim_silence(np.zeros(800, dtype=np.float32), 8000)) == 0


def test_folder_labels_from_a_file_name_pattern(tmp_path, caplog):
    for name in ("3_x_0.wav", "10_y_1.wav", "3_y_2.ogg", "readme.wav"):
        fmt = "OGG" if name.endswith(".ogg") else "WAV"
        sf.write(str(tmp_path / name), sine(440, 0.1, 8000), 8000, format=fmt,
                 subtype="VORBIS" if fmt == "OGG" else "PCM_16")
    with caplog.at_level(logging.WARNING, logger="gankit"):
        data = build_folder(FolderOptions(sample_rate=8000, length=512, label_pattern=r"^(\d+)_"), tmp_path)
    assert data.info.extra["class_names"] == ["3", "10"]  # numeric names sort as numbers
    assert sorted(data.tensors[1].tolist()) == [0, 0, 1]
    assert any("do not match label_pattern" in r.getMessage() for r in caplog.records)
    with pytest.raises(GankitError, match="matches none"):
        build_folder(FolderOptions(label_pattern=r"^speaker-(\w+)"), tmp_path)


def test_zero_length_files_are_skipped(tmp_path, caplog):
    sf.write(str(tmp_path / "empty.wav"), np.zeros(0, dtype=np.float32), 8000)
    sf.write(str(tmp_path / "ok.wav"), sine(440, 0.1, 8000), 8000)
    with caplog.at_level(logging.WARNING, logger="gankit"):
        data = build_folder(FolderOptions(sample_rate=8000, length=512), tmp_path)
    assert len(data) == 1
    assert any("skipped 1 of 2" in r.getMessage() and "empty.wav" in r.getMessage() for r in caplog.records)


def test_folder_errors_are_clear(tmp_path):
    with pytest.raises(GankitError, match="--data"):
        build_folder(FolderOptions(), None)
    with pytest.raises(GankitError, match="does not exist"):
        build_folder(FolderOptions(), tmp_path / "missing")
    with pytest.raises(GankitError, match="no WAV/FLAC/OGG files"):
        build_folder(FolderOptions(), tmp_path)
    (tmp_path / "bad.wav").write_bytes(b"not a wav at all")
    with pytest.raises(GankitError, match="none of the 1 audio files could be used"):
        build_folder(FolderOptions(), tmp_path)


def test_folder_options_from_cli_strings():
    options = build_options(FolderOptions, {"crop": "center", "trim_silence": "true", "label_pattern": r"^(\d)"},
                            what="dataset 'folder'")
    assert options.crop == "center" and options.trim_silence and options.label_pattern == r"^(\d)"
    with pytest.raises(GankitError, match="crop"):
        build_options(FolderOptions, {"crop": "middle"}, what="dataset 'folder'")
    with pytest.raises(GankitError, match="label_pattern"):
        build_options(FolderOptions, {"label_pattern": "("}, what="dataset 'folder'")


# fsdd ------------------------------------------------------------------------------------

def test_fsdd_name_parsing():
    assert parse_fsdd_name("7_jackson_32.wav") == (7, "jackson", 32)
    assert parse_fsdd_name("0_george_0.WAV") == (0, "george", 0)
    for name in ("12_jackson_1.wav", "7_jackson.wav", "x_jackson_1.wav", "7_jackson_1.flac", "README.md"):
        assert parse_fsdd_name(name) is None


def test_fsdd_reads_the_recordings_folder(tmp_path):
    recordings = tmp_path / "free-spoken-digit-dataset" / "recordings"
    recordings.mkdir(parents=True)
    for digit, speaker, take, seconds in [(3, "ann", 0, 0.3), (9, "bob", 12, 1.5), (3, "bob", 1, 0.2)]:
        sf.write(str(recordings / f"{digit}_{speaker}_{take}.wav"), sine(200 + 50 * digit, seconds, 8000), 8000,
                 subtype="PCM_16")
    (recordings / "notes.txt").write_text("ignored")
    data = build_fsdd(FSDDOptions(), tmp_path / "free-spoken-digit-dataset")
    x, y = data.tensors
    assert x.shape == (3, 1, 8192) and data.info.sample_rate == 8000 and data.info.num_classes == 10
    assert y.tolist() == [3, 3, 9]  # sorted by name: 3_ann_0, 3_bob_1, 9_bob_12
    assert x[0, 0, 2400:].abs().max() == 0  # 0.3 s zero-padded
    expected = torch.from_numpy(sine(650, 1.5, 8000)[:8192])  # the first slice of the long one
    assert (x[2, 0] - expected).abs().max() < 1 / 32768 * 2
    assert "3 recordings of 2 speakers" in data.description
    resampled = build_fsdd(FSDDOptions(sample_rate=16000, length=4096), recordings)
    assert resampled.info.sample_rate == 16000 and resampled.tensors[0].shape == (3, 1, 4096)
    with pytest.raises(GankitError, match="7_jackson_32.wav"):
        build_fsdd(FSDDOptions(), tmp_path)
