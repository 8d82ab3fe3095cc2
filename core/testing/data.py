"""Data: :func:`check_dataset`, a dataset's ``info``, items, conditions, ``tensors`` and
``storage``."""

from __future__ import annotations

import json
import numbers
from typing import Any, Mapping

import numpy as np
import torch

from ..conditions import map_condition
from ..specs import DataInfo
from .base import ConformanceError, _require


def _torch_dtype(name: str) -> torch.dtype:
    dtype = getattr(torch, str(name), None)
    _require(isinstance(dtype, torch.dtype), f"DataInfo.dtype {name!r} is not a torch dtype name (float32, int64, ...)")
    return dtype


def _check_values(x: torch.Tensor, info: DataInfo, what: str) -> None:
    if x.is_floating_point():
        _require(torch.isfinite(x).all(), f"{what} has NaN or infinite values")
    if info.value_range is not None and x.numel():
        low, high = info.value_range
        tol = 1e-4 * max(1.0, high - low)
        _require(float(x.min()) >= low - tol and float(x.max()) <= high + tol,
                 f"{what} has values in [{float(x.min()):.4g}, {float(x.max()):.4g}], outside "
                 f"DataInfo.value_range {tuple(info.value_range)}")


def _condition_form(cond: Any, info: DataInfo, what: str) -> tuple[Any, ...]:
    """What kind of condition one item carries, as a comparable value: ``("class",)``,
    ``("tensor", shape, dtype)`` or ``("dict", ((key, shape, dtype), ...))``; checks a class
    against ``info.num_classes`` and a tensor's values on the way."""
    if isinstance(cond, bool) or (isinstance(cond, torch.Tensor) and cond.dtype == torch.bool):
        raise ConformanceError(f"{what} is a bool; a condition is an integer class (-1: unlabelled), a float or "
                               f"integer tensor, or a dict of such tensors")
    if isinstance(cond, numbers.Integral) or (isinstance(cond, torch.Tensor) and cond.dim() == 0
                                              and not cond.is_floating_point() and not cond.is_complex()):
        _check_label(int(cond), info, what)
        return ("class",)
    if isinstance(cond, torch.Tensor):
        return ("tensor", *_tensor_form(cond, what))
    if isinstance(cond, Mapping):
        _require(cond and all(isinstance(key, str) for key in cond),
                 f"{what} is a dict; a dict condition needs at least one entry, each keyed by a string")
        return ("dict", tuple((key, *_tensor_form(cond[key], f"{what}[{key!r}]")) for key in sorted(cond)))
    raise ConformanceError(f"{what} must be an integer class (-1: unlabelled), a tensor or a dict of tensors, got "
                           f"{type(cond).__name__} {cond!r:.80}")


def _tensor_form(tensor: Any, what: str) -> tuple[tuple[int, ...], torch.dtype]:
    _require(isinstance(tensor, torch.Tensor), f"{what} must be a tensor, got {type(tensor).__name__}")
    _require(not tensor.is_complex() and tensor.dtype != torch.bool,
             f"{what} has dtype {tensor.dtype}; a condition tensor holds floats or integers")
    _require(not tensor.is_floating_point() or bool(torch.isfinite(tensor).all()), f"{what} has NaN or infinite values")
    return tuple(tensor.shape), tensor.dtype


def _form_text(form: tuple[Any, ...]) -> str:
    if form[0] == "class":
        return "an integer class"
    if form[0] == "tensor":
        return f"a tensor of shape {form[1]} and dtype {form[2]}"
    return "a dict {" + ", ".join(f"{key!r}: {shape} {dtype}" for key, shape, dtype in form[1]) + "}"


def _same_condition(a: Any, b: Any) -> bool:
    if isinstance(a, Mapping):
        return isinstance(b, Mapping) and set(a) == set(b) and all(_same_condition(a[k], b[k]) for k in a)
    return bool(torch.equal(torch.as_tensor(a), torch.as_tensor(b)))


def check_dataset(dataset: Any, *, samples: int = 4) -> None:
    """The dataset describes itself in a JSON-serialisable ``info`` (:class:`DataInfo`) and
    its items are ``(x, cond)``: ``x`` of ``info.shape``/``info.dtype``, finite, within
    ``info.value_range``; ``cond`` an integer class in ``[0, num_classes)`` or -1, a float or
    integer tensor, or a dict of such tensors, of the same form (keys, shapes, dtypes) for
    every item, since the engine stacks them into batches. An in-memory ``tensors =
    (x_all, cond_all)``, and a compact ``storage`` with its ``decode``, agree with the items."""
    info = getattr(dataset, "info", None)
    _require(isinstance(info, DataInfo), f"the dataset needs an `info` attribute holding a gankit.specs.DataInfo, "
                                         f"got {type(info).__name__}")
    shape = tuple(info.shape)
    _require(shape and all(isinstance(s, int) and s > 0 for s in shape), f"DataInfo.shape {shape} must be positive ints")
    dtype = _torch_dtype(info.dtype)
    _require(info.value_range is None or (len(info.value_range) == 2 and info.value_range[0] < info.value_range[1]),
             f"DataInfo.value_range must be None or (low, high) with low < high, got {info.value_range!r}")
    _require(isinstance(info.num_classes, int) and info.num_classes >= 0, "DataInfo.num_classes must be an int >= 0")
    try:
        json.dumps(info.to_dict())
    except (TypeError, ValueError) as exc:
        raise ConformanceError(f"DataInfo must be JSON-serialisable (it goes into config.json and checkpoints): {exc}")
    size = len(dataset)
    _require(size >= 1, "the dataset is empty")
    description = getattr(dataset, "description", None)
    _require(description is None or isinstance(description, str), "the dataset's `description` must be a string")
    indices = sorted(set(np.linspace(0, size - 1, num=min(max(samples, 2), size)).round().astype(int).tolist()))
    items: dict[int, tuple[torch.Tensor, Any]] = {}
    first: tuple[int, tuple[Any, ...]] | None = None
    for i in indices:
        item = dataset[i]
        _require(isinstance(item, (tuple, list)) and len(item) == 2, f"dataset[{i}] must be a pair (x, cond), got "
                                                                     f"{type(item).__name__}")
        x, cond = item
        _require(isinstance(x, torch.Tensor), f"dataset[{i}][0] must be a tensor, got {type(x).__name__}")
        _require(tuple(x.shape) == shape, f"dataset[{i}][0] has shape {tuple(x.shape)}, but DataInfo.shape is {shape}")
        _require(x.dtype == dtype, f"dataset[{i}][0] has dtype {x.dtype}, but DataInfo.dtype is {info.dtype!r}")
        _check_values(x, info, f"dataset[{i}][0]")
        form = _condition_form(cond, info, f"dataset[{i}][1]")
        if first is None:
            first = (i, form)
        _require(form == first[1], f"dataset[{i}][1] is {_form_text(form)}, but dataset[{first[0]}][1] is "
                                   f"{_form_text(first[1])}: every item's condition must have the same form (keys, "
                                   f"shapes, dtypes), since the engine stacks them into batches")
        items[i] = (x, cond)
    assert first is not None
    tensors = getattr(dataset, "tensors", None)
    if tensors is not None:
        _check_all(tensors, "tensors", items, first[1], size, shape, info)
        _check_values(tensors[0], info, "dataset.tensors[0]")
    if getattr(dataset, "storage", None) is not None:
        _check_storage(dataset, items, first[1], info)


def _check_storage(dataset: Any, items: Mapping[int, tuple[torch.Tensor, Any]], form: tuple[Any, ...],
                   info: DataInfo) -> None:
    """A compact ``storage`` (stored rows, conditions) and its ``decode`` agree with the
    items checked (``items``: index → item)."""
    storage, size, shape, dtype = dataset.storage, len(dataset), tuple(info.shape), _torch_dtype(info.dtype)
    indices = sorted(items)
    _require(callable(getattr(dataset, "decode", None)),
             "a dataset with `storage` needs `decode(stored_rows)`, which turns stored rows into canonical ones")
    _require(isinstance(storage, (tuple, list)) and len(storage) == 2,
             "dataset.storage must be (stored_x, cond_all)")
    stored = storage[0]
    _require(isinstance(stored, torch.Tensor) and stored.shape[0] == size,
             f"dataset.storage[0] must be a tensor of {size} stored rows")
    decoded = dataset.decode(stored[torch.as_tensor(indices)])
    expected = torch.stack([items[i][0] for i in indices])
    _require(isinstance(decoded, torch.Tensor) and decoded.shape == expected.shape and decoded.dtype == dtype,
             f"dataset.decode(storage[0][rows]) must give canonical rows of shape {tuple(expected.shape)} and "
             f"dtype {dtype}, got {getattr(decoded, 'dtype', type(decoded).__name__)} "
             f"{tuple(getattr(decoded, 'shape', ()))}")
    _require(torch.allclose(decoded.float(), expected.float(), atol=1e-6),
             "dataset.decode(storage[0][rows]) differs from the items dataset[row][0]")
    _check_all((decoded, storage[1]), "storage", {}, form, size, shape, info, check_x=False)
    for i in indices:
        _require(_same_condition(_rows_of(storage[1], i), items[i][1]),
                 f"dataset.storage[1] row {i} differs from dataset[{i}][1]")


def _rows_of(cond_all: Any, i: int) -> Any:
    return map_condition(lambda t: t[i], cond_all)


def _check_all(pair: Any, name: str, items: Mapping[int, tuple[torch.Tensor, Any]], form: tuple[Any, ...], size: int,
               shape: tuple[int, ...], info: DataInfo, *, check_x: bool = True) -> None:
    """``dataset.tensors`` (or ``storage``): every sample and condition at once, agreeing
    with the items' form and (for ``items``) values."""
    _require(isinstance(pair, (tuple, list)) and len(pair) == 2, f"dataset.{name} must be (x_all, cond_all)")
    x_all, cond_all = pair
    if check_x:
        _require(isinstance(x_all, torch.Tensor) and tuple(x_all.shape) == (size, *shape),
                 f"dataset.{name}[0] has shape {tuple(getattr(x_all, 'shape', ()))}, expected {(size, *shape)}")
    what = f"dataset.{name}[1]"
    if form[0] == "class":
        _require(isinstance(cond_all, torch.Tensor) and tuple(cond_all.shape) == (size,)
                 and not cond_all.is_floating_point() and cond_all.dtype != torch.bool,
                 f"{what} must hold {size} integer labels, got {getattr(cond_all, 'dtype', type(cond_all).__name__)} "
                 f"of shape {tuple(getattr(cond_all, 'shape', ()))}")
        _check_label(int(cond_all.min()), info, what)
        _check_label(int(cond_all.max()), info, what)
    elif form[0] == "tensor":
        _require(isinstance(cond_all, torch.Tensor) and tuple(cond_all.shape) == (size, *form[1])
                 and cond_all.dtype == form[2],
                 f"{what} must be a {form[2]} tensor of shape {(size, *form[1])} (the items' conditions stacked), "
                 f"got {getattr(cond_all, 'dtype', type(cond_all).__name__)} {tuple(getattr(cond_all, 'shape', ()))}")
    else:
        keys = [key for key, _, _ in form[1]]
        _require(isinstance(cond_all, Mapping) and sorted(cond_all) == keys,
                 f"{what} must be a dict with the items' keys {keys}, got "
                 f"{sorted(cond_all) if isinstance(cond_all, Mapping) else type(cond_all).__name__}")
        for key, key_shape, key_dtype in form[1]:
            value = cond_all[key]
            _require(isinstance(value, torch.Tensor) and tuple(value.shape) == (size, *key_shape)
                     and value.dtype == key_dtype,
                     f"{what}[{key!r}] must be a {key_dtype} tensor of shape {(size, *key_shape)}, got "
                     f"{getattr(value, 'dtype', type(value).__name__)} {tuple(getattr(value, 'shape', ()))}")
    for i, (x, cond) in items.items():
        _require(torch.equal(x_all[i], x), f"dataset.{name}[0][{i}] differs from dataset[{i}][0]")
        _require(_same_condition(_rows_of(cond_all, i), cond),
                 f"dataset.{name}[1] row {i} differs from dataset[{i}][1]")


def _check_label(y: int, info: DataInfo, what: str) -> None:
    if info.num_classes == 0:
        _require(y == -1, f"{what} is {y}, but unlabelled data (DataInfo.num_classes 0) must use -1")
    else:
        _require(y == -1 or 0 <= y < info.num_classes, f"{what} is {y}, outside [0, {info.num_classes}) and not -1")
