"""Options: a model's and a dataset's options are documented frozen dataclasses that parse
from ``-o KEY VALUE`` back to their defaults."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..errors import GankitError
from ..options import coerce, field_types
from ..registry import get_registry
from .base import ConformanceError, _require


def _cli_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return ",".join(_cli_text(v) for v in value)
    return repr(value) if isinstance(value, float) else str(value)


def check_options(domain: str, model: str, dataset: str) -> None:
    """Every option of the model and the dataset is a field of a frozen dataclass with a
    default and a help text, parses from its ``-o KEY VALUE`` text back to its default, has
    a name no engine option shadows, and is listed by ``gankit train DOMAIN --help``."""
    from click.testing import CliRunner

    from ..cli import cli
    from ..config import ENGINE_KEYS, resolve_config

    registry = get_registry()
    specs = {"model": registry.model(domain, model), "dataset": registry.dataset(domain, dataset)}
    result = CliRunner().invoke(cli, ["train", domain, "--help"], catch_exceptions=False)
    _require(result.exit_code == 0, f"`gankit train {domain} --help` failed:\n{result.output}")
    for kind, spec in specs.items():
        what = f"{kind} {spec.name!r}"
        options_type = spec.options
        _require(dataclasses.is_dataclass(options_type), f"{what}: options must be a dataclass, got {options_type!r}")
        _require(options_type.__dataclass_params__.frozen,
                 f"{what}: make the options dataclass frozen (@dataclass(frozen=True))")
        types_by_name = field_types(options_type)
        try:
            defaults = options_type()
        except (TypeError, ValueError) as exc:
            raise ConformanceError(f"{what}: the options must build from their defaults alone (every field needs a "
                                   f"valid default; users set only what they change): {exc}") from None
        _require(spec.name in result.output, f"{what} is not listed by `gankit train {domain} --help`")
        for f in dataclasses.fields(options_type):
            option = f"{what} option {f.name!r}"
            _require(f.name not in ENGINE_KEYS, f"{option} has the name of an engine option, so it can never be set; "
                                                f"rename it (e.g. data_{f.name})")
            _require(str(f.metadata.get("help", "")).strip(), f"{option} has no help text: "
                                                              f"field(default=..., metadata={{'help': '...'}})")
            default = getattr(defaults, f.name)
            text = _cli_text(default)
            try:
                parsed = coerce(f.name, types_by_name[f.name], text)
                resolved = resolve_config(registry, {"domain": domain, "model": model, "dataset": dataset, f.name: text})
            except GankitError as exc:
                raise ConformanceError(f"{option}: its default {default!r} given as `-o {f.name} {text}` does not "
                                       f"parse: {exc}") from None
            value = getattr(resolved.model_options if kind == "model" else resolved.dataset_options, f.name)
            _require(parsed == default and value == default,
                     f"{option}: `-o {f.name} {text}` gives {value!r}, not the default {default!r}")
            _require(f"-o {f.name} " in result.output, f"{option} is not shown by `gankit train {domain} --help`")
