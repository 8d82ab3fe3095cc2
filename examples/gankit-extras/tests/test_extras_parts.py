"""The losses against their formulas, and the residual model's shapes."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gankit.specs import DataInfo
from gankit_extras.losses import ralsgan_d_loss, ralsgan_g_loss, rasgan_d_loss, rasgan_g_loss
from gankit_extras.options import ResMLPOptions
from gankit_extras.resmlp import build


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def test_rasgan_matches_binary_cross_entropy_on_relative_logits():
    real, fake = torch.randn(16), torch.randn(16) - 1
    r, f = real - fake.mean(), fake - real.mean()
    torch.testing.assert_close(rasgan_d_loss(real, fake), _bce(r, 1.0) + _bce(f, 0.0))
    torch.testing.assert_close(rasgan_g_loss(real, fake), _bce(f, 1.0) + _bce(r, 0.0))


def test_ralsgan_formula_and_its_fixed_point():
    real, fake = torch.randn(16, 1), torch.randn(16, 1)
    r, f = real.flatten() - fake.mean(), fake.flatten() - real.mean()
    torch.testing.assert_close(ralsgan_d_loss(real, fake), ((r - 1) ** 2).mean() + ((f + 1) ** 2).mean())
    torch.testing.assert_close(ralsgan_g_loss(real, fake), ((f - 1) ** 2).mean() + ((r + 1) ** 2).mean())
    # D's optimum: real exactly one above the fakes' mean and the fakes one below the reals'.
    assert ralsgan_d_loss(torch.full((4,), 0.5), torch.full((4,), -0.5)) == 0


def test_losses_accept_unpaired_batch_sizes():
    assert torch.isfinite(rasgan_d_loss(torch.randn(7), torch.randn(3)))


def test_resmlp_adapts_to_the_data_and_is_per_sample():
    info = DataInfo(shape=(3, 8, 8), num_classes=10)
    generator, discriminator = build(ResMLPOptions(width=32, blocks=2, conditional=True), info)
    z = generator.sample_latent(5)
    labels = torch.arange(5)
    images = generator(z, labels)
    assert images.shape == (5, 3, 8, 8) and images.abs().max() <= 1
    logits = discriminator(images, labels)
    assert logits.shape == (5,)
    # No batch statistics in D: one sample's logit does not depend on the others.
    torch.testing.assert_close(discriminator(images[:1], labels[:1]), logits[:1])
