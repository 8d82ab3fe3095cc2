"""Gumbel-softmax temperature schedules: pure functions of ``(step, total)``.

A schedule gives the inverse temperature β at adversarial step ``step`` of ``total``
(β = 1/τ; the relaxed token is softmax(β·(logits + Gumbel noise))). Being functions of
the step and the planned total only, which the checkpoint stores, a resumed run follows
the same schedule as an uninterrupted one.

- ``constant``: β = β₀ = 1/temperature.
- ``linear``: β goes linearly from β₀ to β_max; by default 0.2 → 1 (τ 5 → 1), the
  annealing ramp of Kusner & Hernández-Lobato (2016).
- ``exp``: β goes geometrically from β₀ to β_max, β_n = β₀·(β_max/β₀)^(n/N); by default
  β₀ = 1, which is RelGAN's β_n = β_max^(n/N) (Nie et al. 2019) with β_max = 100.
"""

from __future__ import annotations

# (temperature, beta_max) used when the option is left at none, per schedule.
DEFAULTS: dict[str, tuple[float, float | None]] = {
    "constant": (1.0, None),
    "linear": (5.0, 1.0),
    "exp": (1.0, 100.0),
}


def endpoints(kind: str, temperature: float | None = None, beta_max: float | None = None) -> tuple[float, float]:
    """``(β₀, β_max)`` of a schedule, with the schedule's defaults filling what is None."""
    if kind not in DEFAULTS:
        raise ValueError(f"unknown temperature schedule {kind!r}; choose one of: {', '.join(DEFAULTS)}")
    default_temperature, default_beta_max = DEFAULTS[kind]
    beta_start = 1.0 / (temperature if temperature is not None else default_temperature)
    if kind == "constant":
        return beta_start, beta_start
    return beta_start, float(beta_max if beta_max is not None else default_beta_max)


def inverse_temperature(kind: str, step: int, total: int, beta_start: float, beta_max: float) -> float:
    """β at ``step`` (0-based) of ``total`` steps: β₀ at step 0, β_max at step ``total``."""
    fraction = min(max(step / total, 0.0), 1.0) if total > 0 else 1.0
    if kind == "constant":
        return beta_start
    if kind == "linear":
        return beta_start + (beta_max - beta_start) * fraction
    if kind == "exp":
        return beta_start * (beta_max / beta_start) ** fraction
    raise ValueError(f"unknown temperature schedule {kind!r}; choose one of: {', '.join(DEFAULTS)}")
