"""``gankit vocode`` and ``gankit.vocode``: resynthesise audio files (or ``.npy`` mels)
with a trained vocoder run, at any length in bounded memory.

Each input is analysed with the run's own mel settings (resampled to its rate first, and
brought to the peak level the run's data was normalised to, the output scaled back) and
synthesised in chunks of ``chunk_frames`` mel frames. Each chunk is generated with
``context_frames`` extra frames on each side (by default 16, or the generator's
``context_frames`` when it declares more: the frames on each side its output depends on),
so the generator sees what lies beyond the chunk; neighbouring chunks overlap by ``context_frames`` frames around their boundary and
are cross-faded linearly there. The mel of a long file is computed chunk by chunk from the
reflect-padded waveform (frame for frame what the whole file's analysis gives), and
finished samples are written to the WAV as they come: memory holds the input's samples
and one chunk's activations, whatever the length.
"""

from __future__ import annotations

import copy
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from gankit.errors import GankitError

from .melspec import LogMel, MelSettings, level_gain, pad_to_hop, read_mel_file, read_wave, reflect_pad, settings_of
from .options import AUDIO_SUFFIXES

CHUNK_FRAMES = 256
CONTEXT_FRAMES = 16
INPUT_SUFFIXES = (*AUDIO_SUFFIXES, ".npy")


@dataclass
class VocodeResult:
    """What :func:`vocode` wrote and how fast: ``rtf`` is compute time (wall clock) over
    audio time (below 1: faster than real time); ``cpu_seconds`` is the CPU time it took
    (the same on an idle machine with one thread, less affected by other jobs)."""

    out: Path
    outputs: list[Path] = field(default_factory=list)
    audio_seconds: float = 0.0
    compute_seconds: float = 0.0
    cpu_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def rtf(self) -> float:
        return self.compute_seconds / self.audio_seconds if self.audio_seconds else float("nan")

    def summary(self) -> str:
        speed = f"{1 / self.rtf:.1f}x faster than" if self.rtf < 1 else f"{self.rtf:.1f}x slower than"
        return (f"vocoded {len(self.outputs)} file{'s' * (len(self.outputs) != 1)}, {self.audio_seconds:.1f} s of "
                f"audio in {self.compute_seconds:.2f} s ({self.cpu_seconds:.2f} s of CPU): real-time factor "
                f"{self.rtf:.3f} ({speed} real time)")


@dataclass(frozen=True)
class Job:
    source: Path
    target: Path


def collect(inputs: Sequence[str | Path], out: Path) -> list[Job]:
    """One job per input file; folders give every audio/.npy file under them, written
    under ``out`` with the same relative path and a ``.wav`` suffix."""
    if not inputs:
        raise GankitError("give at least one input: audio files (WAV/FLAC/OGG), .npy mels, or folders of them")
    jobs: list[Job] = []
    for entry in map(Path, inputs):
        if entry.is_dir():
            found = sorted(p for p in entry.rglob("*") if p.is_file() and p.suffix.lower() in INPUT_SUFFIXES)
            if not found:
                raise GankitError(f"{entry}: no WAV/FLAC/OGG or .npy files in this folder")
            jobs += [Job(p, out / p.relative_to(entry).with_suffix(".wav")) for p in found]
        elif entry.is_file():
            jobs.append(Job(entry, out / f"{entry.stem}.wav"))
        else:
            raise GankitError(f"{entry}: no such file or folder")
    seen: dict[Path, Path] = {}
    for job in jobs:
        target = job.target.resolve()
        if target in seen:
            raise GankitError(f"{seen[target]} and {job.source} would both be written to {job.target}; vocode them "
                              f"into different --out folders")
        if target == job.source.resolve():
            raise GankitError(f"{job.source}: the output would overwrite the input; choose another --out")
        seen[target] = job.source
    return jobs


def inference_copy(generator: nn.Module) -> nn.Module:
    """A copy of the generator with weight norm folded into plain weights (faster)."""
    from torch.nn.utils import parametrize

    folded = copy.deepcopy(generator)
    for module in folded.modules():
        if parametrize.is_parametrized(module):
            for name in list(module.parametrizations.keys()):
                parametrize.remove_parametrizations(module, name, leave_parametrized=True)
    return folded.eval().requires_grad_(False)


class Synthesiser:
    """Chunked synthesis of one run's generator (see the module docstring)."""

    def __init__(self, generator: nn.Module, settings: MelSettings, device: torch.device,
                 chunk_frames: int = CHUNK_FRAMES, context_frames: int = CONTEXT_FRAMES):
        if chunk_frames < 1 or context_frames < 0:
            raise GankitError(f"chunk_frames must be at least 1 and context_frames at least 0, got {chunk_frames} "
                              f"and {context_frames}")
        self.generator = generator
        self.settings = settings
        self.device = device
        self.chunk, self.context = chunk_frames, context_frames
        self.fade = min(context_frames, chunk_frames)  # frames of cross-fade around each boundary, half each side
        self.mel = LogMel(settings).to(device)

    def frames_of_wave(self, padded: np.ndarray, start: int, stop: int) -> torch.Tensor:
        """Mel frames ``start..stop-1`` from a reflect-padded waveform."""
        hop, n_fft = self.settings.hop, self.settings.n_fft
        piece = torch.from_numpy(padded[start * hop:(stop - 1) * hop + n_fft]).to(self.device)
        return self.mel(piece[None], padded=True)

    @torch.no_grad()
    def chunks(self, frames: int, mel_of: Any) -> Iterator[tuple[np.ndarray, int]]:
        """Finished samples in order, with the frames each piece completes; ``mel_of(a, b)``
        gives mel frames ``a..b-1`` as (1, n_mels, b - a)."""
        hop, half = self.settings.hop, self.fade // 2
        tail: np.ndarray | None = None  # the previous chunk's samples over the coming overlap
        for start in range(0, frames, self.chunk):
            stop = min(frames, start + self.chunk)
            first, last = max(0, start - self.context), min(frames, stop + self.context)
            audio = self.generator(None, mel_of(first, last).to(self.device))[0, 0].float().cpu().numpy()
            keep_from = max(0, start - half) if start else 0
            keep_to = min(frames, stop + half) if stop < frames else frames
            piece = audio[(keep_from - first) * hop:(keep_to - first) * hop]
            if tail is not None:
                ramp = np.linspace(0.0, 1.0, len(tail) + 2, dtype=np.float32)[1:-1]
                piece = piece.copy()
                piece[:len(tail)] = tail * (1 - ramp) + piece[:len(tail)] * ramp
            overlap = (keep_to - max(stop - half, keep_from)) * hop if stop < frames else 0
            tail = piece[len(piece) - overlap:] if overlap else None
            yield piece[:len(piece) - overlap], stop - start


def vocode(run: Any, inputs: Sequence[str | Path] | str | Path, *, out: str | Path | None = None,
           device: str = "cpu", chunk_frames: int = CHUNK_FRAMES, context_frames: int | None = None,
           progress: bool | None = None) -> VocodeResult:
    """Resynthesise ``inputs`` (audio files, ``.npy`` mels (n_mels, frames), or folders of
    them) with the vocoder ``run`` (a run folder, checkpoint, export folder or a loaded
    :class:`gankit.run.Run`) into 16-bit WAVs in ``out`` (default ``RUN/vocoded``), named
    after the inputs. Audio is resampled to the run's rate and, when the run's data was
    peak-normalised, analysed at that level and the output scaled back to the input's; the
    output is trimmed to the input's length. ``progress``: a bar on stderr (default: when
    stderr is a terminal)."""
    import soundfile as sf

    from gankit.run import Run, load

    loaded = run if isinstance(run, Run) else load(run, device=device)
    settings = settings_of(loaded.info, f"run {loaded.dir}")
    if getattr(loaded.generator, "latent_dim", None) != 0 or not getattr(loaded.generator, "conditional", False):
        raise GankitError(f"run {loaded.dir} is not a vocoder: its model generates from noise, not from mels")
    target = Path(out) if out is not None else loaded.dir / "vocoded"
    jobs = collect([inputs] if isinstance(inputs, (str, Path)) else list(inputs), target)
    if context_frames is None:
        context_frames = max(CONTEXT_FRAMES, getattr(loaded.generator, "context_frames", 0))
    synth = Synthesiser(inference_copy(loaded.generator), settings, loaded.device, chunk_frames, context_frames)
    result = VocodeResult(target)
    bar = _bar(progress)
    try:
        for job in jobs:
            started, cpu_started = time.perf_counter(), time.process_time()
            gain = 1.0
            if job.source.suffix.lower() == ".npy":
                mel = read_mel_file(job.source, settings)
                frames, length = mel.shape[1], mel.shape[1] * settings.hop
                mel_of = lambda a, b, mel=mel: mel[None, :, a:b]  # noqa: E731
            else:
                wave, rate = read_wave(job.source, settings)
                if rate != settings.sample_rate:
                    result.notes.append(f"{job.source.name}: resampled from {rate} to {settings.sample_rate} Hz")
                length, gain = len(wave), level_gain(wave, loaded.info)
                padded = reflect_pad(pad_to_hop(np.clip(wave * gain, -1.0, 1.0), settings.hop), settings)
                frames = -(-length // settings.hop)
                mel_of = lambda a, b, padded=padded: synth.frames_of_wave(padded, a, b)  # noqa: E731
            job.target.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            with sf.SoundFile(str(job.target), "w", samplerate=settings.sample_rate, channels=1,
                              subtype="PCM_16", format="WAV") as handle:
                for piece, done in synth.chunks(frames, mel_of):
                    piece = piece[:max(0, length - written)]
                    handle.write(np.clip(piece / gain, -1.0, 1.0))
                    written += len(piece)
                    if bar is not None:
                        bar.update(done * settings.hop / settings.sample_rate)
            result.compute_seconds += time.perf_counter() - started
            result.cpu_seconds += time.process_time() - cpu_started
            result.audio_seconds += length / settings.sample_rate
            result.outputs.append(job.target)
    finally:
        if bar is not None:
            bar.close()
    return result


def _bar(progress: bool | None) -> Any:
    """A bar counting seconds of audio done (its rate: seconds of audio per second)."""
    if progress is False or (progress is None and not sys.stderr.isatty()):
        return None
    from tqdm.auto import tqdm

    return tqdm(desc="vocode", unit="s", unit_scale=True, dynamic_ncols=True, bar_format="{desc}: {n:.1f} s of "
                "audio [{elapsed}, {rate_fmt}]")
