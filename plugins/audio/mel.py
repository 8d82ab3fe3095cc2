"""The ``mel`` dataset: random segments of any audio folder with their log-mel
spectrograms, for training a vocoder (HiFi-GAN's ``meldataset.MelDataset``).

Every file is decoded once (mono, resampled, peak-normalised to 0.95 as HiFi-GAN does) and
kept whole in memory, through gankit's cache of decoded data. Training batches come from
:meth:`MelDataset.draw`: for each row a training file is drawn uniformly and a random
``segment`` of it taken (a shorter file is zero-padded at the end, as in HiFi-GAN), all
from the generator the engine passes, so a resumed run draws the same batches; the mels are
computed on the batch with :class:`~.melspec.LogMel`. An epoch is one segment per training
file. Items (``dataset[i]``, what evaluation and previews read) are fixed: the first
``segment`` samples of training file ``i``, zero-padded.

The split: a folder of FSDD recordings (``{digit}_{speaker}_{take}.wav``) uses FSDD's
standard split, takes 0-4 for validation and 5-49 for training; any other folder holds out
``validation_share`` of its files (none by default). ``holdout_speaker`` leaves one FSDD
speaker out of training. A folder that holds only validation files (an evaluation folder,
``gankit evaluate RUN --data FOLDER``) is used whole. The split is stated in
``description``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from gankit.data import SkippedRecords, cached_decode
from gankit.errors import GankitError
from gankit.specs import DataInfo

from .datasets import PEAK, _check_folder, find_audio, parse_fsdd_name
from .io import read_mono, resample
from .melspec import LogMel, MelSettings
from .options import AUDIO_SUFFIXES, MelOptions

logger = logging.getLogger("gankit")

FSDD_VALIDATION_TAKES = range(0, 5)  # FSDD's README: indices 0-4 are the test set
WAVES_VERSION = 1  # part of the decoded-data cache key


@dataclass(frozen=True)
class Split:
    """Which files train and which validate, and a sentence that says why."""

    train: list[int]
    validation: list[int]
    how: str


def split_files(files: Sequence[Path], options: MelOptions) -> Split:
    """The training and validation files (indices into ``files``); see the module docstring."""
    every = list(range(len(files)))
    parsed = [parse_fsdd_name(path.name) for path in files]
    fsdd = bool(files) and all(fields is not None for fields in parsed)
    if options.holdout_speaker is not None and not fsdd:
        raise GankitError(f"dataset 'mel': holdout_speaker needs FSDD file names ({{digit}}_{{speaker}}_{{take}}.wav); "
                          f"{files[0].name!r} is not one")
    validation_only = fsdd and all(fields[2] in FSDD_VALIDATION_TAKES for fields in parsed)  # type: ignore[index]
    if fsdd and not validation_only:  # an evaluation folder need not hold the speaker training left out
        speakers = sorted({fields[1] for fields in parsed if fields is not None})
        if options.holdout_speaker is not None and options.holdout_speaker not in speakers:
            raise GankitError(f"dataset 'mel': holdout_speaker {options.holdout_speaker!r} is none of the folder's "
                              f"speakers: {', '.join(speakers)}")
    if options.split == "all":
        return Split(every, [], f"all {len(files)} files train (split all)")
    if fsdd:
        validation = [i for i in every if parsed[i][2] in FSDD_VALIDATION_TAKES]  # type: ignore[index]
        held = [i for i in every if parsed[i][1] == options.holdout_speaker]  # type: ignore[index]
        train = [i for i in every if i not in set(validation) | set(held)]
        how = (f"FSDD's split: {len(train)} files with takes 5-49 train, {len(validation)} with takes 0-4 validate")
        if held:
            how += f"; speaker {options.holdout_speaker} ({len(held)} files) left out of training"
    else:
        count = int(round(options.validation_share * len(files)))
        order = np.random.default_rng(options.data_seed).permutation(len(files))
        validation = sorted(int(i) for i in order[:count])
        train = [i for i in every if i not in set(validation)]
        how = (f"{len(train)} files train, {len(validation)} validate (validation_share {options.validation_share:g}, "
               f"seed {options.data_seed})") if count else f"all {len(files)} files train (validation_share 0)"
    if not train and validation:
        return Split(every, [], f"all {len(files)} files, validation files only (an evaluation folder)")
    return Split(train, validation, how)


def decode_waves(files: Sequence[Path], sample_rate: int,
                 normalize: bool) -> tuple[list[np.ndarray], list[int], SkippedRecords]:
    """Each usable file as float32 mono at ``sample_rate`` (peak 0.95 with ``normalize``),
    through the cache of decoded data; the indices of the files kept and what was skipped."""
    skipped = SkippedRecords("files", total=len(files))

    def run() -> tuple[np.ndarray, dict[str, Any]]:
        waves, kept, reasons = [], [], []
        for index, path in enumerate(files):
            try:
                wave, rate = read_mono(path)
            except Exception as exc:  # soundfile raises several types for corrupt files
                reasons.append(["not decodable", path.name, str(exc).strip()[:80]])
                continue
            if len(wave) == 0 or not np.isfinite(wave).all():
                reasons.append(["empty" if len(wave) == 0 else "non-finite samples", path.name, ""])
                continue
            wave = resample(wave, rate, sample_rate)
            peak = float(np.abs(wave).max(initial=0.0))
            if peak < 1e-4:
                reasons.append(["silent", path.name, ""])
                continue
            if normalize:
                wave = wave * (PEAK / peak)
            waves.append(np.clip(wave, -1.0, 1.0).astype(np.float32))
            kept.append(index)
        joined = np.concatenate(waves) if waves else np.zeros(0, dtype=np.float32)
        return joined, {"kept": kept, "lengths": [len(w) for w in waves], "skipped": reasons}

    options = {"sample_rate": sample_rate, "normalize": normalize, "version": WAVES_VERSION}
    joined, notes = cached_decode("audio-waves", files, options, run)
    for reason, name, _ in notes["skipped"]:
        skipped.add(reason, name)
    bounds = np.cumsum([0, *notes["lengths"]])
    waves = [joined[start:stop] for start, stop in zip(bounds[:-1], bounds[1:])]
    return waves, [int(i) for i in notes["kept"]], skipped


class MelDataset(Dataset):
    """Training segments ``(wave (1, segment), mel (n_mels, segment / hop))`` of whole
    decoded files; see the module docstring."""

    def __init__(self, waves: list[np.ndarray], names: list[str], options: MelOptions, description: str,
                 split: dict[str, Any]):
        self.waves = waves
        self.names = names
        self.segment = options.segment
        self.settings = MelSettings.from_options(options)
        self.mel = LogMel(self.settings)
        self.description = description
        self.info = DataInfo(shape=(1, options.segment), dtype="float32", value_range=(-1.0, 1.0), num_classes=0,
                             sample_rate=options.sample_rate,
                             extra={"mel": self.settings.to_dict(), "split": split,
                                    "peak": PEAK if options.normalize else None})

    def __len__(self) -> int:
        return len(self.waves)

    def _segment(self, index: int, start: int) -> torch.Tensor:
        wave = self.waves[index][start:start + self.segment]
        return torch.from_numpy(np.pad(wave, (0, self.segment - len(wave))))

    @torch.no_grad()
    def mels(self, waves: torch.Tensor) -> torch.Tensor:
        """Log-mels (N, n_mels, frames) of waves (N, 1, T)."""
        return self.mel(waves)

    def draw(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """A training batch: random segments of random files, with their mels."""
        files = torch.randint(len(self.waves), (batch_size,), generator=generator).tolist()
        unit = torch.rand(batch_size, generator=generator, dtype=torch.float64).tolist()
        rows = []
        for index, u in zip(files, unit):
            room = len(self.waves[index]) - self.segment
            rows.append(self._segment(index, int(u * (room + 1)) if room > 0 else 0))
        waves = torch.stack(rows).unsqueeze(1)
        return waves, self.mels(waves)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        wave = self._segment(index, 0).unsqueeze(0)
        return wave, self.mels(wave.unsqueeze(0))[0]


def build_mel(options: MelOptions, data_path: Path | None) -> MelDataset:
    """The ``mel`` dataset over the training files of the folder ``data_path``."""
    folder = _check_folder(data_path, "mel", "a folder of WAV/FLAC/OGG files")
    if (folder / "recordings").is_dir() and not any(p.suffix.lower() in AUDIO_SUFFIXES for p in folder.iterdir()):
        folder = folder / "recordings"  # the FSDD repository's layout
    files = find_audio(folder)
    if not files:
        raise GankitError(f"dataset 'mel': no {'/'.join(s[1:].upper() for s in AUDIO_SUFFIXES)} files under {folder}")
    split = split_files(files, options)
    chosen = [files[i] for i in split.train]
    waves, kept, skipped = decode_waves(chosen, options.sample_rate, options.normalize)
    if not waves:
        raise GankitError(f"dataset 'mel': none of the {len(chosen)} training files under {folder} could be used "
                          f"({skipped.summary()}); check that they are WAV/FLAC/OGG audio")
    if skipped:
        logger.warning("dataset 'mel': %s", skipped.summary())
    seconds = sum(len(w) for w in waves) / options.sample_rate
    description = (f"mel: {len(waves)} training files ({seconds / 60:.1f} min) from {folder}; {split.how}; "
                   f"segments of {options.segment} samples at {options.sample_rate} Hz, {options.n_mels} mel bands, "
                   f"hop {options.hop}" + (f"; {skipped.summary()}" if skipped else ""))
    record = {"how": split.how, "train_files": len(waves), "validation_files": len(split.validation)}
    return MelDataset(waves, [chosen[i].name for i in kept], options, description, record)


def validation_files(data_path: Path, options: MelOptions) -> list[Path]:
    """The folder's validation files under the dataset's split (for benchmarks and reports)."""
    folder = _check_folder(data_path, "mel", "a folder of WAV/FLAC/OGG files")
    files = find_audio(folder / "recordings" if (folder / "recordings").is_dir() else folder)
    return [files[i] for i in split_files(files, options).validation]
