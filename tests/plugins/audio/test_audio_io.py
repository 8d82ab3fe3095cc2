"""Writing audio: WAV round trip, previews (WAV + spectrogram PNG), numpy export."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image

from gankit.plugins.audio import io
from gankit.specs import DataInfo

INFO = DataInfo(shape=(1, 4096), sample_rate=8000)


def tones(n: int = 3, length: int = 4096, rate: int = 8000) -> torch.Tensor:
    t = torch.arange(length) / rate
    return torch.stack([0.5 * torch.sin(2 * math.pi * (200 + 300 * i) * t) for i in range(n)]).unsqueeze(1)


def test_wav_round_trip_within_one_pcm_step(tmp_path):
    batch = torch.rand(3, 1, 4096) * 2 - 1
    batch[0, 0, :2] = torch.tensor([1.5, -2.0])  # out of range: clamped
    paths = io.write_samples(batch, tmp_path / "out", INFO, start=7)
    assert [p.name for p in paths] == ["sample-00007.wav", "sample-00008.wav", "sample-00009.wav"]
    for path, clip in zip(paths, batch.clamp(-1, 1)):
        info = sf.info(str(path))
        assert (info.samplerate, info.channels, info.subtype, info.frames) == (8000, 1, "PCM_16", 4096)
        data, _ = sf.read(str(path), dtype="float32")
        assert np.abs(data - clip[0].numpy()).max() <= 1 / 32768 + 1e-7


def test_sample_rate_defaults_when_the_info_has_none(tmp_path):
    (path,) = io.write_samples(torch.zeros(1, 1, 256), tmp_path, DataInfo(shape=(1, 256)))
    assert sf.info(str(path)).samplerate == io.DEFAULT_SAMPLE_RATE


def test_preview_writes_a_wav_of_joined_clips_and_a_spectrogram_png(tmp_path):
    batch = tones(10)
    path = io.write_preview(batch, tmp_path / "samples" / "step-0000100", INFO)
    assert path == tmp_path / "samples" / "step-0000100.wav" and path.is_file()
    data, rate = sf.read(str(path), dtype="float32")
    gap = int(io.PREVIEW_GAP_S * 8000)
    clips = io.PREVIEW_CLIPS
    assert rate == 8000 and len(data) == clips * 4096 + (clips - 1) * gap
    assert np.abs(data[4096:4096 + gap]).max() == 0  # a silence between the clips
    png = path.with_suffix(".png")
    assert png.is_file()
    image = np.asarray(Image.open(png))
    assert image.ndim == 3 and image.shape[2] == 3 and image.shape[0] > 2 * io.N_MELS
    assert image.std() > 10  # not a blank picture


def test_spectrogram_shows_the_tone_at_its_frequency():
    t = np.arange(4096) / 8000
    db = io.log_mel(np.stack([0.5 * np.sin(2 * np.pi * 1000 * t), 0.5 * np.sin(2 * np.pi * 3000 * t)]), 8000)
    peaks = db.mean(axis=2).argmax(axis=1)
    assert peaks[0] < peaks[1]
    assert db.max() > -12 and db.min() >= -80  # a loud sine is near 0 dB
    quiet = io.log_mel(np.zeros((1, 4096)), 8000)
    assert (quiet == -80).all()


def test_to_numpy_is_n_by_t_in_range():
    batch = torch.linspace(-2, 2, 2 * 512).view(2, 1, 512)
    array = io.to_numpy(batch, INFO)
    assert array.shape == (2, 512) and array.dtype == np.float32
    assert array.min() == -1 and array.max() == 1
    with pytest.raises(ValueError, match="N×1×T"):
        io.to_numpy(torch.zeros(2, 2, 8))


def test_read_mono_mixes_channels_down(tmp_path):
    stereo = np.stack([np.full(100, 0.5), np.full(100, -0.25)], axis=1).astype(np.float32)
    sf.write(str(tmp_path / "s.wav"), stereo, 22050, subtype="FLOAT")
    clip, rate = io.read_mono(tmp_path / "s.wav")
    assert rate == 22050 and clip.shape == (100,)
    np.testing.assert_allclose(clip, 0.125)


def test_resample_changes_the_length_and_keeps_the_pitch():
    t = np.arange(44100) / 44100
    clip = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    out = io.resample(clip, 44100, 8000)
    assert out.shape == (8000,)
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(spectrum.argmax() - 440) <= 1  # 1 Hz bins for a one-second clip
    assert io.resample(clip, 8000, 8000) is clip
