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
    CHECKS,
    ConformanceError,
    check_aux_loss,
    check_dataset,
    check_domain,
    check_objective,
    check_options,
    check_registration_is_light,
    domain_checks,
    parametrize_with_checks,
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
        return self.x[i], ({k: v[i] for k, v in self.y.items()} if isinstance(self.y, dict) else self.y[i])


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


# Engine 2's contract: conditions, DiscriminatorOutput, auxiliary losses ----------------------

@pytest.mark.parametrize(("conds", "tensors", "message"), [
    ([{"c": torch.zeros(3)}, {"c": torch.zeros(3)}, {"d": torch.zeros(3)}, {"c": torch.zeros(3)}], None,
     r"dataset\[2\]\[1\] is a dict \{'d': \(3,\) torch.float32\}, but dataset\[0\]\[1\] is a dict \{'c'"),
    ([torch.zeros(3), torch.zeros(3, dtype=torch.float64)] * 2, None, r"dataset\[1\]\[1\] .* dtype torch.float64"),
    ([torch.zeros(3), -1, torch.zeros(3), -1], None, r"dataset\[1\]\[1\] is an integer class, but dataset\[0\]\[1\] is a "
                                                   r"tensor"),
    ([torch.tensor([True])] * 4, None, r"dataset\[0\]\[1\] is a bool; a condition is an integer class"),
    ([0.5] * 4, None, r"dataset\[0\]\[1\] must be an integer class \(-1: unlabelled\), a tensor or a dict of tensors, "
                      r"got float"),
    ([torch.full((3,), float("nan"))] * 4, None, r"dataset\[0\]\[1\] has NaN"),
    ([torch.zeros(3)] * 4, torch.zeros(4, 2), r"dataset.tensors\[1\] must be a torch.float32 tensor of shape \(4, 3\)"),
    ([torch.zeros(3)] * 4, torch.ones(4, 3), r"dataset.tensors\[1\] row 0 differs from dataset\[0\]\[1\]"),
    ([{"c": torch.zeros(3)}] * 4, {"c": torch.zeros(4, 3), "d": torch.zeros(4)}, r"must be a dict with the items' keys"),
])
def test_conditions_of_another_form_than_the_first_items_are_caught(conds, tensors, message):
    class Items(torch.utils.data.Dataset):
        info = DataInfo(shape=(2,), value_range=None)

        def __len__(self):
            return len(conds)

        def __getitem__(self, i):
            return torch.zeros(2), conds[i]

    data = Items()
    if tensors is not None:
        data.tensors = (torch.zeros(4, 2), tensors)
    with pytest.raises(ConformanceError, match=message):
        check_dataset(data)


def test_tensor_and_dict_conditions_and_compact_storage_conform():
    from gankit.data import InMemoryDataset

    class Bytes(InMemoryDataset):
        def decode(self, x):
            return x.float() / 127.5 - 1

    check_dataset(Bytes(torch.arange(12, dtype=torch.uint8).view(6, 2), torch.zeros(6, dtype=torch.long),
                        DataInfo(shape=(2,), num_classes=1)))
    c = torch.linspace(-1, 1, 6)
    check_dataset(_Points(torch.zeros(6, 2), {"c": c.view(6, 1), "k": torch.arange(6)}, DataInfo(shape=(2,))))

    class Stored(torch.utils.data.Dataset):
        """Items scaled to [-1, 1], but a decode that forgets to scale."""

        info = DataInfo(shape=(2,))
        storage = (torch.arange(12, dtype=torch.uint8).view(6, 2), torch.full((6,), -1))

        def decode(self, x):
            return x.float()

        def __len__(self):
            return 6

        def __getitem__(self, i):
            return self.storage[0][i].float() / 127.5 - 1, self.storage[1][i]

    with pytest.raises(ConformanceError, match=r"dataset.decode\(storage\[0\]\[rows\]\) differs from the items"):
        check_dataset(Stored())
    Stored.decode = None
    with pytest.raises(ConformanceError, match=r"a dataset with `storage` needs `decode\(stored_rows\)`"):
        check_dataset(Stored())


def test_an_aux_loss_must_be_a_finite_differentiable_scalar():
    real, fake = torch.zeros(3, 2), torch.ones(3, 2, requires_grad=True)
    check_aux_loss("l1", lambda r, f, c: (f - r).abs().mean(), real, fake)
    with pytest.raises(ConformanceError, match=r"auxiliary loss 'l1' does not depend differentiably on the fake batch"):
        check_aux_loss("l1", lambda r, f, c: (f.detach() - r).abs().mean(), real, fake)
    with pytest.raises(ConformanceError, match=r"auxiliary loss 'l1' \(loss\(real, fake, cond\)\) raised KeyError"):
        check_aux_loss("l1", lambda r, f, c: c["mel"], real, fake, {})


BROKEN = {"count": 64, "skip": ("registration",)}


@pytest.mark.parametrize(("model", "dataset", "options", "message"), [
    ("heads-differ", "pairs", {}, r"^\[model\] paired/heads-differ on pairs: the discriminator returned 1 logit tensors "
                                  r"\(heads\) for a real batch of 3 and 2 for a fake batch; it must return the same"),
    ("transposed", "pairs", {}, r"^\[model\] paired/transposed on pairs: the discriminator's logit tensor #2 \(of 2\) "
                                r"for a fake batch of 3 has shape \(1, 3\): the batch must be its first dimension"),
    ("aux-vector", "pairs", {}, r"^\[model\] .*: the auxiliary loss 'l1' must return a scalar tensor .*got shape \(3, 2\)"),
    ("aux-nan", "pairs", {}, r"^\[model\] .*: the auxiliary loss 'l1' must return a finite float, got nan"),
    ("ignores-none", "pairs", {"latent_dim": 0}, r"^\[model\] paired/ignores-none on pairs: generate\(z=None, cond\) "
                                                 r"raised TypeError: .*latent_dim is 0, so the engine passes z=None"),
    ("net", "ragged", {}, r"^\[dataset\] paired/net on ragged: dataset\[21\]\[1\] is a tensor of shape \(2,\) .* but "
                          r"dataset\[0\]\[1\] is a tensor of shape \(3,\)"),
    ("net", "pairs", {"features": False}, r"^\[model\] paired/net on pairs: feature_matching is 2 \(the model's "
                                          r"defaults or the options set it\), but the discriminator returns no features"),
])
def test_broken_variants_of_the_paired_plugin_are_caught(paired_plugin, tmp_path, model, dataset, options, message):
    import broken_paired_plugin

    with plugin_registered(broken_paired_plugin, "broken-paired-plugin"):
        with pytest.raises(ConformanceError, match=message):
            check_domain("paired", model, dataset, tmp_path=tmp_path, **BROKEN, **options)


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
def test_a_deterministic_generator_without_a_condition_is_refused(tmp_path, gauss_plugin):
    with pytest.raises(ConformanceError, match=r"^\[model\] .*latent_dim is 0 .* not conditional"):
        check_domain("gauss", tmp_path=tmp_path, count=64, latent_dim=0, skip=("registration", "options"))


# One test per check ---------------------------------------------------------------------------

PAIRED = [("paired", "net", "pairs", BROKEN),
          ("paired", "net", "pairs", {**BROKEN, "latent_dim": 0, "dict_condition": True, "accumulate": 2})]


@parametrize_with_checks(domains=PAIRED, ids=["paired-net-pairs", "paired-deterministic-dict"])
def test_the_paired_plugin_conforms(check, tmp_path_factory, paired_plugin):
    check(tmp_path_factory)


@parametrize_with_checks(domains=[("gauss", "net", "points", BROKEN), ("gauss", "net", "points-loader", BROKEN)])
def test_the_gauss_plugin_conforms(check, tmp_path_factory, gauss_plugin):
    check(tmp_path_factory)


def test_the_checks_are_one_per_case_and_named_after_it():
    checks = domain_checks(["image", ("paired", "net", "pairs", {"skip": ["metrics"]}), ("paired", "net", "pairs")],
                           skip=("registration",))
    assert [c.id for c in checks[:2]] == ["image-mlp-shapes::registration", "image-mlp-shapes::options"]
    assert checks[2 * len(CHECKS) - 1].id == "paired-net-pairs::metrics"
    assert checks[-1].id == "paired-net-pairs-2::metrics"
    assert checks[len(CHECKS)].options["skip"] == ("registration", "metrics")
    named = domain_checks([("paired", "net", "pairs")], ids=["paired-vector"])
    assert named[3].id == "paired-vector::model" and named[3].check == "model"
    with pytest.raises(ValueError, match="unknown check 'trian'"):
        domain_checks(["image"], skip=("trian",))
    marker = parametrize_with_checks(["image"]).mark
    assert marker.args[0] == "check" and len(marker.args[1]) == len(CHECKS)


def test_one_failing_check_hides_none_of_the_others_and_the_run_is_trained_once(paired_plugin, tmp_path, monkeypatch):
    import broken_paired_plugin
    from _pytest.outcomes import Skipped

    import gankit.testing.domain

    trained = []
    train = gankit.testing.domain.check_train_step
    monkeypatch.setattr(gankit.testing.domain, "check_train_step", lambda *a, **k: trained.append(a) or train(*a, **k))
    outcomes = {}
    with plugin_registered(broken_paired_plugin, "broken-paired-plugin"):
        for entry in [("paired", "undocumented", "pairs", BROKEN), ("paired", "aux-nan", "pairs", BROKEN)]:
            for check in domain_checks([entry]):
                try:
                    check(tmp_path)
                    outcomes[check.id] = "passed"
                except Skipped as skipped:
                    outcomes[check.id] = f"skipped: {skipped.msg}"
                except ConformanceError as error:
                    outcomes[check.id] = f"failed: {error}"
    undocumented = {k.split("::")[1]: v.split(":")[0] for k, v in outcomes.items() if "undocumented" in k}
    assert undocumented == {"registration": "skipped", "options": "failed", "dataset": "passed", "model": "passed",
                            "train": "passed", "checkpoint": "passed", "resume": "passed", "samples": "passed",
                            "metrics": "skipped"}
    assert outcomes["paired-aux-nan-pairs::model"].startswith("failed: [model] paired/aux-nan on pairs: the auxiliary")
    assert outcomes["paired-aux-nan-pairs::train"].startswith("failed: [train] paired/aux-nan on pairs: raised "
                                                              "GankitError: non-finite loss")
    assert outcomes["paired-aux-nan-pairs::samples"].startswith("skipped: needs the train check, which failed: raised "
                                                                "GankitError: non-finite loss")
    assert len(trained) == 2  # once per case, for the train check and the four that use its run


def test_an_unregistered_domain_fails_every_check(tmp_path):
    check = domain_checks(["nope"])[2]
    assert check.id == "nope-default-default::dataset"
    with pytest.raises(ConformanceError, match=r"domain 'nope' is not registered"):
        check(tmp_path)


# The pytest plugin ----------------------------------------------------------------------------

def test_the_fixture_comes_with_gankit_and_pytest_starts_without_torch(tmp_path):
    """The pytest11 entry point gives any project the fixture; loading it imports no torch."""
    import os
    import subprocess
    import sys
    from importlib.metadata import entry_points

    assert [ep.value for ep in entry_points(group="pytest11") if ep.name == "gankit"] == ["gankit.pytest_plugin"]
    (tmp_path / "test_fixture.py").write_text(
        "import sys\n\n"
        "def test_fixture(gankit_check):\n"
        "    assert callable(gankit_check)\n"
        "    assert 'torch' not in sys.modules and 'gankit.testing' not in sys.modules\n")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_fixture.py"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "GANKIT_LOAD_PLUGINS": "", "PYTEST_ADDOPTS": ""})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
