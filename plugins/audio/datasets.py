"""The audio plugin's datasets: the embedded procedural ``tones``, any ``folder`` of
WAV/FLAC/OGG files, and ``fsdd`` (Free Spoken Digit Dataset). Each decodes everything
once into memory and exposes ``tensors`` for fast batching: x float32 N×1×T in [-1, 1],
y int64 (-1 when unlabelled)."""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from gankit.data import InMemoryDataset

from gankit.errors import GankitError
from gankit.specs import DataInfo

from .io import read_mono, resample
from .options import AUDIO_SUFFIXES, FolderOptions, FSDDOptions, TonesOptions

logger = logging.getLogger("gankit")

SILENCE_DB = -40.0  # trim_silence: frames quieter than this (relative to the file's loudest) are silence
PEAK = 0.95  # normalize: each clip's peak
DECODER_VERSION = 1  # part of the decoded-data cache key: raise it when decoding changes its output


class InMemoryAudioDataset(InMemoryDataset):
    """Clips x_all float32 N×1×T in [-1, 1] at ``sample_rate`` with labels y_all int64 (N,)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, *, sample_rate: int, num_classes: int,
                 description: str = "", class_names: Sequence[str] = ()):
        if x.ndim != 3 or x.shape[1] != 1 or x.dtype != torch.float32:
            raise ValueError(f"expected float32 clips N×1×T, got {x.dtype} {tuple(x.shape)}")
        extra = {"class_names": list(class_names)} if class_names else {}
        info = DataInfo(shape=tuple(x.shape[1:]), dtype="float32", value_range=(-1.0, 1.0),
                        num_classes=num_classes, sample_rate=sample_rate, extra=extra)
        super().__init__(x, y, info, description)


# tones -------------------------------------------------------------------------------------

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def build_tones(options: TonesOptions, data_path: Path | None = None) -> InMemoryAudioDataset:
    """The ``tones`` dataset: ``options.count`` synthesised notes, labelled by pitch class."""
    if data_path is not None:
        logger.warning("dataset 'tones' is synthesised in memory and ignores --data %s", data_path)
    x, y = synthesise_tones(options)
    names = [f"+{k}" for k in range(options.classes)]
    description = (f"tones: {options.count} synthesised notes of {options.classes} pitch classes over "
                   f"{options.octaves} octave(s) from {options.base_frequency:g} Hz, {options.length} samples at "
                   f"{options.sample_rate} Hz (seed {options.data_seed})")
    return InMemoryAudioDataset(torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y),
                                sample_rate=options.sample_rate, num_classes=options.classes,
                                description=description, class_names=names)


def synthesise_tones(options: TonesOptions) -> tuple[np.ndarray, np.ndarray]:
    """float32 count×length in [-1, 1] and int64 pitch-class labels.

    A note: pitch class k in octave o sounds at ``base · 2^(k/12 + o)`` with 1..harmonics
    partials (amplitudes falling geometrically, random phases, none above Nyquist), a
    linear attack of 5-50 ms after a random onset in the first quarter, an exponential
    decay and a random gain. Every random number is drawn up front from ``data_seed``.
    """
    n, length, rate = options.count, options.length, options.sample_rate
    rng = np.random.default_rng(options.data_seed)
    labels = rng.permutation(np.arange(n) % options.classes)
    octave = rng.integers(0, options.octaves, n)
    f0 = options.base_frequency * 2.0 ** (labels / 12 + octave)
    partials = rng.integers(1, options.harmonics + 1, n)
    rolloff = rng.uniform(0.3, 0.8, n)
    phases = rng.uniform(0, 2 * np.pi, (n, options.harmonics))
    onset = rng.uniform(0, 0.25, n) * length
    attack = rng.uniform(0.005, 0.05, n) * rate
    decay = rng.uniform(0.1, 0.6, n) * length  # time constant in samples: plucked, not organ-like
    gain = rng.uniform(0.3, 0.9, n)

    t = np.arange(length, dtype=np.float64)
    out = np.empty((n, length), dtype=np.float32)
    for start in range(0, n, 256):
        s = slice(start, min(start + 256, n))
        cycles = (f0[s, None] / rate * t) % 1.0  # the fundamental's phase in cycles, exact in float64
        wave = np.zeros((s.stop - s.start, length), dtype=np.float32)
        total = np.zeros(s.stop - s.start)
        for j in range(options.harmonics):
            amp = np.where((j < partials[s]) & (f0[s] * (j + 1) < rate / 2), rolloff[s] ** j, 0.0)
            rows = np.flatnonzero(amp)
            if len(rows) == 0:
                continue
            angle = (((j + 1) * cycles[rows]) % 1.0).astype(np.float32) * np.float32(2 * np.pi)
            wave[rows] += amp[rows, None].astype(np.float32) * np.sin(angle + phases[s][rows, j, None].astype(np.float32))
            total += amp
        since = t - onset[s, None]
        envelope = np.where(since < 0, 0.0, np.minimum(since / attack[s, None], 1.0) * np.exp(-np.maximum(since, 0)
                                                                                            / decay[s, None]))
        out[s] = (gain[s, None] / total[:, None]) * envelope * wave
    if options.normalize:
        out *= PEAK / np.maximum(np.abs(out).max(axis=1, keepdims=True), 1e-12)
    return out, labels.astype(np.int64)


# Decoding files ----------------------------------------------------------------------------

@dataclass
class ClipSettings:
    sample_rate: int
    length: int
    crop: str = "start"
    trim_silence: bool = False
    normalize: bool = False
    seed: int = 0


def fit_clip(clip: np.ndarray, settings: ClipSettings, rng: np.random.Generator) -> np.ndarray:
    """Crop (start, center or random) or zero-pad (at the end) ``clip`` to the length."""
    length = settings.length
    if len(clip) < length:
        return np.pad(clip, (0, length - len(clip)))
    extra = len(clip) - length
    offset = {"start": 0, "center": extra // 2}.get(settings.crop)
    if offset is None:
        offset = int(rng.integers(0, extra + 1))
    return clip[offset:offset + length]


def trim_silence(clip: np.ndarray, sample_rate: int, threshold_db: float = SILENCE_DB) -> np.ndarray:
    """``clip`` without its leading and trailing 10 ms frames quieter (RMS) than
    ``threshold_db`` below its loudest frame; empty if the clip is all zeros."""
    frame = max(1, sample_rate // 100)
    count = len(clip) // frame
    if count == 0:
        return clip if np.abs(clip).max(initial=0.0) > 0 else clip[:0]
    rms = np.sqrt(np.mean(clip[:count * frame].reshape(count, frame) ** 2, axis=1))
    loud = np.flatnonzero(rms > rms.max() * 10 ** (threshold_db / 20))
    if rms.max() == 0 or len(loud) == 0:
        return clip[:0]
    return clip[loud[0] * frame:(loud[-1] + 1) * frame if loud[-1] < count - 1 else len(clip)]


def decode(files: Sequence[Path], settings: ClipSettings, what: str) -> tuple[np.ndarray, list[int]]:
    """Decode, mix down, resample, trim, crop/pad and normalise each file. Returns the clips
    (float32 M×length) and the indices of the files that were usable; unreadable, empty and
    silent files are skipped with one warning that counts them."""
    rng = np.random.default_rng(settings.seed)
    clips, kept, skipped = [], [], []
    for index, path in enumerate(files):
        try:
            clip, rate = read_mono(path)
        except Exception as exc:  # soundfile raises several types for corrupt or odd files
            skipped.append(f"{path.name}: {str(exc).strip() or type(exc).__name__}")
            continue
        if len(clip) == 0 or not np.isfinite(clip).all():
            skipped.append(f"{path.name}: {'no samples' if len(clip) == 0 else 'non-finite samples'}")
            continue
        clip = resample(clip, rate, settings.sample_rate)
        if settings.trim_silence:
            clip = trim_silence(clip, settings.sample_rate)
            if len(clip) == 0:
                skipped.append(f"{path.name}: silent")
                continue
        clip = fit_clip(clip, settings, rng)
        peak = float(np.abs(clip).max(initial=0.0))
        if settings.normalize and peak > 0:
            clip = clip * (PEAK / peak)
        clips.append(np.clip(clip, -1.0, 1.0).astype(np.float32, copy=False))
        kept.append(index)
    if skipped:
        logger.warning("%s: skipped %d of %d files that could not be used (first: %s)", what, len(skipped),
                       len(files), skipped[0])
    if not clips:
        raise GankitError(f"{what}: none of the {len(files)} audio files could be used (first problem: "
                          f"{skipped[0] if skipped else 'none found'}); check that they are WAV/FLAC/OGG audio")
    return np.stack(clips), kept


def cached_decode_clips(files: Sequence[Path], settings: ClipSettings, what: str) -> tuple[np.ndarray, list[int]]:
    """:func:`decode` through the cache of decoded data (``GANKIT_CACHE/decoded/audio-clips``,
    keyed by the files' paths, sizes and modification times and the settings), so the next
    run on the same files skips decoding and resampling."""
    from gankit.data import cached_decode

    decoded_now = []

    def run() -> tuple[np.ndarray, dict[str, Any]]:
        decoded_now.append(True)
        clips, kept = decode(files, settings, what)  # warns about skipped files itself
        return clips, {"kept": kept}

    options = {**dataclasses.asdict(settings), "decoder": DECODER_VERSION}
    clips, notes = cached_decode("audio-clips", files, options, run)
    kept = [int(i) for i in notes["kept"]]
    if not decoded_now and len(kept) < len(files):
        logger.warning("%s: skipped %d of %d files that could not be used (found when they were decoded; cached)",
                       what, len(files) - len(kept), len(files))
    return clips, kept


def _stable_sort_names(names: set[str]) -> list[str]:
    """Class names in order: numerically when they are all integers, else alphabetically."""
    if names and all(re.fullmatch(r"-?\d+", n) for n in names):
        return sorted(names, key=int)
    return sorted(names)


# folder ------------------------------------------------------------------------------------

def find_audio(folder: Path) -> list[Path]:
    """Every WAV/FLAC/OGG file under ``folder`` (recursively), sorted by path."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())


def build_folder(options: FolderOptions, data_path: Path | None) -> InMemoryAudioDataset:
    """The ``folder`` dataset: every WAV/FLAC/OGG file under ``data_path``, labelled by
    ``label_pattern`` (its first group, on the file name), else by sub-folder when every
    file lies in one, else unlabelled."""
    folder = _check_folder(data_path, "folder", "a folder of WAV/FLAC/OGG files")
    files = find_audio(folder)
    if not files:
        raise GankitError(f"dataset 'folder': no {'/'.join(s[1:].upper() for s in AUDIO_SUFFIXES)} files "
                          f"under {folder}")
    label_of, how = _labeller(folder, files, options.label_pattern)
    if options.label_pattern is not None:
        matched = [p for p in files if label_of(p) is not None]
        if not matched:
            raise GankitError(f"dataset 'folder': label_pattern {options.label_pattern!r} matches none of the "
                              f"{len(files)} file names under {folder} (e.g. {files[0].name!r})")
        if len(matched) < len(files):
            logger.warning("dataset 'folder': skipped %d of %d files whose names do not match label_pattern %r",
                           len(files) - len(matched), len(files), options.label_pattern)
        files = matched
    settings = ClipSettings(options.sample_rate, options.length, options.crop, options.trim_silence,
                            options.normalize, options.data_seed)
    x, kept = cached_decode_clips(files, settings, "dataset 'folder'")
    raw = [label_of(files[i]) for i in kept]
    names = _stable_sort_names({r for r in raw if r is not None})
    index = {name: i for i, name in enumerate(names)}
    y = np.array([index[r] if r is not None else -1 for r in raw], dtype=np.int64)
    description = (f"folder: {len(kept)} clips from {folder} ({how}), {options.length} samples at "
                   f"{options.sample_rate} Hz, crop {options.crop}")
    return InMemoryAudioDataset(torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y),
                                sample_rate=options.sample_rate, num_classes=len(names),
                                description=description, class_names=names)


def _labeller(folder: Path, files: list[Path], pattern: str | None) -> tuple[Callable[[Path], str | None], str]:
    if pattern is not None:
        regex = re.compile(pattern)

        def by_pattern(path: Path) -> str | None:
            match = regex.search(path.name)
            if match is None:
                return None
            return match.group(1) if regex.groups else match.group(0)

        return by_pattern, f"labels from file names by {pattern!r}"
    if all(len(p.relative_to(folder).parts) > 1 for p in files):
        return (lambda path: path.relative_to(folder).parts[0]), "labels from sub-folder names"
    return (lambda path: None), "unlabelled"


def _check_folder(data_path: Path | None, name: str, what: str) -> Path:
    if data_path is None:
        raise GankitError(f"dataset {name!r} reads {what}: pass --data PATH")
    folder = Path(data_path).expanduser()
    if not folder.exists():
        raise GankitError(f"dataset {name!r}: --data {folder} does not exist")
    if not folder.is_dir():
        raise GankitError(f"dataset {name!r}: --data {folder} is a file; pass the folder that holds {what}")
    return folder


# fsdd --------------------------------------------------------------------------------------

FSDD_NAME = re.compile(r"^(\d)_([^_]+)_(\d+)\.wav$", re.IGNORECASE)


def parse_fsdd_name(name: str) -> tuple[int, str, int] | None:
    """``(digit, speaker, take)`` from an FSDD file name such as ``7_jackson_32.wav``, or
    None when the name does not follow the layout."""
    match = FSDD_NAME.match(name)
    if match is None:
        return None
    return int(match.group(1)), match.group(2), int(match.group(3))


def build_fsdd(options: FSDDOptions, data_path: Path | None) -> InMemoryAudioDataset:
    """The ``fsdd`` dataset: the Free Spoken Digit Dataset's ``{digit}_{speaker}_{take}.wav``
    files in ``data_path`` (or its ``recordings/`` folder), labelled by the spoken digit;
    each clip is the recording's first ``length`` samples, zero-padded."""
    folder = _check_folder(data_path, "fsdd", "the Free Spoken Digit Dataset's recordings")
    if (folder / "recordings").is_dir():
        folder = folder / "recordings"
    files, parsed = [], []
    for path in sorted(folder.iterdir()):
        fields = parse_fsdd_name(path.name) if path.is_file() else None
        if fields is not None:
            files.append(path)
            parsed.append(fields)
    if not files:
        raise GankitError(f"dataset 'fsdd': no files named like 7_jackson_32.wav in {folder}; pass the "
                          f"free-spoken-digit-dataset folder or its recordings/ folder")
    settings = ClipSettings(options.sample_rate, options.length, "start", options.trim_silence, options.normalize)
    x, kept = cached_decode_clips(files, settings, "dataset 'fsdd'")
    y = np.array([parsed[i][0] for i in kept], dtype=np.int64)
    speakers = sorted({parsed[i][1] for i in kept})
    description = (f"fsdd: {len(kept)} recordings of {len(speakers)} speakers from {folder}, first "
                   f"{options.length} samples at {options.sample_rate} Hz")
    return InMemoryAudioDataset(torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y),
                                sample_rate=options.sample_rate, num_classes=10, description=description,
                                class_names=[str(d) for d in range(10)])
