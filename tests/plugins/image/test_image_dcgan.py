"""The ``dcgan`` model: shapes for every supported size and channel count, the D
normalisation variants, the paper's initialisation, errors, and one real training step
per variant."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import gankit
from gankit.errors import GankitError
from gankit.models import Generator
from gankit.options import build_options
from gankit.plugins.image.conditional import ModelOptionError
from gankit.plugins.image.dcgan import DCGANDiscriminator, DCGANGenerator, build
from gankit.plugins.image.options import DCGANOptions
from gankit.specs import DataInfo

SMALL = DCGANOptions(width=8, latent_dim=16)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def is_spectral(module: nn.Module) -> bool:
    return hasattr(module, "parametrizations") and "weight" in module.parametrizations


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_outputs_have_the_data_shape_and_range(size, channels):
    torch.manual_seed(0)
    g, d = build(SMALL, DataInfo(shape=(channels, size, size)))
    z = g.sample_latent(3)
    assert z.shape == (3, 16)
    fake = g(z)
    assert fake.shape == (3, channels, size, size) and fake.dtype == torch.float32
    assert fake.min() >= -1 and fake.max() <= 1
    logits = d(fake)
    assert logits.shape == (3,) and logits.dtype == torch.float32
    g.eval()
    assert torch.equal(g.generate(z), g(z))


@pytest.mark.parametrize(("size", "g_convs", "d_convs", "first_map"), [(28, 3, 2, 7), (32, 4, 3, 4), (64, 5, 4, 4)])
def test_architecture_follows_the_paper(size, g_convs, d_convs, first_map):
    g, d = build(DCGANOptions(), DataInfo(shape=(3, size, size)))
    assert isinstance(g, Generator) and g.latent_dim == 100 and g.num_classes == 0
    convs_t = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert len(convs_t) == g_convs and convs_t[0].kernel_size == (first_map, first_map)
    assert all(m.stride == (2, 2) for m in convs_t[1:])
    assert sum(isinstance(m, nn.BatchNorm2d) for m in g.modules()) == g_convs - 1  # none at the output
    assert isinstance(g.net[-1], nn.Tanh) and any(isinstance(m, nn.ReLU) for m in g.modules())
    assert convs_t[-2].out_channels == 64  # width: G's last hidden layer
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == d_convs and convs[0].out_channels == 64
    assert all(m.stride == (2, 2) for m in convs)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d.modules()) == d_convs - 1  # none on the input layer
    assert {m.negative_slope for m in d.modules() if isinstance(m, nn.LeakyReLU)} == {0.2}
    assert d.head.in_features == convs[-1].out_channels * first_map**2


def test_initialisation_is_normal_with_std_002():
    torch.manual_seed(0)
    g, d = build(DCGANOptions(), DataInfo(shape=(1, 32, 32)))
    for m in [*g.modules(), *d.modules()]:
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.weight.numel() > 1000:
            assert abs(m.weight.std().item() - 0.02) < 0.002 and abs(m.weight.mean().item()) < 0.002
        if isinstance(m, nn.BatchNorm2d):
            assert abs(m.weight.mean().item() - 1) < 0.01 and m.bias.abs().max() == 0


def test_width_and_latent_dim_change_the_networks():
    big, _ = build(DCGANOptions(width=16), DataInfo(shape=(1, 28, 28)))
    small, _ = build(DCGANOptions(width=8, latent_dim=10), DataInfo(shape=(1, 28, 28)))
    assert n_params(small) < n_params(big)
    assert small.net[0].in_channels == 10 and small.net[0].out_channels == 16


@pytest.mark.parametrize("d_norm", ["batchnorm", "spectral", "none"])
def test_discriminator_normalisation_variants(d_norm):
    torch.manual_seed(0)
    d = DCGANDiscriminator((3, 32, 32), DCGANOptions(width=8, d_norm=d_norm))
    batchnorms = [m for m in d.modules() if isinstance(m, nn.BatchNorm2d)]
    layers = [m for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert bool(batchnorms) == (d_norm == "batchnorm")
    assert all(is_spectral(m) for m in layers) == (d_norm == "spectral")
    assert any(is_spectral(m) for m in layers) == (d_norm == "spectral")
    if d_norm != "batchnorm":  # per sample: one sample's logit does not depend on the others
        x = torch.randn(4, 3, 32, 32)
        d.eval() if d_norm == "spectral" else d.train()
        torch.testing.assert_close(d(x)[:1], d(x[:1]))
    assert d(torch.randn(2, 3, 32, 32)).shape == (2,)
    # The generator is the same whatever D uses.
    assert n_params(DCGANGenerator((3, 32, 32), DCGANOptions(width=8, d_norm=d_norm))) == n_params(
        DCGANGenerator((3, 32, 32), DCGANOptions(width=8)))


def test_spectral_norm_bounds_each_layer():
    d = DCGANDiscriminator((1, 28, 28), DCGANOptions(width=8, d_norm="spectral"))
    for _ in range(30):  # power iterations run in training-mode forwards
        d(torch.randn(2, 1, 28, 28))
    d.eval()
    sigma = torch.linalg.matrix_norm(d.head.weight.detach(), ord=2)
    assert abs(sigma.item() - 1) < 0.05


@pytest.mark.parametrize(
    "shape", [(1, 16, 16), (1, 48, 48), (1, 28, 32), (3, 128, 128)],
)
def test_unsupported_sizes_name_the_supported_ones(shape):
    with pytest.raises(ValueError, match=r"28×28, 32×32, 64×64 pixels, got") as caught:
        build(DCGANOptions(), DataInfo(shape=shape))
    assert isinstance(caught.value, GankitError)  # the CLI prints it as one line


@pytest.mark.parametrize(("shape", "word"), [((2, 28, 28), "1 or 3 channels"), ((784,), "C×H×W")])
def test_unsupported_channels_and_ranks_are_rejected(shape, word):
    with pytest.raises(ModelOptionError, match=word):
        build(DCGANOptions(), DataInfo(shape=shape))


@pytest.mark.parametrize(
    ("values", "word"),
    [({"width": 0}, "width"), ({"latent_dim": -1}, "latent_dim"), ({"d_norm": "layer"}, "d_norm")],
)
def test_invalid_options_are_rejected(values, word):
    with pytest.raises(GankitError, match=word):
        build_options(DCGANOptions, values, what="model 'dcgan'")


def test_options_from_cli_strings():
    options = build_options(DCGANOptions, {"width": "32", "d_norm": "spectral", "conditional": "true"},
                            what="model 'dcgan'")
    assert options == DCGANOptions(width=32, d_norm="spectral", conditional=True)


TINY = dict(model="dcgan", count=64, batch_size=8, steps=2, quiet=True, log_every=1, width=8)


@pytest.mark.parametrize(
    "options",
    [
        {"d_norm": "batchnorm"},
        {"d_norm": "spectral", "penalty": "gp"},
        {"d_norm": "none", "size": 32, "channels": 3},
        {"conditional": True, "penalty": "r1"},
        {"conditional": True, "d_norm": "spectral", "size": 64, "objective": "hinge"},
    ],
    ids=["batchnorm", "spectral-gp", "none-32-rgb", "conditional-r1", "conditional-spectral-64"],
)
def test_one_real_training_step(tmp_path, options):
    run = gankit.train("image", out=str(tmp_path / "run"), **TINY, **options)
    assert run.step == 2 and [r["step"] for r in run.metrics] == [1, 2]
    size, channels = options.get("size", 28), options.get("channels", 1)
    samples = run.sample(4)
    assert samples.shape == (4, channels, size, size) and torch.isfinite(samples).all()
    assert (tmp_path / "run" / "samples" / "step-0000002.png").is_file()
    if options.get("conditional"):
        assert run.generator.num_classes == 10
        assert run.sample(3, labels=7).shape == (3, channels, size, size)


def test_gradient_penalty_is_refused_with_batchnorm_in_d(tmp_path):
    with pytest.raises(GankitError, match="BatchNorm"):
        gankit.train("image", out=str(tmp_path / "run"), penalty="gp", d_norm="batchnorm", **TINY)


def test_a_wrong_size_fails_before_training(tmp_path):
    with pytest.raises(GankitError, match="28×28, 32×32, 64×64"):
        gankit.train("image", out=str(tmp_path / "run"), size=40, **TINY)


def test_model_is_registered_with_defaults_and_presets():
    from gankit.config import resolve_config
    from gankit.registry import build_registry

    registry = build_registry(load_entry_points=False)
    spec = registry.model("image", "dcgan")
    assert spec.options is DCGANOptions
    assert {"objective", "lr_g", "lr_d", "betas_g", "betas_d", "ema_decay", "batch_size"} <= set(spec.defaults)
    assert {"cpu", "paper"} <= set(spec.presets)
    paper = spec.presets["paper"].options
    assert (paper["lr_g"], paper["betas_g"], paper["batch_size"], paper["ema_decay"]) == (2e-4, (0.5, 0.999), 128, 0.0)
    for name in spec.presets:
        resolved = resolve_config(registry, {"domain": "image", "model": "dcgan", "preset": name})
        assert resolved.train.preset == name and resolved.train.model == "dcgan"
