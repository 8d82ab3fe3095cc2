"""The ``mel`` dataset and the vocoder's mel analysis: segments and their mels, the
train/validation split, resumable draws, bad folders, and ``read_conditions``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from gankit.errors import GankitError
from gankit.options import build_options
from gankit.plugins.audio.mel import build_mel, split_files, validation_files
from gankit.plugins.audio.melspec import LogMel, MelSettings, read_conditions, settings_of
from gankit.plugins.audio.options import MelOptions
from gankit.specs import DataInfo
from gankit.testing import check_dataset

RATE = 2000
SMALL = dict(sample_rate=RATE, n_fft=64, win=64, hop=16, n_mels=16, fmax=1000.0, segment=256)


def tone(frequency: float, seconds: float = 0.5, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def fsdd_folder(folder: Path, speakers=("ann", "bob"), takes=range(8)) -> Path:
    """FSDD-named tones: digit d sounds at 100 + 30 d Hz."""
    folder.mkdir(parents=True, exist_ok=True)
    for speaker in speakers:
        for take in takes:
            for digit in (1, 2):
                sf.write(folder / f"{digit}_{speaker}_{take}.wav", tone(100 + 30 * digit), RATE)
    return folder


def options(**overrides) -> MelOptions:
    return MelOptions(**{**SMALL, **overrides})


def test_segments_come_with_their_mels_and_the_settings_are_stored(tmp_path):
    dataset = build_mel(options(), fsdd_folder(tmp_path / "data"))
    assert dataset.info.shape == (1, 256) and dataset.info.sample_rate == RATE
    settings = settings_of(dataset.info)
    assert settings == MelSettings(RATE, 64, 16, 64, 16, 0.0, 1000.0, None)
    wave, mel = dataset[0]
    assert wave.shape == (1, 256) and mel.shape == (16, 256 // 16) and mel.dtype == torch.float32
    assert torch.allclose(mel, LogMel(settings)(wave[None])[0])
    x, cond = dataset.draw(5, torch.Generator().manual_seed(3))
    assert x.shape == (5, 1, 256) and cond.shape == (5, 16, 16)
    assert x.abs().max() <= 1 and torch.allclose(cond, LogMel(settings)(x), atol=1e-5)
    check_dataset(dataset)


def test_draws_follow_the_generator_so_a_resumed_run_draws_the_same_batches(tmp_path):
    dataset = build_mel(options(), fsdd_folder(tmp_path / "data"))
    first = dataset.draw(4, torch.Generator().manual_seed(11))
    again = dataset.draw(4, torch.Generator().manual_seed(11))
    other = dataset.draw(4, torch.Generator().manual_seed(12))
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.equal(first[0], other[0])


def test_a_file_shorter_than_a_segment_is_zero_padded(tmp_path):
    folder = tmp_path / "short"
    folder.mkdir()
    sf.write(folder / "a.wav", tone(200, seconds=0.05), RATE)  # 100 samples
    dataset = build_mel(options(), folder)
    x, _ = dataset.draw(2, torch.Generator().manual_seed(0))
    assert x.shape == (2, 1, 256) and torch.all(x[:, :, 100:] == 0) and x[:, :, :100].abs().max() > 0.5


def test_fsdd_names_get_the_standard_split_and_a_speaker_can_be_held_out(tmp_path):
    folder = fsdd_folder(tmp_path / "data")
    dataset = build_mel(options(), folder)
    assert len(dataset) == 2 * 3 * 2  # takes 5-7 of 2 speakers and 2 digits train
    assert "takes 5-49 train" in dataset.description and "takes 0-4 validate" in dataset.description
    assert dataset.info.extra["split"]["validation_files"] == 2 * 5 * 2
    held = build_mel(options(holdout_speaker="bob"), folder)
    assert len(held) == 3 * 2 and "speaker bob" in held.description
    names = [p.name for p in validation_files(folder, options())]
    assert len(names) == 20 and all(int(name.split("_")[2][0]) < 5 for name in names)
    with pytest.raises(GankitError, match="none of the folder's speakers: ann, bob"):
        build_mel(options(holdout_speaker="carol"), folder)


def test_a_folder_of_validation_files_only_is_used_whole(tmp_path):
    dataset = build_mel(options(), fsdd_folder(tmp_path / "test", takes=range(5)))
    assert len(dataset) == 20 and "evaluation folder" in dataset.description
    # a run trained with a speaker held out is evaluated on any speakers' test takes
    other_speakers = build_mel(options(holdout_speaker="carol"), fsdd_folder(tmp_path / "test2", takes=range(5)))
    assert len(other_speakers) == 20 and "evaluation folder" in other_speakers.description


def test_other_folders_hold_out_a_seeded_share(tmp_path):
    folder = tmp_path / "any"
    folder.mkdir()
    for i in range(10):
        sf.write(folder / f"clip{i}.flac", tone(100 + 20 * i), RATE)
    files = sorted(folder.iterdir())
    assert len(build_mel(options(), folder)) == 10
    split = split_files(files, options(validation_share=0.2, data_seed=1))
    assert len(split.validation) == 2 and len(split.train) == 8
    assert split == split_files(files, options(validation_share=0.2, data_seed=1))
    with pytest.raises(GankitError, match="holdout_speaker needs FSDD file names"):
        build_mel(options(holdout_speaker="ann"), folder)


def test_other_rates_are_resampled_and_files_peak_normalised(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    sf.write(folder / "a.wav", 0.2 * tone(150, rate=4000), 4000)
    dataset = build_mel(options(), folder)
    assert len(dataset.waves[0]) == RATE // 2 and abs(float(np.abs(dataset.waves[0]).max()) - 0.95) < 0.02
    raw = build_mel(options(normalize=False), folder)
    assert float(np.abs(raw.waves[0]).max()) < 0.15


def test_bad_folders_and_files_are_clear_errors(tmp_path):
    with pytest.raises(GankitError, match="pass --data"):
        build_mel(options(), None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(GankitError, match="no WAV/FLAC/OGG files"):
        build_mel(options(), tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.wav").write_bytes(b"not audio")
    sf.write(bad / "quiet.wav", np.zeros(500, dtype=np.float32), RATE)
    with pytest.raises(GankitError, match="none of the 2 training files"):
        build_mel(options(), bad)
    sf.write(bad / "ok.wav", tone(300), RATE)
    dataset = build_mel(options(), bad)
    assert len(dataset) == 1 and "skipped 2 of 3 files" in dataset.description


@pytest.mark.parametrize(("values", "message"), [
    ({"segment": "250"}, "multiple of hop"),
    ({"win": "128"}, "must not exceed n_fft"),
    ({"hop": "15"}, "n_fft - hop even"),
    ({"fmax": "1500"}, "at most half the sample rate"),
])
def test_inconsistent_mel_options_are_refused(values, message):
    with pytest.raises(GankitError, match=message):
        build_options(MelOptions, {**{k: str(v) for k, v in SMALL.items()}, **values}, what="dataset 'mel'")


def test_read_conditions_gives_the_mel_of_audio_and_checks_npy_mels(tmp_path):
    settings = MelSettings(RATE, 64, 16, 64, 16, 0.0, 1000.0)
    info = DataInfo(shape=(1, 256), sample_rate=RATE, extra={"mel": settings.to_dict()})
    sf.write(tmp_path / "a.wav", tone(200, seconds=0.1), RATE)  # 200 samples: 13 frames (the last zero-padded)
    mel = read_conditions(tmp_path / "a.wav", info)
    assert mel.shape == (1, 16, 13)
    sf.write(tmp_path / "fast.wav", tone(200, seconds=0.1, rate=8000), 8000)
    assert read_conditions(tmp_path / "fast.wav", info).shape == (1, 16, 13)  # resampled to 2 kHz
    np.save(tmp_path / "m.npy", np.zeros((16, 7), dtype=np.float32))
    assert read_conditions(tmp_path / "m.npy", info).shape == (1, 16, 7)
    np.save(tmp_path / "wrong.npy", np.zeros((80, 7), dtype=np.float32))
    with pytest.raises(GankitError, match="has 80 bands; this run's mels have 16"):
        read_conditions(tmp_path / "wrong.npy", info)
    np.save(tmp_path / "transposed.npy", np.zeros((7, 16), dtype=np.float32))
    with pytest.raises(GankitError, match="looks transposed"):
        read_conditions(tmp_path / "transposed.npy", info)


def test_runs_without_mel_settings_read_plain_arrays(tmp_path):
    info = DataInfo(shape=(1, 256), sample_rate=RATE)
    np.save(tmp_path / "c.npy", np.ones((3, 4), dtype=np.float32))
    assert read_conditions(tmp_path / "c.npy", info).shape == (3, 4)
    sf.write(tmp_path / "a.wav", tone(200), RATE)
    with pytest.raises(GankitError, match="does not generate from audio"):
        read_conditions(tmp_path / "a.wav", info)
