"""gankit.classifier: training a domain's feature classifier on a labelled dataset, caching
it by dataset key, reusing it, and falling back when the data have no labels. A 2-D toy
problem and a tiny network keep it fast; the image and audio tests train the real ones."""

from __future__ import annotations

import logging

import pytest
import torch
from torch import nn

from gankit import classifier as shared
from gankit.specs import DataInfo

RECIPE = shared.Recipe(folder="toy-classifier", version=1, min_steps=60, max_steps=200, lr=2e-2)
CENTRES = torch.tensor([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])


class Toy(nn.Module):
    def __init__(self, classes: int):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, 16), nn.ReLU())
        self.head = nn.Linear(16, classes)
        self.register_buffer("feature_scale", torch.ones(()))

    def features_and_logits(self, x):
        hidden = self.body(x)
        return hidden * self.feature_scale, self.head(hidden)

    def forward(self, x):
        return self.head(self.body(x))


class Blobs:
    """Three Gaussian blobs, labelled by blob (or -1 when ``labelled`` is False); with
    ``tensors`` by default, or item by item only."""

    def __init__(self, n=300, labelled=True, in_memory=True, seed=0):
        rng = torch.Generator().manual_seed(seed)
        y = torch.arange(n) % 3
        self.x = CENTRES[y] + torch.randn(n, 2, generator=rng)
        self.y = y if labelled else torch.full((n,), -1)
        self.info = DataInfo(shape=(2,), num_classes=3 if labelled else 0)
        if in_memory:
            self.tensors = (self.x, self.y)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


def fit(x, y):
    return shared.train(Toy, x, y, RECIPE, "blobs", extra={"inputs": 2})


def restore(state, path):
    return shared.FeatureNet(shared.restore(Toy, state), {"name": "toy", **shared.describe(state, RECIPE, path)}, True)


def fallback():
    return shared.FeatureNet(Toy(1).eval(), {"name": "toy-random"}, False)


@pytest.fixture(autouse=True)
def _fresh_memory():
    shared.clear_memory_cache()
    yield
    shared.clear_memory_cache()


def test_steps_follow_the_dataset_size():
    assert RECIPE.steps(100) == 60  # 2 batches an epoch: min_steps
    assert RECIPE.steps(64) == 50  # 1 batch an epoch: at most max_epochs (50) epochs
    assert RECIPE.steps(64 * 50) == 150  # 50 batches an epoch: at least 3 epochs
    assert RECIPE.steps(64 * 1000) == 200  # capped at max_steps


def test_labelled_data_needs_enough_labels_and_classes():
    x, y = shared.labelled_data(Blobs(), RECIPE)
    assert x.shape == (300, 2) and y.tolist()[:4] == [0, 1, 2, 0]
    assert shared.labelled_data(Blobs(labelled=False), RECIPE) == (None, None)
    assert shared.labelled_data(Blobs(labelled=False, in_memory=False), RECIPE) == (None, None)
    assert shared.labelled_data(Blobs(n=19), RECIPE) == (None, None)  # fewer than min_labelled
    one_class = Blobs()
    one_class.tensors = (one_class.x, torch.zeros(300, dtype=torch.long))
    assert shared.labelled_data(one_class, RECIPE) == (None, None)
    partly = Blobs()
    partly.tensors = (partly.x, torch.where(torch.arange(300) < 100, partly.y, -1))
    assert len(shared.labelled_data(partly, RECIPE)[1]) == 100  # unlabelled samples are left out
    item_by_item = shared.labelled_data(Blobs(in_memory=False), RECIPE)
    assert torch.equal(item_by_item[0], x) and torch.equal(item_by_item[1], y)
    capped = shared.Recipe(folder="t", version=1, max_train=50)
    sub_x, sub_y = shared.labelled_data(Blobs(), capped)
    assert len(sub_x) == 50 and sub_x.tolist() != x[:50].tolist()  # a seeded subset, not the first 50
    assert torch.equal(shared.labelled_data(Blobs(), capped)[0], sub_x)


def test_training_learns_the_classes_is_seeded_and_fixes_the_feature_scale():
    data = Blobs()
    x, y = data.tensors
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        untrained = Toy(3).eval()
    with torch.no_grad():
        assert float((untrained(x).argmax(1) == y).float().mean()) < 0.7
    state = fit(x, y)
    assert state["accuracy"] >= 0.9 and state["holdout_samples"] == 30 and state["train_samples"] == 270
    assert (state["num_classes"], state["inputs"], state["steps"], state["format_version"]) == (3, 2, 60, 1)
    net = shared.restore(Toy, state)
    with torch.no_grad():
        features = net.features_and_logits(x)[0]
    assert float(features.pow(2).mean()) == pytest.approx(1, rel=0.1)  # the training data's, up to the holdout
    again = fit(x, y)
    assert all(torch.equal(again["state_dict"][k], v) for k, v in state["state_dict"].items())


def test_feature_net_trains_once_caches_and_reloads(tmp_path):
    data = Blobs()
    calls = []

    def counting_fit(x, y):
        calls.append(len(x))
        return fit(x, y)

    first = shared.feature_net(RECIPE, data, "blobs", tmp_path, fit=counting_fit, restore=restore, fallback=fallback)
    path = shared.cache_path(tmp_path, RECIPE, "blobs")
    assert calls == [300] and path.is_file() and path.parent.name == "toy-classifier"
    assert first.has_classes and first.protocol["cache_key"] == path.stem and first.protocol["dataset_key"] == "blobs"
    assert shared.feature_net(RECIPE, data, "blobs", tmp_path, fit=counting_fit, restore=restore,
                              fallback=fallback) is first  # from memory
    shared.clear_memory_cache()
    second = shared.feature_net(RECIPE, data, "blobs", tmp_path, fit=counting_fit, restore=restore, fallback=fallback)
    assert calls == [300] and second is not first  # from the file
    assert all(torch.equal(a, b) for a, b in zip(first.net.state_dict().values(), second.net.state_dict().values()))
    other = shared.feature_net(RECIPE, data, "other-key", tmp_path, fit=counting_fit, restore=restore,
                               fallback=fallback)
    assert calls == [300, 300] and other.protocol["cache_key"] != path.stem


def test_a_stale_or_broken_cache_is_retrained(tmp_path, caplog):
    data = Blobs()
    path = shared.cache_path(tmp_path, RECIPE, "blobs")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"truncated")
    calls = []

    def counting_fit(x, y):
        calls.append(1)
        return fit(x, y)

    with caplog.at_level(logging.WARNING, logger="gankit"):
        shared.feature_net(RECIPE, data, "blobs", tmp_path, fit=counting_fit, restore=restore, fallback=fallback)
    assert calls == [1] and any("unreadable" in r.getMessage() for r in caplog.records)
    assert shared.load(path, RECIPE, "blobs") is not None
    newer = shared.Recipe(folder="toy-classifier", version=2, min_steps=60, max_steps=200, lr=2e-2)
    assert shared.load(path, newer, "blobs") is None  # another recipe version: retrain
    assert shared.load(path, RECIPE, "another dataset") is None


def test_unlabelled_data_get_the_fallback_and_nothing_is_cached(tmp_path):
    found = shared.feature_net(RECIPE, Blobs(labelled=False), "plain", tmp_path,
                               fit=lambda x, y: pytest.fail("trained on unlabelled data"), restore=restore,
                               fallback=fallback)
    assert not found.has_classes and found.protocol["name"] == "toy-random"
    assert not (tmp_path / "toy-classifier").exists()


def test_fix_feature_scale_makes_the_mean_squared_feature_one():
    net = Toy(2).eval()
    probe = torch.randn(64, 2, generator=torch.Generator().manual_seed(0)) * 10
    shared.fix_feature_scale(net, [probe[:40], probe[40:]])
    with torch.no_grad():
        assert float(net.features_and_logits(probe)[0].pow(2).mean()) == pytest.approx(1, rel=1e-5)
