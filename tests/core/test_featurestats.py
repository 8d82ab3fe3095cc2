"""gankit.featurestats: the feature-space statistics every domain's metrics share, against
closed forms, and the per-tensor feature memo. (The image tests check the same functions
through gankit.plugins.image.metrics, which re-exports them.)"""

from __future__ import annotations

import gc

import numpy as np
import pytest
import torch

from gankit import featurestats as fs
from gankit.errors import GankitError


def test_gaussian_is_the_mean_and_unbiased_covariance():
    x = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    mu, sigma = fs.gaussian(x)
    assert mu.dtype == torch.float64 and sigma.shape == (4, 4)
    np.testing.assert_allclose(mu.numpy(), x.double().numpy().mean(0), atol=1e-12)
    np.testing.assert_allclose(sigma.numpy(), np.cov(x.double().numpy().T, ddof=1), atol=1e-12)
    assert fs.gaussian(x[:, :1])[1].shape == (1, 1)  # one feature: still a matrix


def test_frechet_distance_of_independent_gaussians_is_the_sum_over_dimensions():
    # Diagonal covariances: sum over dimensions of (mu1 - mu2)^2 + (s1 - s2)^2.
    mu1, mu2 = torch.tensor([0.0, 1.0, -2.0]), torch.tensor([1.0, 1.0, 0.0])
    s1, s2 = torch.tensor([1.0, 4.0, 0.25]), torch.tensor([4.0, 1.0, 0.25])
    expected = float(((mu1 - mu2) ** 2).sum() + ((s1 - s2) ** 2).sum())
    got = fs.frechet_distance(mu1, torch.diag(s1 ** 2), mu2, torch.diag(s2 ** 2))
    assert got == pytest.approx(expected, rel=1e-12)
    assert fs.frechet_distance(mu1, torch.diag(s1 ** 2), mu1, torch.diag(s1 ** 2)) == pytest.approx(0, abs=1e-12)


def test_feature_frechet_distance_separates_samples_of_two_gaussians():
    rng = torch.Generator().manual_seed(0)
    a, b = torch.randn(2000, 3, generator=rng), torch.randn(2000, 3, generator=rng)
    assert fs.feature_frechet_distance(a, a) == pytest.approx(0, abs=1e-9)
    near = fs.feature_frechet_distance(a, b)
    shifted = fs.feature_frechet_distance(a, b + torch.tensor([2.0, 0.0, 0.0]))
    assert near < 0.02 and shifted == pytest.approx(4 + near, abs=0.1)


def test_kernel_distance_is_about_zero_for_one_distribution_and_seeded():
    rng = torch.Generator().manual_seed(0)
    a, b = torch.randn(400, 8, generator=rng), torch.randn(400, 8, generator=rng)
    same, spread = fs.kernel_distance(a, b, subsets=20, subset_size=100, seed=3)
    far, _ = fs.kernel_distance(a, b + 1, subsets=20, subset_size=100, seed=3)
    assert abs(same) < 3 * spread + 1e-3 and far > 20 * abs(same)
    assert fs.kernel_distance(a, b, subsets=20, subset_size=100, seed=3) == (same, spread)
    with pytest.raises(GankitError, match="at least 2"):
        fs.kernel_distance(a, b, subsets=1, subset_size=1)


def test_score_from_probs_counts_the_classes_used():
    ten = torch.eye(10, dtype=torch.float64).repeat(4, 1)
    assert fs.score_from_probs(ten, 1) == pytest.approx((10, 0))
    two = torch.eye(10, dtype=torch.float64)[torch.arange(40) % 2]  # confident, but only 2 classes used
    assert fs.score_from_probs(two, 4)[0] == pytest.approx(2)
    unsure = torch.full((40, 10), 0.1, dtype=torch.float64)
    assert fs.score_from_probs(unsure, 4) == pytest.approx((1, 0))


def test_precision_recall_of_a_subset_and_a_cluster():
    real = torch.randn(300, 2, generator=torch.Generator().manual_seed(0))
    part = fs.precision_recall(real, real[real[:, 0] > 0.5].clone())  # the generator covers a third
    assert part["precision"] == 1 and part["recall"] < 0.6
    cluster = fs.precision_recall(real, real[:1].repeat(100, 1) + 1e-3)  # mode collapse
    assert cluster["recall"] < 0.05 and cluster["coverage"] < 0.05


def test_feature_memo_computes_once_per_live_unchanged_tensor():
    memo = fs.FeatureMemo(size=2)
    calls = []

    def compute(x):
        return lambda: calls.append(1) or x.sum()

    x, y, z = torch.ones(3), torch.zeros(3), torch.full((3,), 2.0)
    assert memo.get("net", x, compute(x)) == 3 and memo.get("net", x, compute(x)) == 3
    assert len(calls) == 1
    memo.get("other-net", x, compute(x))  # another network: its own entry
    assert len(calls) == 2
    x.mul_(2)  # changed in place: stale
    assert memo.get("net", x, compute(x)) == 6 and len(calls) == 3
    memo.get("net", y, compute(y))
    memo.get("net", z, compute(z))  # size 2: the oldest entries go
    memo.get("net", x, compute(x))
    assert len(calls) == 6
    memo.clear()
    memo.get("net", z, compute(z))
    assert len(calls) == 7


def test_feature_memo_is_not_fooled_by_a_reused_id():
    memo = fs.FeatureMemo()
    x = torch.ones(3)
    memo.get("net", x, lambda: "first")
    key = id(x)
    del x
    gc.collect()
    for _ in range(100):  # a new tensor may get the freed id
        y = torch.zeros(3)
        if id(y) == key:
            break
    assert memo.get("net", y, lambda: "second") == "second"
