"""The built-in objectives: values against independently written formulas, the direction
each network is pushed, saturation, shapes, precision and registration."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch

from gankit.plugins.objectives import OBJECTIVES, register_objectives
from gankit.specs import ObjectiveSpec

SPECS = {spec.name: spec for spec in OBJECTIVES}
NAMES = ["minimax", "non-saturating", "wasserstein", "wgan-gp", "hinge", "lsgan", "rsgan"]

REAL = [1.5, -0.5, 3.0]
FAKE = [-2.0, 0.25, 1.0]


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def bce_d(r, f):
    return mean(-math.log(sigmoid(x)) for x in r) + mean(-math.log(1.0 - sigmoid(x)) for x in f)


EXPECTED = {
    "minimax": (bce_d, lambda r, f: mean(math.log(1.0 - sigmoid(x)) for x in f)),
    "non-saturating": (bce_d, lambda r, f: mean(-math.log(sigmoid(x)) for x in f)),
    "wasserstein": (lambda r, f: mean(f) - mean(r), lambda r, f: -mean(f)),
    "wgan-gp": (lambda r, f: mean(f) - mean(r), lambda r, f: -mean(f)),
    "hinge": (
        lambda r, f: mean(max(0.0, 1.0 - x) for x in r) + mean(max(0.0, 1.0 + x) for x in f),
        lambda r, f: -mean(f),
    ),
    "lsgan": (
        lambda r, f: 0.5 * (mean((x - 1.0) ** 2 for x in r) + mean(x**2 for x in f)),
        lambda r, f: 0.5 * mean((x - 1.0) ** 2 for x in f),
    ),
    "rsgan": (
        lambda r, f: mean(-math.log(sigmoid(a - b)) for a, b in zip(r, f)),
        lambda r, f: mean(-math.log(sigmoid(b - a)) for a, b in zip(r, f)),
    ),
}


def g_loss(spec: ObjectiveSpec, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return spec.g_loss(real if spec.g_uses_real else None, fake)


def test_all_objectives_are_defined():
    assert sorted(SPECS) == sorted(NAMES)
    for spec in OBJECTIVES:
        assert spec.description and "\n" not in spec.description


@pytest.mark.parametrize("name", NAMES)
def test_values_match_formulas(name):
    spec = SPECS[name]
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    expected_d, expected_g = EXPECTED[name]
    d = spec.d_loss(real, fake)
    g = g_loss(spec, real, fake)
    assert d.shape == () and g.shape == ()
    assert d.item() == pytest.approx(expected_d(REAL, FAKE), rel=1e-6)
    assert g.item() == pytest.approx(expected_g(REAL, FAKE), rel=1e-6)


# Logits in the region where every loss is active (inside the hinge margins, below the
# least-squares targets), so each gradient has a strict sign.
NEAR_REAL = [0.2, -0.3, 0.5]
NEAR_FAKE = [0.1, 0.4, 0.3]


@pytest.mark.parametrize("name", NAMES)
def test_discriminator_is_pushed_to_raise_real_and_lower_fake(name):
    spec = SPECS[name]
    real = torch.tensor(NEAR_REAL, requires_grad=True)
    fake = torch.tensor(NEAR_FAKE, requires_grad=True)
    spec.d_loss(real, fake).backward()
    assert (real.grad < 0).all()  # loss falls as real logits rise
    assert (fake.grad > 0).all()  # loss falls as fake logits fall


@pytest.mark.parametrize("name", NAMES)
def test_generator_is_pushed_to_raise_fake(name):
    spec = SPECS[name]
    real = torch.tensor(NEAR_REAL, requires_grad=True)
    fake = torch.tensor(NEAR_FAKE, requires_grad=True)
    g_loss(spec, real, fake).backward()
    assert (fake.grad < 0).all()


def test_minimax_generator_saturates_and_non_saturating_does_not():
    fake = torch.full((4,), -10.0, requires_grad=True)
    SPECS["minimax"].g_loss(None, fake).backward()
    minimax_grad = fake.grad.abs().sum().item()
    fake.grad = None
    SPECS["non-saturating"].g_loss(None, fake).backward()
    non_saturating_grad = fake.grad.abs().sum().item()
    assert minimax_grad < 1e-4
    assert non_saturating_grad > 0.99


def test_minimax_losses_are_opposite_on_the_fake_term():
    """The original game is zero-sum: G's loss is minus the part of D's loss it controls."""
    fake = torch.tensor(FAKE)
    very_real = torch.full((3,), 50.0)  # makes D's real term ~0
    d = SPECS["minimax"].d_loss(very_real, fake)
    g = SPECS["minimax"].g_loss(None, fake)
    assert d.item() == pytest.approx(-g.item(), rel=1e-6)


def test_rsgan_generator_reads_real_logits():
    spec = SPECS["rsgan"]
    assert spec.g_uses_real
    assert [s.name for s in OBJECTIVES if s.g_uses_real] == ["rsgan"]
    fake = torch.tensor(FAKE)
    low = spec.g_loss(torch.tensor(REAL) - 1.0, fake)
    high = spec.g_loss(torch.tensor(REAL) + 1.0, fake)
    assert low < high
    real = torch.tensor(NEAR_REAL, requires_grad=True)
    spec.g_loss(real, torch.tensor(NEAR_FAKE)).backward()
    assert (real.grad > 0).all()  # G gains by real data looking less real


def test_rsgan_rejects_missing_or_unpaired_real_logits():
    spec = SPECS["rsgan"]
    with pytest.raises(ValueError, match="None"):
        spec.g_loss(None, torch.tensor(FAKE))
    with pytest.raises(ValueError, match="batch sizes"):
        spec.d_loss(torch.tensor(REAL[:2]), torch.tensor(FAKE))


@pytest.mark.parametrize("name", NAMES)
def test_column_and_flat_logits_agree(name):
    spec = SPECS[name]
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    col_real, col_fake = real[:, None], fake[:, None]
    assert spec.d_loss(col_real, col_fake).item() == pytest.approx(spec.d_loss(real, fake).item())
    assert g_loss(spec, col_real, col_fake).item() == pytest.approx(g_loss(spec, real, fake).item())
    assert spec.d_loss(col_real, fake).shape == ()


@pytest.mark.parametrize("name", NAMES)
def test_more_than_one_logit_per_sample_is_rejected(name):
    with pytest.raises(ValueError, match="one logit per sample"):
        SPECS[name].d_loss(torch.zeros(3, 2), torch.zeros(3, 2))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", NAMES)
def test_low_precision_logits_give_float32_loss(name, dtype):
    spec = SPECS[name]
    real = torch.tensor(REAL, dtype=dtype, requires_grad=True)
    fake = torch.tensor(FAKE, dtype=dtype, requires_grad=True)
    d, g = spec.d_loss(real, fake), g_loss(spec, real, fake)
    assert d.dtype == torch.float32 and g.dtype == torch.float32
    (d + g).backward()
    assert fake.grad.dtype == dtype
    expected_d, _ = EXPECTED[name]
    rounded = [x.item() for x in real.detach().float()], [x.item() for x in fake.detach().float()]
    assert d.item() == pytest.approx(expected_d(*rounded), rel=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_extreme_logits_stay_finite(name):
    spec = SPECS[name]
    real = torch.tensor([-80.0, 80.0], requires_grad=True)
    fake = torch.tensor([80.0, -80.0], requires_grad=True)
    loss = spec.d_loss(real, fake) + g_loss(spec, real, fake)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(real.grad).all() and torch.isfinite(fake.grad).all()


def test_registered_through_the_hook():
    registered: list[ObjectiveSpec] = []
    register_objectives(register=registered.append)
    assert [spec.name for spec in registered] == NAMES
    assert all(isinstance(spec, ObjectiveSpec) for spec in registered)
    by_name = {spec.name: spec for spec in registered}
    assert by_name["wgan-gp"].penalty == "gp"
    assert by_name["wgan-gp"].d_loss is by_name["wasserstein"].d_loss
    assert by_name["wgan-gp"].g_loss is by_name["wasserstein"].g_loss
    assert all(by_name[name].penalty is None for name in NAMES if name != "wgan-gp")
    assert "Lipschitz" in by_name["wasserstein"].description


def test_importing_the_plugin_does_not_import_torch():
    code = "import sys, gankit.plugins.objectives; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
