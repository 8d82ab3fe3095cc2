"""The image metrics (fid, kid, is, prdc): their maths, the offline classifier and its cache,
the FID Inception-v3's structure, and ``gankit evaluate`` on an image run.

One small classifier is trained for the whole module (on ``shapes`` with count=300, the
dataset the end-to-end run uses, so that run loads it from the cache)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import gankit
import gankit.plugins.image as image_plugin
from gankit.errors import GankitError
from gankit.evaluation import dataset_key, evaluate, primary_metric
from gankit.plugins.image import classifier, inception, metrics
from gankit.plugins.image.datasets import build_shapes
from gankit.plugins.image.options import ShapesOptions
from gankit.registry import get_registry
from gankit.specs import EvalContext, MetricSpec

OPTIONS = ShapesOptions(count=300)
KEY = dataset_key("shapes", OPTIONS, None)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """GANKIT_CACHE in a temporary folder for the module; in-process caches cleared around it."""
    folder = tmp_path_factory.mktemp("gankit-cache")
    metrics.clear_caches()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GANKIT_CACHE", str(folder))
        patch.delenv(inception.WEIGHTS_ENV, raising=False)
        yield folder
    metrics.clear_caches()


@pytest.fixture(scope="module")
def shapes(cache):
    """The dataset, a real reference half, another real half, and a context (which trains
    the classifier on first use)."""
    data = build_shapes(OPTIONS)
    x, y = data.tensors
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    real, other = order[:150], order[150:]
    context = make_context(data, x[real], y[real], KEY, cache)
    metrics.fid(x[other], context)  # trains and caches the classifier once
    return data, x[other], context


def make_context(data, real, labels, key, cache_folder):
    return EvalContext(real=real, real_labels=labels, fake_labels=None, info=data.info, dataset=data,
                       dataset_key=key, cache_dir=cache_folder / "metrics", device=torch.device("cpu"), seed=0)


def all_values(fake, context):
    return {name: fn(fake, context).values
            for name, fn in [("fid", metrics.fid), ("kid", metrics.kid), ("is", metrics.inception_score),
                             ("prdc", metrics.prdc)]}


def noise_like(x):
    return torch.rand(x.shape, generator=torch.Generator().manual_seed(1)) * 2 - 1


# The metrics on real, noise and collapsed "generators" --------------------------------------

def test_real_vs_real_is_near_zero_and_far_from_noise(shapes):
    _, other, context = shapes
    same, noise = all_values(other, context), all_values(noise_like(other), context)
    assert 0 <= same["fid"]["fid"] < 0.05 * noise["fid"]["fid"]
    assert abs(same["kid"]["kid"]) < 0.02 * noise["kid"]["kid"]
    assert abs(same["kid"]["kid"]) < 3 * same["kid"]["kid_std"] + 1e-3  # unbiased: zero within its spread
    assert noise["prdc"]["recall"] < 0.05 and noise["prdc"]["coverage"] < 0.05 < 0.7 < same["prdc"]["coverage"]
    # k-NN precision is not robust to outliers: one far real sample's ball can hold noise (density is).
    assert noise["prdc"]["precision"] < 0.5 < 0.8 < same["prdc"]["precision"]
    assert noise["prdc"]["density"] < 0.2 < 0.7 < same["prdc"]["density"]
    assert noise["is"]["is"] < 2 < 0.7 * same["is"]["is_real"] < same["is"]["is"] < 1.3 * same["is"]["is_real"]


def test_a_collapsed_generator_scores_worse_than_a_diverse_one(shapes):
    _, other, context = shapes
    diverse = all_values(other, context)
    collapsed = all_values(other[:1].repeat(len(other), 1, 1, 1), context)
    assert collapsed["fid"]["fid"] > 10 * diverse["fid"]["fid"]
    assert collapsed["kid"]["kid"] > diverse["kid"]["kid"]
    assert collapsed["prdc"]["recall"] < 0.05 < 0.7 < diverse["prdc"]["recall"]
    assert collapsed["prdc"]["coverage"] < diverse["prdc"]["coverage"]
    assert collapsed["is"]["is"] == pytest.approx(1.0) and diverse["is"]["is"] > 3
    for values in (diverse["prdc"], collapsed["prdc"]):
        assert all(0.0 <= values[k] <= 1.0 for k in ("precision", "recall", "coverage")) and values["density"] >= 0


def test_protocol_says_how_numbers_were_made(shapes):
    data, other, context = shapes
    result = metrics.kid(other, context)
    protocol = result.protocol
    network = protocol["feature_network"]
    assert network["name"] == "gankit-classifier-v1" and network["held_out_accuracy"] > 0.7
    assert network["cache_key"] == classifier.cache_path(context.cache_dir, KEY).stem
    assert protocol["resize"] == "bilinear to 32x32"
    assert (protocol["n_fake"], protocol["n_real"], protocol["subset_size"]) == (150, 150, 75)
    assert protocol["reference"]["dataset_key"] == KEY and protocol["reference"]["dataset"] == data.description
    json.dumps(protocol)  # plain data, stored beside every result


# The classifier: cached once, loaded afterwards -------------------------------------------

def test_the_classifier_is_trained_once_then_loaded_from_the_cache(shapes, monkeypatch):
    _, other, context = shapes
    path = classifier.cache_path(context.cache_dir, KEY)
    assert path.parent.name == "image-classifier" and path.is_file()
    saved = torch.load(path, weights_only=True)
    assert saved["dataset_key"] == KEY and saved["holdout_samples"] == 30 and saved["train_samples"] == 270
    first = metrics.fid(other, context).values["fid"]

    def no_training(*args, **kwargs):
        raise AssertionError("the classifier was retrained")

    monkeypatch.setattr(classifier, "train_classifier", no_training)
    metrics.clear_caches()  # a new process: only the file remains
    assert metrics.fid(other, context).values["fid"] == pytest.approx(first, rel=1e-9)


def test_features_are_computed_once_per_tensor(shapes, monkeypatch):
    _, other, context = shapes
    fake = other.clone()
    calls = []
    original = metrics.Backbone.embed
    monkeypatch.setattr(metrics.Backbone, "embed", lambda self, x, device: calls.append(1) or original(self, x, device))
    metrics.fid(fake, context)
    first = len(calls)
    assert first in (1, 2)  # the fake set's, and the real set's unless an earlier call cached them
    all_values(fake, context)  # kid, is and prdc reuse them
    assert len(calls) == first
    fake.mul_(0.5)  # changed in place: the features are stale
    metrics.fid(fake, context)
    assert len(calls) == first + 1


@pytest.mark.parametrize("channels, size", [(1, 28), (3, 32), (3, 64), (1, 64)])
def test_the_cnn_takes_one_or_three_channels_at_any_size(channels, size):
    net = classifier.SmallCNN(channels, num_classes=7).eval()
    features, logits = net.features_and_logits(torch.rand(5, channels, size, size) * 2 - 1)
    assert features.shape == (5, classifier.FEATURE_DIM) and logits.shape == (5, 7)


def test_unlabelled_data_fall_back_to_a_fixed_random_cnn(tmp_path):
    data = build_shapes(ShapesOptions(count=40, channels=3, size=32))
    x, _ = data.tensors
    unlabelled = type(data)(x, torch.full((40,), -1, dtype=torch.long), num_classes=0)
    context = make_context(unlabelled, x[:20], unlabelled.tensors[1][:20], "unlabelled", tmp_path)
    fid = metrics.fid(x[20:], context)
    assert fid.protocol["feature_network"]["name"] == "gankit-random-cnn-v1"
    assert 0 <= fid.values["fid"] < metrics.fid(noise_like(x[20:]), context).values["fid"]
    score = metrics.inception_score(x[20:], context)
    assert score.values == {} and "no labels" in score.protocol["skipped"]
    assert not (context.cache_dir / "image-classifier").exists()  # nothing trained, nothing cached


# The maths against closed forms ----------------------------------------------------------

def test_frechet_distance_matches_closed_forms():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    s1, s2 = a @ a.T + 0.1 * np.eye(6), b @ b.T + 0.1 * np.eye(6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    expected = (np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2)
                - 2 * np.sum(np.sqrt(np.linalg.eigvals(s1 @ s2).real)))
    got = metrics.frechet_distance(*(torch.from_numpy(t) for t in (mu1, s1, mu2, s2)))
    assert got == pytest.approx(expected, rel=1e-9)
    same = torch.from_numpy(s1)
    assert metrics.frechet_distance(torch.zeros(6), same, torch.zeros(6), same) == pytest.approx(0, abs=1e-9)
    singular = torch.diag(torch.tensor([4.0, 0.0, 1.0], dtype=torch.float64))  # rank-deficient: still exact
    assert metrics.frechet_distance(torch.zeros(3), singular, torch.ones(3), torch.eye(3, dtype=torch.float64)) \
        == pytest.approx(3 + 5 + 3 - 2 * (2 + 0 + 1))


def test_kernel_distance_is_the_unbiased_mmd():
    x, y = torch.randn(12, 4, dtype=torch.float64), torch.randn(12, 4, dtype=torch.float64) + 1
    k = lambda a, b: (a @ b.T / 4 + 1) ** 3  # noqa: E731
    m = 12
    kxx, kyy = k(x, x), k(y, y)
    expected = ((kxx.sum() - kxx.trace()) / (m * (m - 1)) + (kyy.sum() - kyy.trace()) / (m * (m - 1))
                - 2 * k(x, y).mean())
    mean, std = metrics.kernel_distance(x, y, subsets=3, subset_size=m)
    assert mean == pytest.approx(float(expected)) and std == pytest.approx(0, abs=1e-9)


def test_score_from_probs_bounds():
    confident = torch.eye(10, dtype=torch.float64).repeat(4, 1)
    assert metrics.score_from_probs(confident, 4)[0] == pytest.approx(10)
    assert metrics.score_from_probs(torch.full((40, 10), 0.1, dtype=torch.float64), 4) == pytest.approx((1, 0))


def test_precision_recall_on_toy_features():
    real = torch.randn(200, 3, generator=torch.Generator().manual_seed(0))
    # Identical sets: each fake lies in its twin's ball and in the balls of the k reals it is
    # a k-nearest neighbour of, so density is (1 + k) / k.
    assert metrics.precision_recall(real, real.clone()) == pytest.approx(
        {"precision": 1, "recall": 1, "density": 4 / 3, "coverage": 1})
    far = metrics.precision_recall(real, real + 100)
    assert far == {"precision": 0, "recall": 0, "density": 0, "coverage": 0}
    half = metrics.precision_recall(real, real[real[:, 0] > 0])  # the generator covers half the data
    assert half["precision"] > 0.9 and 0.3 < half["recall"] < 0.8


# The FID Inception-v3 ----------------------------------------------------------------------

def test_the_fid_inception_loads_pytorch_fid_keys_and_gives_2048_features(tmp_path, monkeypatch):
    torch.manual_seed(0)
    state = inception.FIDInceptionV3().state_dict()
    for key in ("Conv2d_1a_3x3.conv.weight", "Conv2d_4a_3x3.bn.running_var", "Mixed_5b.branch5x5_2.conv.weight",
                "Mixed_6a.branch3x3dbl_3.bn.bias", "Mixed_6e.branch7x7dbl_5.conv.weight",
                "Mixed_7a.branch7x7x3_4.conv.weight", "Mixed_7c.branch3x3dbl_3b.bn.running_mean", "fc.bias"):
        assert key in state, key
    assert state["fc.weight"].shape == (1008, 2048)
    assert state["Mixed_7b.branch_pool.conv.weight"].shape[:2] == (192, 1280)
    assert not any(k.startswith(("AuxLogits", "blocks")) for k in state)
    old_style = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}  # as old torch saved
    path = tmp_path / inception.WEIGHTS_NAME
    torch.save(old_style, path)

    monkeypatch.setenv(inception.WEIGHTS_ENV, str(path))
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    real, fake = x[:2], x[2:]
    data = build_shapes(ShapesOptions(count=4))
    context = make_context(data, real, torch.zeros(2, dtype=torch.long), "k", tmp_path)
    features, probs = metrics.embed(metrics.backbone(context), real, context)
    assert features.shape == (2, 2048) and probs.shape == (2, 1008)
    assert torch.allclose(probs.sum(1), torch.ones(2, dtype=torch.float64))
    result = metrics.fid(fake, context)
    assert result.protocol["feature_network"]["name"] == "inception-v3-fid" and math.isfinite(result.values["fid"])
    assert "299x299" in result.protocol["resize"]
    assert metrics.inception_score(fake, context).protocol["classes"] == 1008
    net = metrics.backbone(context).net
    features, logits = net(real)
    assert torch.allclose(net.logits_unbiased(features), logits - net.fc.bias, atol=1e-5)


class TinyInception(torch.nn.Module):
    """A stand-in with the FID network's interface, small enough to score many images: a
    linear map to 32 features and a 6-class fc with a large bias."""

    logits_unbiased = inception.FIDInceptionV3.logits_unbiased

    def __init__(self):
        super().__init__()
        generator = torch.Generator().manual_seed(3)
        self.features = torch.nn.Linear(64, 32)
        self.fc = torch.nn.Linear(32, 6)
        with torch.no_grad():
            self.features.weight.copy_(torch.randn(32, 64, generator=generator))
            self.fc.weight.copy_(torch.randn(6, 32, generator=generator) * 0.3)
            self.fc.bias.copy_(torch.tensor([4.0, -3.0, 2.0, 0.0, -1.0, 3.0]))

    def forward(self, x):
        features = torch.relu(self.features(x.flatten(1)))
        return features, self.fc(features)


def test_the_inception_score_uses_the_logits_without_the_fc_bias(tmp_path, monkeypatch):
    """Issue 16 #2: the Inception Score of the original TensorFlow code (``matmul(pool3, W)``)
    and of torch-fidelity (``logits_unbiased``) leaves the fc bias out; scored here against
    that reference computation, written out in NumPy."""
    net = TinyInception().eval()
    monkeypatch.setattr(metrics, "backbone", lambda context: metrics.Backbone(
        "tiny-inception", "inception", net, {"name": "tiny", "resize": "none"}, batch=16))
    images = torch.rand(60, 1, 8, 8, generator=torch.Generator().manual_seed(4)) * 2 - 1
    data = build_shapes(ShapesOptions(count=4))
    context = make_context(data, images[40:], torch.zeros(20, dtype=torch.long), "tiny", tmp_path)
    result = metrics.inception_score(images[:40], context)

    def reference(x: torch.Tensor, splits: int) -> tuple[float, float]:
        with torch.no_grad():
            features = net(x)[0].double().numpy()
        logits = features @ net.fc.weight.detach().double().numpy().T  # no bias
        probs = np.exp(logits - logits.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        scores = []
        for part in np.split(probs, splits):
            kl = part * (np.log(part) - np.log(part.mean(0, keepdims=True)))
            scores.append(np.exp(kl.sum(1).mean()))
        return float(np.mean(scores)), float(np.std(scores))

    assert result.protocol["splits"] == 10
    assert (result.values["is"], result.values["is_std"]) == pytest.approx(reference(images[:40], 10), rel=1e-6)
    assert (result.values["is_real"], result.values["is_real_std"]) == pytest.approx(reference(images[40:], 10),
                                                                                      rel=1e-6)
    with torch.no_grad():
        features, biased = net(images[:40])
    biased_score = metrics.score_from_probs(torch.softmax(biased.double(), 1), 10)[0]
    assert abs(biased_score - result.values["is"]) > 0.1  # the bias matters: the test can tell


def test_bad_fid_weights_are_one_line_errors(tmp_path):
    with pytest.raises(GankitError, match="does not exist.*pt_inception-2015-12-05"):
        inception.load_fid_inception(tmp_path / "missing.pth")
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(GankitError, match="not the FID Inception-v3 state dict.*missing: Conv2d_1a_3x3"):
        inception.load_fid_inception(tmp_path / "other.pth")


# Registration and gankit evaluate -----------------------------------------------------------

def test_fid_is_registered_first_and_lazily():
    specs: list[MetricSpec] = []
    image_plugin.register_metrics(register=specs.append)
    assert [s.name for s in specs] == ["fid", "kid", "is", "prdc"]
    assert (specs[0].primary, specs[0].higher_is_better) == ("fid", False)
    assert all(s.domain == "image" and s.compute.__doc__.startswith("Imports") for s in specs)


def test_gankit_evaluate_scores_an_image_run(shapes, tmp_path):
    run = gankit.train("image", steps=3, batch_size=16, count=300, out=str(tmp_path / "run"), quiet=True)
    result = evaluate(run.dir, n=100)
    assert set(result["metrics"]) == {"fid", "kid", "is", "prdc"}
    values = {f"{m}/{k}": v for m, r in result["metrics"].items() for k, v in r["values"].items()}
    assert all(math.isfinite(v) for v in values.values()) and values["fid/fid"] > 0
    assert result["metrics"]["fid"]["protocol"]["feature_network"]["cache_key"] == \
        classifier.cache_path(shapes[2].cache_dir, KEY).stem  # the module's classifier, from the cache
    json.loads(json.dumps(result))
    assert primary_metric(get_registry(), "image").name == "fid"
    scored = gankit.train("image", steps=2, batch_size=16, count=300, eval_every=2, eval_samples=50,
                          out=str(tmp_path / "scored"), quiet=True)
    assert any("eval/fid/fid" in record for record in scored.metrics)
    assert (scored.dir / "checkpoints" / "best.pt").exists()


def test_non_finite_samples_are_a_clear_error(shapes):
    _, other, context = shapes
    broken = other.clone()
    broken[0, 0, 0, 0] = float("nan")
    with pytest.raises(GankitError, match="non-finite"):
        metrics.fid(broken, context)
