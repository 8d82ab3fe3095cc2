"""Property-based checks: whatever text reaches an option, the result is a valid
configuration or a GankitError that names the option — never another exception."""

from __future__ import annotations

import dataclasses

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

from gankit.cli import cli
from gankit.config import TrainConfig, resolve_config
from gankit.errors import GankitError
from gankit.registry import get_registry

OPTIONS = [f.name for f in dataclasses.fields(TrainConfig)
           if f.name not in ("domain", "model", "dataset", "objective", "preset", "out", "data", "resume", "device")]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(name=st.sampled_from(OPTIONS), value=st.one_of(st.text(max_size=12), st.integers(), st.floats(), st.booleans()))
def test_engine_options_convert_or_name_themselves(name, value):
    try:
        resolved = resolve_config(get_registry(), {"domain": "image", name: value})
    except GankitError as error:
        assert repr(name) in str(error) or name in str(error)
    else:
        assert getattr(resolved.train, name) is not None or value is None


@settings(max_examples=25, deadline=None)
@given(key=st.from_regex(r"[a-z][a-z_]{0,10}", fullmatch=True), value=st.text(min_size=1, max_size=8))
def test_cli_rejects_unknown_or_bad_options_in_one_line(key, value):
    result = CliRunner().invoke(cli, ["train", "image", "--steps", "0", "-o", key, value], standalone_mode=False,
                                catch_exceptions=True)
    assert isinstance(result.exception, GankitError), result.exception
    assert "\n" not in str(result.exception)
