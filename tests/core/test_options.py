"""Typed option parsing shared by the CLI, config files and the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest
from hypothesis import given, strategies as st

from gankit.errors import GankitError
from gankit.options import build_options, coerce, option_help


@dataclass(frozen=True)
class Example:
    width: int = field(default=8, metadata={"help": "a width"})
    rate: float = 0.5
    name: str = "x"
    flag: bool = False
    mode: Literal["a", "b"] = "a"
    bits: Literal["32", "bf16", "16"] = "32"
    betas: tuple[float, float] = (0.5, 0.9)
    limit: int | None = None


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [("width", "12", 12), ("width", 12, 12), ("rate", "1e-3", 1e-3), ("rate", 2, 2.0), ("flag", "yes", True),
     ("flag", "false", False), ("mode", "b", "b"), ("bits", 16, "16"), ("betas", "0.0,0.99", (0.0, 0.99)),
     ("betas", [0.1, 0.2], (0.1, 0.2)), ("limit", "none", None), ("limit", "7", 7), ("name", "hello", "hello")],
)
def test_values_are_converted(name, value, expected):
    assert getattr(build_options(Example, {name: value}, what="t"), name) == expected


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [("width", "wide", "expected an integer"), ("width", True, "expected an integer"), ("rate", "fast", "expected a number"),
     ("flag", "maybe", "boolean"), ("mode", "c", "choose one of: a, b"), ("betas", "0.5", "expected 2 values")],
)
def test_bad_values_name_the_option(name, value, message):
    with pytest.raises(GankitError, match=message) as info:
        build_options(Example, {name: value}, what="t")
    assert repr(name) in str(info.value)


def test_unknown_option_lists_valid_ones():
    with pytest.raises(GankitError, match="has no option 'colour'.*width"):
        build_options(Example, {"colour": "red"}, what="model 'x'")


def test_help_rows_carry_type_and_default():
    rows = {row[0]: row for row in option_help(Example)}
    assert rows["width"][1] == "int" and "a width (default: 8)" == rows["width"][2]
    assert rows["mode"][1] == "a|b"


@given(st.integers(min_value=-10**12, max_value=10**12))
def test_integers_round_trip_through_text(number):
    assert coerce("n", int, str(number)) == number


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_round_trip_through_text(number):
    assert coerce("x", float, repr(number)) == number


@given(st.text())
def test_any_text_either_converts_or_raises_a_clear_error(text):
    try:
        coerce("steps", int, text)
    except GankitError as exc:
        assert "'steps'" in str(exc)
