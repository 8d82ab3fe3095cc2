"""How a text model sees its data: :class:`TokenLayout`, read from the dataset's ``DataInfo``.

Shared by the generators and the discriminators; free of torch, and of imports of either.
"""

from __future__ import annotations

from dataclasses import dataclass

from gankit.errors import GankitError
from gankit.specs import DataInfo


@dataclass(frozen=True)
class TokenLayout:
    """What a text model needs to know about the data: vocabulary size, sample length and
    the special token ids (from ``DataInfo``)."""

    vocab_size: int
    length: int
    pad_id: int
    eos_id: int
    bos_id: int

    @classmethod
    def from_info(cls, info: DataInfo, model: str) -> "TokenLayout":
        if len(info.shape) != 1 or info.dtype != "int64":
            raise GankitError(f"model {model!r} needs token ids (int64 samples of shape (length,)); the dataset gives "
                              f"{info.dtype} samples of shape {tuple(info.shape)}")
        if not info.vocab_size or info.vocab_size < 2:
            raise GankitError(f"model {model!r} needs the dataset's vocabulary size (DataInfo.vocab_size), got "
                              f"{info.vocab_size!r}")
        ids = {}
        for key in ("pad_id", "eos_id", "bos_id"):
            value = info.extra.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < info.vocab_size:
                raise GankitError(f"model {model!r} needs DataInfo.extra[{key!r}], a token id below the vocabulary size "
                                  f"{info.vocab_size}; the dataset gives {value!r}")
            ids[key] = value
        return cls(vocab_size=int(info.vocab_size), length=int(info.shape[0]), **ids)
