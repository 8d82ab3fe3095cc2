"""gankit.testing, the conformance kit: it passes the built-in parts and catches broken ones
with a message that names the check and what to fix."""

from __future__ import annotations

import math
import re
import types
from dataclasses import dataclass, field

import pytest
import torch
from torch import nn

from gankit.hookspecs import hookimpl
from gankit.models import Generator
from gankit.registry import build_registry
from gankit.specs import DataInfo, ModelSpec, ObjectiveSpec
from gankit.testing import (
    ConformanceError,
    check_dataset,
    check_domain,
    check_objective,
    check_options,
    check_registration_is_light,
    gankit_check,  # noqa: F401 (the fixture)
    plugin_registered,
)

SMALL = {"count": 64, "hidden": 16}


def test_the_builtin_image_mlp_conforms(gankit_check):
    # The image metrics fit a feature network: the image plugin's own tests cover them.
    report = gankit_check("image", "mlp", "shapes", skip=("metrics",), **SMALL)
    assert report.passed == ["registration", "options", "dataset", "model", "train", "checkpoint", "resume", "samples"]
    assert report.skipped == {"metrics": "skipped by the caller"}


def test_a_plugin_domain_with_metrics_conforms(gauss_plugin, tmp_path):
    # The test plugin imports torch at the top, which the registration check refuses (below).
    report = check_domain("gauss", tmp_path=tmp_path, count=64, skip=("registration",))
    assert report.passed[-3:] == ["resume", "samples", "metrics"]
    assert (tmp_path / "conformance-gauss-net-points" / "checkpoints" / "best.pt").is_file()  # --eval-every ran
    again = check_domain("gauss", dataset="points-loader", tmp_path=tmp_path, count=64, skip=("registration",))
    assert again.skipped == {"registration": "skipped by the caller"}  # one tmp_path serves several checks


def test_registration_check_catches_a_plugin_that_imports_torch():
    with pytest.raises(ConformanceError, match=r"loading plugin module 'gauss_plugin' imports torch; .*inside your factories"):
        check_registration_is_light("gauss_plugin")
    check_registration_is_light("gankit.plugins.image")


# A deliberately broken model in the image domain -----------------------------------------

class TinyGenerator(Generator):
    def __init__(self, info: DataInfo, noisy: bool = False):
        super().__init__()
        self.latent_dim, self.shape, self.noisy = 8, tuple(info.shape), noisy
        self.net = nn.Linear(8, math.prod(info.shape))

    def forward(self, z, labels=None):
        return torch.tanh(self.net(z)).view(len(z), *self.shape)

    def generate(self, z, labels=None):
        x = self(z, labels)
        return (x + 0.01 * torch.randn_like(x)).clamp(-1, 1) if self.noisy else x  # ignores the seed


class WideDiscriminator(nn.Module):
    """Two logits per sample, or (``pooled``) one logit for the whole batch."""

    def __init__(self, info: DataInfo, outputs: int = 2, pooled: bool = False):
        super().__init__()
        self.pooled = pooled
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(info.shape), outputs))

    def forward(self, x, labels=None):
        logits = self.net(x)
        return logits.mean(0, keepdim=True).squeeze(1) if self.pooled else logits.squeeze(1)


def _model_plugin(name: str, build, options: type | None = None) -> types.SimpleNamespace:
    extra = {"options": options} if options else {}
    spec = ModelSpec(name=name, domain="image", description="broken on purpose", build=build, **extra)
    return types.SimpleNamespace(register_models=hookimpl(lambda register: register(spec)))


@pytest.mark.parametrize(("discriminator", "got"), [
    (lambda info: WideDiscriminator(info, outputs=2), r"got \(3, 2\)"),
    (lambda info: WideDiscriminator(info, outputs=1, pooled=True), r"got \(1,\)"),
])
def test_a_discriminator_without_one_logit_per_sample_is_caught(tmp_path, discriminator, got):
    plugin = _model_plugin("broken-d", lambda options, info: (TinyGenerator(info), discriminator(info)))
    with plugin_registered(plugin, "broken-d-plugin"):
        with pytest.raises(ConformanceError) as caught:
            check_domain("image", "broken-d", "shapes", tmp_path=tmp_path, count=64)
    message = str(caught.value)
    assert message.startswith("[model] image/broken-d on shapes: the discriminator must return one logit per sample")
    assert "shape (3,) or (3, 1)" in message and re.search(got, message)


def test_a_generator_that_ignores_the_seed_is_caught(tmp_path):
    plugin = _model_plugin("noisy-g", lambda options, info: (TinyGenerator(info, noisy=True),
                                                             WideDiscriminator(info, outputs=1)))
    with plugin_registered(plugin, "noisy-g-plugin"):
        with pytest.raises(ConformanceError, match=r"^\[checkpoint\] .*different samples for the same seed"):
            check_domain("image", "noisy-g", "shapes", tmp_path=tmp_path, count=64, skip=("metrics",))


@dataclass(frozen=True)
class ListOptions:
    sizes: list = field(default_factory=lambda: [1, 2], metadata={"help": "not expressible as -o KEY VALUE"})


@dataclass(frozen=True)
class UndocumentedOptions:
    width: int = 3


@pytest.mark.parametrize(("options", "message"), [
    (ListOptions, r"option 'sizes': its default \[1, 2\] given as `-o sizes 1,2` does not parse"),
    (UndocumentedOptions, r"option 'width' has no help text"),
])
def test_options_the_cli_cannot_show_or_parse_are_caught(options, message):
    plugin = _model_plugin("odd-options", lambda o, info: None, options)
    with plugin_registered(plugin, "odd-options-plugin"):
        with pytest.raises(ConformanceError, match=message):
            check_options("image", "odd-options", "shapes")


class _Points(torch.utils.data.Dataset):
    def __init__(self, x, y, info):
        self.x, self.y, self.info = x, y, info

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


@pytest.mark.parametrize(("x", "y", "info", "message"), [
    (torch.zeros(4, 1, 28, 27), [0] * 4, DataInfo(shape=(1, 28, 28), num_classes=2),
     r"dataset\[0\]\[0\] has shape \(1, 28, 27\), but DataInfo.shape is \(1, 28, 28\)"),
    (torch.zeros(4, 2, dtype=torch.float64), [-1] * 4, DataInfo(shape=(2,)), "dtype torch.float64"),
    (torch.full((4, 2), 1.5), [-1] * 4, DataInfo(shape=(2,)), r"outside DataInfo.value_range \(-1.0, 1.0\)"),
    (torch.zeros(4, 2), [0, 1, 2, 3], DataInfo(shape=(2,), num_classes=3), r"dataset\[3\]\[1\] is 3, outside \[0, 3\)"),
    (torch.zeros(4, 2), [0] * 4, DataInfo(shape=(2,)), "unlabelled data .* must use -1"),
    (torch.zeros(4, 2), [-1] * 4, DataInfo(shape=(2,), extra={"f": object()}), "JSON-serialisable"),
])
def test_a_dataset_that_disagrees_with_its_info_is_caught(x, y, info, message):
    with pytest.raises(ConformanceError, match=message):
        check_dataset(_Points(x, torch.tensor(y), info))


def test_every_builtin_objective_conforms():
    for name in build_registry(load_entry_points=False).objectives:
        check_objective(name)


def test_an_objective_one_trains_with(tmp_path):
    check_objective("rsgan", tmp_path=tmp_path, model="mlp", **SMALL)


def test_an_objective_that_rewards_the_wrong_side_is_caught():
    def backwards(real, fake):
        return torch.nn.functional.softplus(real).mean() + torch.nn.functional.softplus(-fake).mean()

    spec = ObjectiveSpec(name="backwards", description="D loss with the labels swapped", d_loss=backwards,
                         g_loss=lambda real, fake: -fake.mean())
    plugin = types.SimpleNamespace(register_objectives=hookimpl(lambda register: register(spec)))
    with plugin_registered(plugin, "backwards-plugin"):
        with pytest.raises(ConformanceError, match=r"^\[objective\] objective 'backwards': d_loss must be lower when "):
            check_objective("backwards")


def test_an_unknown_domain_says_what_is_installed(tmp_path):
    with pytest.raises(ConformanceError, match=r"domain 'nope' is not registered \(domains: .*image.*GANKIT_LOAD_PLUGINS"):
        check_domain("nope", tmp_path=tmp_path)
    with pytest.raises(ValueError, match="unknown check 'trian'"):
        check_domain("image", tmp_path=tmp_path, skip=("trian",))
