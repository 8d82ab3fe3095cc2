"""Typed options: turning ``-o KEY VALUE`` strings, config-file values and API keywords
into the fields of an options dataclass, with errors that name the option and what is
allowed.

Plugins declare their options with :func:`option` (a default, help text and optional
bounds) and call :func:`check_bounds` in ``__post_init__``; :func:`require_positive` and
:func:`require_range` check values that no single field's bounds describe.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import operator
import types
import typing
from typing import Any, Literal, Mapping, get_args, get_origin

from .errors import GankitError

__all__ = ["OptionError", "build_options", "check_bounds", "coerce", "describe_type", "field_types", "fields_of",
           "option", "option_help", "options_to_dict", "require_positive", "require_range"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_BOUNDS = ("ge", "gt", "le", "lt")


class OptionError(GankitError, ValueError):
    """An option value outside what its field allows. A ``ValueError`` too: raised in an
    options dataclass's ``__post_init__``, :func:`build_options` reports it with the name of
    the model or dataset that owns the option, as it does any ``ValueError`` there."""


def option(default: Any, help: str, *, ge: float | None = None, gt: float | None = None,
           le: float | None = None, lt: float | None = None) -> Any:
    """A field of a plugin's frozen options dataclass: ``hidden: int = option(64, "width", ge=1)``.

    ``help`` is the text ``gankit train DOMAIN --help`` shows for ``-o NAME VALUE``. The
    bounds (``ge`` >=, ``gt`` >, ``le`` <=, ``lt`` <) are checked by :func:`check_bounds`
    (call it in ``__post_init__``) and by :func:`build_options`; a field typed ``int`` must
    then hold an integer, any other a finite number; ``None`` passes when the type allows
    it (``int | None``). The default must be immutable (a tuple, not a list).
    """
    if not isinstance(help, str) or not help.strip():
        raise GankitError(f"option({default!r}, ...) has no help text; pass what the option does, which "
                          f"`gankit train DOMAIN --help` shows")
    bounds = {key: value for key, value in zip(_BOUNDS, (ge, gt, le, lt)) if value is not None}
    return dataclasses.field(default=default, metadata={"help": help, **bounds})


def check_bounds(options: Any) -> None:
    """Check every field declared with bounds by :func:`option`; raises :class:`OptionError`
    naming the first field out of bounds."""
    for name, integer, optional, bounds in _bounded_fields(type(options)):
        value = getattr(options, name)
        if value is not None or not optional:
            require_range(name, value, integer=integer, **bounds)


@functools.lru_cache(maxsize=None)
def _bounded_fields(options_type: type) -> tuple[tuple[str, bool, bool, dict[str, float]], ...]:
    """(name, integer, optional, bounds) of each field declared with bounds."""
    bounded = [(f.name, {key: f.metadata[key] for key in _BOUNDS if key in f.metadata})
               for f in dataclasses.fields(options_type)]
    bounded = [(name, bounds) for name, bounds in bounded if bounds]
    if not bounded:
        return ()
    types_by_name = field_types(options_type)
    rows = []
    for name, bounds in bounded:
        annotation = types_by_name[name]
        optional = get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in get_args(annotation)
        kinds = [a for a in get_args(annotation) if a is not type(None)] if optional else [annotation]
        rows.append((name, all(kind is int for kind in kinds), optional, bounds))
    return tuple(rows)


def require_positive(name: str, value: Any) -> None:
    """Raise :class:`OptionError` unless ``value`` is an integer > 0 (``True`` is not one)."""
    require_range(name, value, integer=True, ge=1)


def require_range(name: str, value: Any, *, integer: bool = False, ge: float | None = None, gt: float | None = None,
                  le: float | None = None, lt: float | None = None) -> None:
    """Raise :class:`OptionError` unless ``value`` is an integer (``integer=True``) or a
    finite number, within the given bounds: ``require_range("dropout", p, ge=0, lt=1)``."""
    if integer:
        typed = isinstance(value, int) and not isinstance(value, bool)
    else:
        typed = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    inside = typed and all(bound is None or holds(value, bound) for bound, holds in (
        (ge, operator.ge), (gt, operator.gt), (le, operator.le), (lt, operator.lt)))
    if not inside:
        raise OptionError(f"{name} must be {_describe_range(integer, ge, gt, le, lt)}, got {value!r}")


def _describe_range(integer: bool, ge: float | None, gt: float | None, le: float | None, lt: float | None) -> str:
    noun = "an integer" if integer else "a number"
    upper = le is not None or lt is not None
    if not upper and ((integer and ge == 1) or gt == 0):
        return "a positive integer" if integer else "a positive number"
    low = f"[{ge}" if ge is not None else f"({gt}" if gt is not None else None
    high = f"{le}]" if le is not None else f"{lt})" if lt is not None else None
    if low and high:
        return f"{noun} in {low}, {high}"
    if low:
        return f"{noun} {'>=' if ge is not None else '>'} {low[1:]}"
    if high:
        return f"{noun} {'<=' if le is not None else '<'} {high[:-1]}"
    return noun


def fields_of(options_type: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(options_type)}


def field_types(options_type: type) -> dict[str, Any]:
    hints = typing.get_type_hints(options_type)
    return {name: hints[name] for name in fields_of(options_type)}


def describe_type(annotation: Any) -> str:
    """A short human description of a type, for help text and errors."""
    origin = get_origin(annotation)
    if origin is Literal:
        return "|".join(str(a) for a in get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        parts = [describe_type(a) for a in get_args(annotation) if a is not type(None)]
        return " or ".join(parts) + " (or none)" if type(None) in get_args(annotation) else " or ".join(parts)
    if origin is tuple:
        return "pair of " + describe_type(get_args(annotation)[0]) if len(get_args(annotation)) == 2 else "tuple"
    return getattr(annotation, "__name__", str(annotation))


def coerce(name: str, annotation: Any, value: Any) -> Any:
    """Convert ``value`` (a string from the CLI, or a Python/JSON/TOML value) to
    ``annotation``. Raises :class:`GankitError` naming ``name`` when it does not fit."""
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return _coerce_union(name, annotation, value)
    if origin is Literal:
        return _coerce_literal(name, get_args(annotation), value)
    if origin is tuple:
        return _coerce_tuple(name, get_args(annotation), value)
    if annotation in _SCALARS:
        return _SCALARS[annotation](name, value)
    if isinstance(value, annotation):
        return value
    raise GankitError(f"option {name!r}: cannot use {value!r} as {describe_type(annotation)}")


def _coerce_union(name: str, annotation: Any, value: Any) -> Any:
    args = get_args(annotation)
    if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
        if type(None) in args:
            return None
    for arg in args:
        if arg is type(None):
            continue
        try:
            return coerce(name, arg, value)
        except GankitError:
            pass
    raise GankitError(f"option {name!r}: {value!r} is not a {describe_type(annotation)}")


def _coerce_literal(name: str, choices: tuple[Any, ...], value: Any) -> Any:
    for choice in choices:
        if value == choice or str(choice) == str(value).strip():
            return choice
    raise GankitError(f"option {name!r}: {value!r} is not allowed; choose one of: {', '.join(str(a) for a in choices)}")


def _coerce_tuple(name: str, args: tuple[Any, ...], value: Any) -> tuple[Any, ...]:
    items = _split_sequence(name, value)
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(coerce(name, args[0], item) for item in items)
    if len(items) != len(args):
        raise GankitError(f"option {name!r}: expected {len(args)} values separated by commas, got {value!r}")
    return tuple(coerce(name, arg, item) for arg, item in zip(args, items))


def _to_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise GankitError(f"option {name!r}: {value!r} is not a boolean; use true or false")


def _to_int(name: str, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise GankitError(f"option {name!r}: expected an integer, got {value!r}")


def _to_float(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise GankitError(f"option {name!r}: expected a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise GankitError(f"option {name!r}: expected a number, got {value!r}") from None


def _to_str(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise GankitError(f"option {name!r}: expected text, got {value!r}")


_SCALARS = {bool: _to_bool, int: _to_int, float: _to_float, str: _to_str}


def _split_sequence(name: str, value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        return [part.strip() for part in value.strip("()[] ").split(",") if part.strip()]
    raise GankitError(f"option {name!r}: expected values separated by commas, got {value!r}")


def build_options(options_type: type, values: Mapping[str, Any], *, what: str) -> Any:
    """An instance of ``options_type`` from ``values`` (unknown keys are an error that lists
    the valid ones). ``what`` names the owner in messages ("model 'mlp'")."""
    types_by_name = field_types(options_type)
    unknown = sorted(set(values) - set(types_by_name))
    if unknown:
        valid = ", ".join(sorted(types_by_name)) or "(none)"
        raise GankitError(f"{what} has no option {unknown[0]!r}; its options are: {valid}")
    converted = {name: coerce(name, types_by_name[name], value) for name, value in values.items()}
    try:
        options = options_type(**converted)
        check_bounds(options)
    except (ValueError, TypeError) as exc:
        raise GankitError(f"{what}: {exc}") from None
    return options


def options_to_dict(options: Any) -> dict[str, Any]:
    """A JSON-friendly dict of a dataclass instance (tuples become lists)."""
    return {f.name: _plain(getattr(options, f.name)) for f in dataclasses.fields(options)}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def option_help(options_type: type) -> list[tuple[str, str, str]]:
    """(name, type, default and description) for each option, for --help and docs. The
    description is the field's ``metadata['help']``."""
    rows = []
    types_by_name = field_types(options_type)
    for f in dataclasses.fields(options_type):
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None  # type: ignore[misc]
        )
        text = f.metadata.get("help", "")
        rows.append((f.name, describe_type(types_by_name[f.name]), f"{text} (default: {default})".strip()))
    return rows
