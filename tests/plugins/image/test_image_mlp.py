"""The ``mlp`` model: shapes, ranges, gradients, architecture and option validation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gankit.errors import GankitError
from gankit.models import Generator
from gankit.options import build_options
from gankit.plugins.image.mlp import MLPDiscriminator, MLPGenerator, build
from gankit.plugins.image.options import MLPOptions
from gankit.specs import DataInfo


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_outputs_have_the_data_shape_and_range(shape):
    torch.manual_seed(0)
    g, d = build(MLPOptions(), DataInfo(shape=shape))
    z = g.sample_latent(4)
    assert z.shape == (4, 100)
    fake = g(z)
    assert fake.shape == (4, *shape) and fake.dtype == torch.float32
    assert fake.min() >= -1 and fake.max() <= 1
    logits = d(fake)
    assert logits.shape == (4,) and logits.dtype == torch.float32
    assert torch.equal(g.generate(z), fake)


def test_generator_follows_the_engine_contract():
    g, d = build(MLPOptions(latent_dim=16), DataInfo(shape=(1, 8, 8)))
    assert isinstance(g, Generator)
    assert g.latent_dim == 16 and g.num_classes == 0
    labels = torch.zeros(2, dtype=torch.long)
    assert g(torch.randn(2, 16), labels).shape == (2, 1, 8, 8)
    assert d(torch.randn(2, 1, 8, 8), labels).shape == (2,)


def test_generator_is_a_rescaled_sigmoid():
    g = MLPGenerator((1, 4, 4))
    z = torch.randn(3, 100)
    expected = (2 * torch.sigmoid(g.net(z)) - 1).view(3, 1, 4, 4)
    torch.testing.assert_close(g(z), expected)


def test_discriminator_returns_raw_logits():
    d = MLPDiscriminator((1, 4, 4))
    with torch.no_grad():
        d.net[-1].bias.fill_(50.0)
    assert (d(torch.zeros(2, 1, 4, 4)) > 1).all()


def test_architecture_matches_the_classic_mlp_gan():
    g, d = build(MLPOptions(), DataInfo(shape=(1, 28, 28)))
    assert n_params(g) == (100 * 128 + 128) + (128 * 128 + 128) + (128 * 784 + 784)
    assert n_params(d) == (784 * 128 + 128) + (128 * 128 + 128) + (128 + 1)
    slopes = {m.negative_slope for m in [*g.modules(), *d.modules()] if isinstance(m, nn.LeakyReLU)}
    assert slopes == {0.2}
    assert not any(isinstance(m, nn.Dropout) for m in d.modules())


def test_options_change_the_networks():
    g, d = build(MLPOptions(latent_dim=8, hidden=16, negative_slope=0.1, dropout=0.3), DataInfo(shape=(1, 4, 4)))
    assert g.net[0].in_features == 8 and g.net[0].out_features == 16
    dropouts = [m for m in d.modules() if isinstance(m, nn.Dropout)]
    assert len(dropouts) == 2 and all(m.p == 0.3 for m in dropouts)


def test_backward_reaches_both_networks():
    torch.manual_seed(0)
    g, d = build(MLPOptions(hidden=32), DataInfo(shape=(3, 8, 8)))
    real = torch.rand(5, 3, 8, 8) * 2 - 1
    fake = g(g.sample_latent(5))
    loss = nn.functional.softplus(-d(real)).mean() + nn.functional.softplus(d(fake)).mean()
    loss.backward()
    for net in (g, d):
        grads = [p.grad for p in net.parameters()]
        assert all(grad is not None and torch.isfinite(grad).all() for grad in grads)
        assert any(grad.abs().sum() > 0 for grad in grads)


@pytest.mark.parametrize(
    "values, word",
    [
        ({"latent_dim": 0}, "latent_dim"),
        ({"hidden": -3}, "hidden"),
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": -0.1}, "dropout"),
        ({"negative_slope": -1.0}, "negative_slope"),
    ],
)
def test_invalid_options_are_rejected(values, word):
    with pytest.raises(ValueError, match=word):
        MLPOptions(**values)


def test_options_from_cli_strings():
    options = build_options(MLPOptions, {"hidden": "64", "dropout": "0.25"}, what="model 'mlp'")
    assert options == MLPOptions(hidden=64, dropout=0.25)
    with pytest.raises(GankitError, match="model 'mlp'.*dropout"):
        build_options(MLPOptions, {"dropout": "1.5"}, what="model 'mlp'")
