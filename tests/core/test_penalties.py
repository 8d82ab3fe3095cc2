"""Gradient penalty and R1: exact values on linear critics, backpropagation into D,
shapes, labels, the interpolation, the penalty table and the BatchNorm check."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gankit.errors import GankitError
from gankit.penalties import PENALTIES, Penalty, compute_penalty, gradient_penalty, has_batchnorm, r1_penalty

SAMPLE_SHAPES = {
    "2-D N×F": (5,),
    "3-D N×1×T": (1, 16),
    "3-D N×L×V": (6, 7),
    "4-D N×C×H×W": (3, 4, 4),
}


class LinearCritic(nn.Module):
    """D(x) = w·x per sample, so ∇ₓD = w everywhere; records the labels it was given."""

    def __init__(self, sample_shape: tuple[int, ...], seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w = nn.Parameter(torch.randn(sample_shape, generator=g) * 0.4)
        self.seen_labels: list = []

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        self.seen_labels.append(labels)
        return (x * self.w).flatten(1).sum(1, keepdim=True)


class SquareCritic(nn.Module):
    """D(x) = ½‖x‖², so ∇ₓD = x: the penalty reveals where it was evaluated."""

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return 0.5 * x.flatten(1).pow(2).sum(1)


def batches(shape: tuple[int, ...], n: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn((n, *shape), generator=g), torch.randn((n, *shape), generator=g)


@pytest.mark.parametrize("shape", SAMPLE_SHAPES.values(), ids=SAMPLE_SHAPES.keys())
def test_gradient_penalty_of_linear_critic_is_exact_and_backpropagates(shape):
    d = LinearCritic(shape)
    real, fake = batches(shape)
    penalty = gradient_penalty(d, real, fake)
    w = d.w.detach()
    norm = w.norm()
    assert penalty.shape == ()
    assert penalty.item() == pytest.approx(((norm - 1) ** 2).item(), rel=1e-5)
    penalty.backward()
    assert d.w.grad is not None
    torch.testing.assert_close(d.w.grad, 2 * (norm - 1) * w / norm)


@pytest.mark.parametrize("shape", SAMPLE_SHAPES.values(), ids=SAMPLE_SHAPES.keys())
def test_r1_of_linear_critic_is_exact_and_backpropagates(shape):
    d = LinearCritic(shape)
    real, _ = batches(shape)
    penalty = r1_penalty(d, real)
    w = d.w.detach()
    assert penalty.shape == ()
    assert penalty.item() == pytest.approx(0.5 * w.pow(2).sum().item(), rel=1e-5)
    penalty.backward()
    torch.testing.assert_close(d.w.grad, w)


def test_gradient_penalty_interpolates_per_sample_with_the_given_generator():
    real, fake = batches((3, 4, 4), n=6)
    value = gradient_penalty(SquareCritic(), real, fake, generator=torch.Generator().manual_seed(7))
    alpha = torch.rand((6, 1, 1, 1), generator=torch.Generator().manual_seed(7))
    mixed = real + alpha * (fake - real)
    expected = ((mixed.flatten(1).norm(dim=1) - 1) ** 2).mean()
    assert value.item() == pytest.approx(expected.item(), rel=1e-5)
    again = gradient_penalty(SquareCritic(), real, fake, generator=torch.Generator().manual_seed(7))
    assert again.item() == value.item()


def test_inputs_are_detached():
    g = nn.Linear(3, 5)
    d = LinearCritic((5,))
    fake = g(torch.randn(4, 3))
    real = torch.randn(4, 5, requires_grad=True)
    (gradient_penalty(d, real, fake) + r1_penalty(d, real)).backward()
    assert g.weight.grad is None and real.grad is None
    assert d.w.grad is not None


def test_zero_gradient_gives_finite_penalty_gradients():
    d = LinearCritic((5,))
    with torch.no_grad():
        d.w.zero_()
    real, fake = batches((5,))
    penalty = gradient_penalty(d, real, fake)
    assert penalty.item() == pytest.approx(1.0)
    penalty.backward()
    assert torch.isfinite(d.w.grad).all()


@pytest.mark.parametrize("name", sorted(PENALTIES))
def test_labels_are_passed_to_the_discriminator(name):
    d = LinearCritic((5,))
    real, fake = batches((5,))
    labels = torch.tensor([0, 1, 2, 3])
    compute_penalty(name, d, real, fake, labels)
    assert d.seen_labels and all(seen is labels for seen in d.seen_labels)


def test_compute_penalty_dispatches_with_the_generator():
    d = LinearCritic((3, 4, 4))
    real, fake = batches((3, 4, 4))
    assert compute_penalty("r1", d, real, None).item() == pytest.approx(r1_penalty(d, real).item())
    via_table = compute_penalty("gp", SquareCritic(), real, fake, generator=torch.Generator().manual_seed(3))
    direct = gradient_penalty(SquareCritic(), real, fake, generator=torch.Generator().manual_seed(3))
    assert via_table.item() == direct.item()
    with pytest.raises(ValueError, match="fake"):
        compute_penalty("gp", d, real, None)


def test_unknown_penalty_lists_the_valid_names():
    with pytest.raises(GankitError, match="unknown penalty 'l2'.*gp, r1"):
        compute_penalty("l2", LinearCritic((5,)), *batches((5,)))


def test_penalty_table():
    assert set(PENALTIES) == {"gp", "r1"}
    assert all(isinstance(p, Penalty) and p.name == key and p.description for key, p in PENALTIES.items())
    assert PENALTIES["gp"].default_weight == 10.0 and PENALTIES["gp"].needs_fake
    assert PENALTIES["r1"].default_weight == 10.0 and not PENALTIES["r1"].needs_fake
    assert PENALTIES["gp"].function is gradient_penalty and PENALTIES["r1"].function is r1_penalty


def test_shape_mismatch_and_integer_inputs_are_rejected():
    d = LinearCritic((5,))
    with pytest.raises(ValueError, match="one shape"):
        gradient_penalty(d, torch.randn(4, 5), torch.randn(3, 5))
    with pytest.raises(ValueError, match="floating point"):
        r1_penalty(d, torch.zeros(4, 5, dtype=torch.long))


def test_penalties_are_float32_under_autocast():
    d = nn.Sequential(nn.Flatten(), nn.Linear(12, 1))
    critic = lambda x, labels=None: d(x)  # noqa: E731
    real, fake = batches((3, 4))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        gp = gradient_penalty(critic, real, fake)
        r1 = r1_penalty(critic, real)
    assert gp.dtype == torch.float32 and r1.dtype == torch.float32
    (gp + r1).backward()
    assert torch.isfinite(d[1].weight.grad).all()


class Nested(nn.Module):
    def __init__(self, norm: nn.Module):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Sequential(norm, nn.ReLU()))


@pytest.mark.parametrize(
    "module",
    [
        nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)),
        Nested(nn.BatchNorm2d(4)),
        Nested(nn.SyncBatchNorm(4)),
        Nested(nn.LazyBatchNorm2d()),
        nn.BatchNorm3d(2),
    ],
    ids=["bn1d", "nested-bn2d", "syncbn", "lazy-bn", "bn3d-itself"],
)
def test_has_batchnorm(module):
    assert has_batchnorm(module)


@pytest.mark.parametrize(
    "module",
    [nn.Linear(4, 1), Nested(nn.InstanceNorm2d(4)), Nested(nn.GroupNorm(2, 4)), nn.LayerNorm(4), Nested(nn.Identity())],
    ids=["linear", "instancenorm", "groupnorm", "layernorm", "none"],
)
def test_has_no_batchnorm(module):
    assert not has_batchnorm(module)
