"""Typed options: turning ``-o KEY VALUE`` strings, config-file values and API keywords
into the fields of an options dataclass, with errors that name the option and what is
allowed."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, Mapping, get_args, get_origin

from .errors import GankitError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


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
    args = get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in args:
                return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(name, arg, value)
            except GankitError as exc:
                errors.append(str(exc))
        raise GankitError(f"option {name!r}: {value!r} is not a {describe_type(annotation)}")
    if origin is Literal:
        for choice in args:
            if value == choice or str(choice) == str(value).strip():
                return choice
        raise GankitError(f"option {name!r}: {value!r} is not allowed; choose one of: {', '.join(str(a) for a in args)}")
    if origin is tuple:
        items = _split_sequence(name, value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(name, args[0], item) for item in items)
        if len(items) != len(args):
            raise GankitError(f"option {name!r}: expected {len(args)} values separated by commas, got {value!r}")
        return tuple(coerce(name, arg, item) for arg, item in zip(args, items))
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise GankitError(f"option {name!r}: {value!r} is not a boolean; use true or false")
    if annotation is int:
        if isinstance(value, bool):
            raise GankitError(f"option {name!r}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise GankitError(f"option {name!r}: expected an integer, got {value!r}")
    if annotation is float:
        if isinstance(value, bool):
            raise GankitError(f"option {name!r}: expected a number, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return float(value)
        except (TypeError, ValueError):
            raise GankitError(f"option {name!r}: expected a number, got {value!r}") from None
    if annotation is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise GankitError(f"option {name!r}: expected text, got {value!r}")
    if isinstance(value, annotation):
        return value
    raise GankitError(f"option {name!r}: cannot use {value!r} as {describe_type(annotation)}")


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
        return options_type(**converted)
    except (ValueError, TypeError) as exc:
        raise GankitError(f"{what}: {exc}") from None


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
