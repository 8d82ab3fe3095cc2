"""Reading and writing audio: 16-bit PCM WAV per sample, a preview (WAV of a few clips
joined by short silences, plus a PNG grid of their log-mel spectrograms), numpy export,
and decoding files of any rate and channel count to mono float32.

Batches are canonical audio batches, N×1×T floats in [-1, 1] at ``info.sample_rate``
(torch tensors; numpy arrays also work). All file I/O goes through soundfile; torchaudio
is used only for resampling and spectrograms, and imported when needed (it is slow to
import).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import soundfile as sf

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from gankit.specs import DataInfo

DEFAULT_SAMPLE_RATE = 16000
PREVIEW_CLIPS = 8  # clips joined into the preview WAV and drawn in the spectrogram grid
PREVIEW_GAP_S = 0.25  # silence between clips in the preview WAV
N_MELS = 64


def sample_rate_of(info: "DataInfo | None") -> int:
    rate = getattr(info, "sample_rate", None) if info is not None else None
    return int(rate) if rate else DEFAULT_SAMPLE_RATE


def to_numpy(batch: "torch.Tensor | np.ndarray", info: "DataInfo | None" = None) -> np.ndarray:
    """float32 N×T in [-1, 1] (clamped), for ``--format npy``."""
    return np.clip(_as_array(batch), -1.0, 1.0)


def from_numpy(array: np.ndarray, info: "DataInfo") -> "torch.Tensor":
    """Clips in ``to_numpy``'s format (float N×T in [-1, 1], or N×1×T) as a canonical
    N×1×T batch; T must be the dataset's clip length."""
    import torch

    from gankit.errors import GankitError

    array = np.asarray(array)
    if array.ndim == 3 and array.shape[1] == 1:
        array = array[:, 0]
    length = info.shape[-1]
    if array.ndim != 2 or array.shape[1] != length or not np.issubdtype(array.dtype, np.floating):
        raise GankitError(f"audio samples must be a float array N×{length} (clips of this dataset's length, "
                          f"values in [-1, 1]); got {array.dtype} of shape {tuple(array.shape)}")
    return torch.from_numpy(np.clip(array.astype(np.float32), -1.0, 1.0)).unsqueeze(1)


def save_wav(clip: np.ndarray, path: str | Path, sample_rate: int) -> Path:
    """Write a mono float clip (values in [-1, 1], clamped) as 16-bit PCM WAV."""
    path = Path(path)
    sf.write(str(path), np.clip(np.asarray(clip, dtype=np.float32), -1.0, 1.0), sample_rate,
             subtype="PCM_16", format="WAV")
    return path


def write_samples(batch: "torch.Tensor | np.ndarray", out_dir: str | Path, info: "DataInfo | None" = None,
                  start: int = 0) -> list[Path]:
    """One 16-bit WAV per sample, ``sample-{start+i:05d}.wav`` in ``out_dir`` (created)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rate = sample_rate_of(info)
    return [save_wav(clip, out_dir / f"sample-{start + i:05d}.wav", rate) for i, clip in enumerate(to_numpy(batch))]


def write_preview(batch: "torch.Tensor | np.ndarray", path: str | Path, info: "DataInfo | None" = None) -> Path:
    """``path.wav``: a few clips spread evenly over the batch (so a conditional preview,
    ordered by class, plays several classes) joined by short silences; ``path.png``: their
    log-mel spectrograms in a grid. Returns the WAV's path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = sample_rate_of(info)
    clips = to_numpy(batch)
    clips = clips[preview_picks(len(clips))]
    wav_path = save_joined_wav(clips, path.with_name(path.name + ".wav"), rate)
    save_spectrogram_grid(clips, path.with_name(path.name + ".png"), rate)
    return wav_path


def preview_picks(count: int) -> np.ndarray:
    """The indices of the clips a preview of ``count`` clips shows: up to
    :data:`PREVIEW_CLIPS`, spread evenly from the first to the last."""
    return np.unique(np.linspace(0, count - 1, min(PREVIEW_CLIPS, count)).round().astype(int))


def save_joined_wav(clips: np.ndarray, path: str | Path, sample_rate: int) -> Path:
    """One WAV of ``clips`` (N×T) joined by :data:`PREVIEW_GAP_S` silences."""
    gap = np.zeros(int(PREVIEW_GAP_S * sample_rate), dtype=np.float32)
    return save_wav(np.concatenate([part for clip in clips for part in (clip, gap)][:-1]), path, sample_rate)


# Spectrograms ------------------------------------------------------------------------------

# Anchor colours of a perceptually ordered dark-to-bright map (close to matplotlib's magma),
# interpolated linearly: silence is black, loud bins pale yellow.
_COLOURS = np.array([[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66],
                     [245, 125, 21], [250, 193, 39], [252, 255, 164]], dtype=np.float32)


def log_mel(clips: np.ndarray, sample_rate: int, n_mels: int = N_MELS) -> np.ndarray:
    """N×n_mels×frames log-mel power in dB (0 dB: a full-scale sine at a band's centre;
    floored at -80 dB), from torchaudio's MelSpectrogram with a 32 ms window."""
    import torch
    import torchaudio

    n_fft = 1 << max(6, round(math.log2(0.032 * sample_rate)))
    transform = torchaudio.transforms.MelSpectrogram(
        sample_rate=sample_rate, n_fft=n_fft, hop_length=n_fft // 4, n_mels=n_mels, f_min=0.0,
        f_max=sample_rate / 2, power=2.0, norm=None, mel_scale="htk")
    with torch.no_grad():
        power = transform(torch.as_tensor(np.ascontiguousarray(clips), dtype=torch.float32))
    reference = (n_fft / 4) ** 2  # a full-scale sine's power in its bin (Hann window; filters peak at 1)
    db = 10 * torch.log10(power.clamp_min(1e-12) / reference)
    return db.clamp(-80.0, 0.0).numpy()


def spectrogram_image(db: np.ndarray, height: int = 2 * N_MELS) -> np.ndarray:
    """uint8 H×W×3 image of one dB spectrogram (mels×frames), low frequencies at the bottom."""
    level = (np.clip(db, -80.0, 0.0) + 80.0) / 80.0 * (len(_COLOURS) - 1)
    low = np.floor(level).astype(int).clip(0, len(_COLOURS) - 2)
    frac = (level - low)[..., None]
    rgb = _COLOURS[low] * (1 - frac) + _COLOURS[low + 1] * frac
    rgb = rgb[::-1]  # row 0 is the top of the picture: highest mel band
    rows = np.repeat(np.arange(rgb.shape[0]), max(1, height // rgb.shape[0]))
    return np.rint(rgb[rows]).astype(np.uint8)


def save_spectrogram_grid(clips: np.ndarray, path: str | Path, sample_rate: int, columns: int = 4,
                          padding: int = 4, row_labels: Sequence[str] = ()) -> Path:
    """A PNG grid (``columns`` per row) of the clips' log-mel spectrograms; ``row_labels``
    are written left of the rows, one a row (a paired preview: original, Griffin-Lim, ...)."""
    from PIL import Image, ImageDraw, ImageFont

    path = Path(path)
    if len(clips) == 0:
        raise ValueError("save_spectrogram_grid needs at least one clip")
    tiles = [spectrogram_image(db) for db in log_mel(clips, sample_rate)]
    h, w, _ = tiles[0].shape
    scale = max(1, 256 // w)  # short clips: widen the frames so a tile is readable
    w *= scale
    ncol = min(columns, len(tiles))
    nrow = math.ceil(len(tiles) / ncol)
    font = ImageFont.load_default()
    margin = max((math.ceil(font.getlength(label)) + padding for label in row_labels), default=0)
    grid = np.full((nrow * (h + padding) + padding, margin + ncol * (w + padding) + padding, 3), 255, dtype=np.uint8)
    for i, tile in enumerate(tiles):
        top, left = padding + (i // ncol) * (h + padding), margin + padding + (i % ncol) * (w + padding)
        grid[top:top + h, left:left + w] = np.repeat(tile, scale, axis=1)
    image = Image.fromarray(grid)
    draw = ImageDraw.Draw(image)
    for row, label in enumerate(row_labels[:nrow]):
        _, text_top, _, text_bottom = font.getbbox(label)
        draw.text((padding, padding + row * (h + padding) + (h - text_top - text_bottom) // 2), label,
                  fill=(0, 0, 0), font=font)
    image.save(path, format="PNG")
    return path


# Reading -----------------------------------------------------------------------------------

def read_mono(path: str | Path) -> tuple[np.ndarray, int]:
    """A file's samples as float32 mono (channels averaged) and its sample rate."""
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return data.mean(axis=1, dtype=np.float32), int(rate)


def resample(clip: np.ndarray, orig_rate: int, new_rate: int) -> np.ndarray:
    """``clip`` at ``new_rate`` (torchaudio's band-limited sinc interpolation)."""
    if orig_rate == new_rate:
        return clip
    import torch
    import torchaudio.functional as AF

    with torch.no_grad():
        out = AF.resample(torch.from_numpy(np.ascontiguousarray(clip)), orig_rate, new_rate)
    return out.numpy()


def _as_array(batch: Any) -> np.ndarray:
    if isinstance(batch, np.ndarray):
        array = batch.astype(np.float32, copy=False)
    else:
        array = batch.detach().float().cpu().numpy()
    if array.ndim == 3 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 2:
        raise ValueError(f"expected an audio batch N×1×T (or N×T), got shape {tuple(array.shape)}")
    return array
