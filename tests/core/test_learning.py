"""Every objective must learn: on a 2-D Gaussian (mean (2, -1), std (0.5, 0.25)) the
generator's samples end near the target's mean and spread. The generator starts near the
origin with a small spread, so an objective that does not learn fails these bounds."""

from __future__ import annotations

import pytest
import torch

import gankit

MEAN = torch.tensor([2.0, -1.0])
STD = torch.tensor([0.5, 0.25])
MEAN_TOLERANCE = 0.25  # absolute, per coordinate
STD_TOLERANCE = 0.5  # relative, per coordinate

CASES = [
    ("minimax", "auto"),
    ("non-saturating", "auto"),
    ("non-saturating", "r1"),
    ("wgan-gp", "auto"),
    ("wasserstein", "r1"),
    ("hinge", "auto"),
    ("lsgan", "auto"),
    ("rsgan", "auto"),
]


@pytest.mark.parametrize(("objective", "penalty"), CASES)
def test_objective_learns_a_gaussian(gauss_plugin, tmp_path, objective, penalty):
    n_critic = 5 if objective.startswith("w") else 1
    run = gankit.train("gauss", objective=objective, penalty=penalty, n_critic=n_critic, steps=800, ema_decay=0.98,
                       seed=1, out=str(tmp_path / "run"), quiet=True, log_every=100)
    before = gankit.train("gauss", objective=objective, penalty=penalty, steps=1, seed=1,
                          out=str(tmp_path / "untrained"), quiet=True).sample(2000)
    samples = run.sample(2000)
    assert (before.mean(0) - MEAN).abs().max() > MEAN_TOLERANCE  # the test can fail
    mean_error = (samples.mean(0) - MEAN).abs()
    std_error = (samples.std(0) / STD - 1).abs()
    assert mean_error.max() < MEAN_TOLERANCE, f"mean {samples.mean(0).tolist()} vs {MEAN.tolist()}"
    assert std_error.max() < STD_TOLERANCE, f"std {samples.std(0).tolist()} vs {STD.tolist()}"
