"""Text samples in and out: decoding canonical id batches, one-hot real batches for the
discriminator, ``samples.txt`` / preview files, numpy export and the run's tokenizer folder.

A batch is int64 N×L ids in canonical form (``tokens…, EOS, PAD…``); float tensors of whole
numbers also work (the engine's preview path converts batches to float). The tokenizer comes
from ``info.extra`` (see :mod:`.tokenizers`).

Sample files hold one sample a line. A sample can contain a newline (``chars`` windows
do), so lines are escaped: backslash as ``\\\\``, newline as ``\\n``, carriage return as
``\\r`` — :func:`unescape_line` reverses it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import tokenizers as tok

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from gankit.specs import DataInfo

SAMPLES_FILE = "samples.txt"
PREVIEW_SAMPLES = 32  # lines written to a preview file
_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r"}
_UNESCAPES = {"\\": "\\", "n": "\n", "r": "\r"}


def tokenizer_from_info(info: "DataInfo") -> tok.TextTokenizer:
    """The dataset's tokenizer with its special ids (cached per tokenizer)."""
    return tok.from_extra(info.extra)


def to_numpy(batch: "torch.Tensor | np.ndarray", info: "DataInfo | None" = None) -> np.ndarray:
    """int64 N×L token ids, for ``--format npy``."""
    array = batch if isinstance(batch, np.ndarray) else batch.detach().cpu().numpy()
    if array.ndim != 2:
        raise ValueError(f"expected a text batch of token ids N×L, got shape {tuple(array.shape)}")
    if np.issubdtype(array.dtype, np.floating):
        array = np.rint(array)
    return array.astype(np.int64, copy=False)


def from_numpy(array: np.ndarray, info: "DataInfo") -> "torch.Tensor":
    """Token ids in ``to_numpy``'s format (N×L integers) as a canonical batch; the length
    must be the dataset's and every id inside its vocabulary."""
    import torch

    from gankit.errors import GankitError

    array = np.asarray(array)
    length, vocab = int(info.shape[0]), int(info.vocab_size or 0)
    if array.ndim != 2 or array.shape[1] != length:
        raise GankitError(f"text samples must be token ids N×{length} (this dataset's length); got shape "
                          f"{tuple(array.shape)}")
    whole_floats = np.issubdtype(array.dtype, np.floating) and bool(np.all(np.isfinite(array))) and bool(
        np.all(array == np.rint(array)))
    if not (np.issubdtype(array.dtype, np.integer) or whole_floats):
        raise GankitError(f"text samples must be integer token ids; got dtype {array.dtype}")
    ids = array.astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= vocab):
        raise GankitError(f"token ids must lie in 0..{vocab - 1} (this dataset's vocabulary); got "
                          f"{int(ids.min())}..{int(ids.max())}")
    return torch.from_numpy(ids)


def prepare_real(ids: "torch.Tensor", info: "DataInfo") -> "torch.Tensor":
    """Real ids as float one-hot N×L×V, the form of the generator's soft one-hot output."""
    return one_hot(ids, int(info.vocab_size))


def one_hot(ids: "torch.Tensor", vocab_size: int) -> "torch.Tensor":
    """Token ids N×L as float32 one-hot N×L×V, scattered straight into float32:
    ``F.one_hot`` builds an int64 tensor first, ten times slower for a caption batch at
    vocabulary 3000 (5.4 against 0.5 ms on one thread)."""
    import torch

    ids = ids.long()
    out = torch.zeros(*ids.shape, vocab_size, dtype=torch.float32, device=ids.device)
    return out.scatter_(-1, ids.unsqueeze(-1), 1.0)


def content_ids(batch: "torch.Tensor | np.ndarray", info: "DataInfo") -> list[list[int]]:
    """Each sample's tokens: cut at the first EOS, without PAD and BOS."""
    tokenizer = tokenizer_from_info(info)
    ids = to_numpy(batch)
    before_end = np.cumsum(ids == tokenizer.eos_id, axis=1) == 0
    keep = before_end & (ids != tokenizer.pad_id) & (ids != tokenizer.bos_id)
    return [row[mask].tolist() for row, mask in zip(ids, keep)]


def decode(batch: "torch.Tensor | np.ndarray", info: "DataInfo") -> list[str]:
    """One string per sample (cut at the first EOS, PAD and BOS dropped; UNK shown as
    ``<unk>``)."""
    if len(batch) == 0:
        return []
    return tokenizer_from_info(info).decode(content_ids(batch, info))


def escape_line(text: str) -> str:
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def unescape_line(line: str) -> str:
    out, chars = [], iter(line)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            out.append(_UNESCAPES.get(nxt, "\\" + nxt))
        else:
            out.append(ch)
    return "".join(out)


def _write_lines(texts: list[str], path: Path, mode: str) -> Path:
    with path.open(mode, encoding="utf-8", newline="\n") as handle:
        handle.writelines(escape_line(text) + "\n" for text in texts)
    return path


def write_samples(batch: "torch.Tensor | np.ndarray", out_dir: str | Path, info: "DataInfo",
                  start: int = 0) -> list[Path]:
    """``out_dir/samples.txt``, one decoded sample a line. ``start`` is the index of the
    batch's first sample in that file: 0 starts the file afresh, more appends (so a caller
    writing in chunks gets one file). Returns ``[path]``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [_write_lines(decode(batch, info), out_dir / SAMPLES_FILE, "w" if start == 0 else "a")]


def write_preview(batch: "torch.Tensor | np.ndarray", path: str | Path, info: "DataInfo") -> Path:
    """``path.txt``: the first samples of the batch, one decoded sample a line."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return _write_lines(decode(batch[:PREVIEW_SAMPLES], info), path.with_name(path.name + ".txt"), "w")


def read_samples(path: str | Path) -> list[str]:
    """The samples of a file written by :func:`write_samples` (escapes undone)."""
    text = Path(path).read_text(encoding="utf-8")
    return [unescape_line(line) for line in text.split("\n")[:-1]] if text else []


def write_run_files(run_dir: str | Path, info: "DataInfo") -> Path:
    """``run_dir/tokenizer/``: the run's tokenizer as a ``transformers`` fast tokenizer
    (``PreTrainedTokenizerFast.from_pretrained`` or ``-o tokenizer PATH`` reads it back).
    Returns the folder."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    tokenizer = tokenizer_from_info(info)
    backend = Tokenizer.from_str(tokenizer.tokenizer.to_str())
    names: dict[str, Any] = {"pad_token": backend.id_to_token(tokenizer.pad_id),
                             "eos_token": backend.id_to_token(tokenizer.eos_id),
                             "bos_token": backend.id_to_token(tokenizer.bos_id)}
    if tokenizer.unk_id is not None:
        names["unk_token"] = backend.id_to_token(tokenizer.unk_id)
    wrapper = PreTrainedTokenizerFast(tokenizer_object=backend, model_max_length=int(info.shape[0]), **names)
    folder = Path(run_dir) / "tokenizer"
    wrapper.save_pretrained(str(folder))
    return folder
