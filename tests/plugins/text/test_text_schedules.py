"""Gumbel-softmax temperature schedules: start, midpoint and end of each kind, defaults,
and that they depend on (step, total) alone."""

from __future__ import annotations

import math

import pytest

from gankit.plugins.text.schedules import endpoints, inverse_temperature


def _beta(kind, step, total, temperature=None, beta_max=None):
    return inverse_temperature(kind, step, total, *endpoints(kind, temperature, beta_max))


def test_constant_is_one_over_the_temperature():
    assert [_beta("constant", s, 100) for s in (0, 50, 100)] == [1.0, 1.0, 1.0]
    assert [_beta("constant", s, 100, temperature=0.5) for s in (0, 50, 100)] == [2.0, 2.0, 2.0]
    assert _beta("constant", 50, 100, temperature=0.5, beta_max=9.0) == 2.0  # beta_max plays no part


def test_linear_defaults_to_kusners_ramp():
    assert _beta("linear", 0, 100) == pytest.approx(0.2)  # temperature 5
    assert _beta("linear", 50, 100) == pytest.approx(0.6)
    assert _beta("linear", 100, 100) == pytest.approx(1.0)
    assert _beta("linear", 25, 100, temperature=1.0, beta_max=5.0) == pytest.approx(2.0)


def test_exp_defaults_to_relgan():
    """RelGAN: beta_n = beta_max ** (n / N) with beta_max 100."""
    assert _beta("exp", 0, 1000) == pytest.approx(1.0)
    assert _beta("exp", 500, 1000) == pytest.approx(10.0)
    assert _beta("exp", 1000, 1000) == pytest.approx(100.0)
    for n in (1, 123, 999):
        assert _beta("exp", n, 1000, beta_max=1000.0) == pytest.approx(1000.0 ** (n / 1000))
    assert _beta("exp", 500, 1000, temperature=0.5, beta_max=8.0) == pytest.approx(4.0)  # geometric from beta_0 = 2


@pytest.mark.parametrize("kind", ["linear", "exp"])
def test_monotone_clamped_and_a_pure_function_of_step_and_total(kind):
    values = [_beta(kind, s, 40) for s in range(41)]
    assert values == sorted(values) and values[0] < values[-1]
    assert _beta(kind, 80, 40) == values[-1] and _beta(kind, -5, 40) == values[0]
    assert [_beta(kind, s, 40) for s in range(41)] == values  # no hidden state: a resumed run gets the same values
    assert all(math.isfinite(v) and v > 0 for v in values)


def test_unknown_schedule_is_an_error():
    with pytest.raises(ValueError, match="unknown temperature schedule 'cosine'"):
        endpoints("cosine")
    with pytest.raises(ValueError, match="unknown temperature schedule"):
        inverse_temperature("cosine", 0, 10, 1.0, 2.0)
