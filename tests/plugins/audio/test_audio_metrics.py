"""The audio metrics (fd, is, spectral): the log-mel classifier and its cache, the metrics on
real, noise, collapsed and silent "generators", spectral statistics of known signals, the
unlabelled fallback, and ``gankit evaluate`` on an audio run.

One classifier is trained for the whole module, on ``tones`` with 240 clips of 4096
samples at 8 kHz (the dataset the end-to-end run uses, so that run loads it from the cache)."""

from __future__ import annotations

import json
import math

import pytest
import torch

import gankit
import gankit.plugins.audio as audio_plugin
from gankit.errors import GankitError
from gankit.evaluation import dataset_key, evaluate, primary_metric
from gankit.plugins.audio import classifier, metrics
from gankit.plugins.audio.datasets import InMemoryAudioDataset, build_tones
from gankit.plugins.audio.options import TonesOptions
from gankit.registry import get_registry
from gankit.specs import EvalContext, MetricSpec

RATE, LENGTH = 8000, 4096
OPTIONS = TonesOptions(count=240, sample_rate=RATE, length=LENGTH)
KEY = dataset_key("tones", OPTIONS, None)
ACCURACY = 0.9  # the stated held-out accuracy of the classifier on these 12 pitch classes


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """GANKIT_CACHE in a temporary folder for the module; in-process caches cleared around it."""
    folder = tmp_path_factory.mktemp("gankit-cache")
    metrics.clear_caches()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GANKIT_CACHE", str(folder))
        yield folder
    metrics.clear_caches()


@pytest.fixture(scope="module")
def tones(cache):
    """The dataset, a real reference half, the other real half, and a context (which trains
    the classifier on first use)."""
    data = build_tones(OPTIONS)
    x, y = data.tensors
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    real, other = order[:120], order[120:]
    context = make_context(data, x[real], y[real], KEY, cache)
    metrics.fd(x[other], context)  # trains and caches the classifier once
    return data, x[other], context


def make_context(data, real, labels, key, cache_folder):
    return EvalContext(real=real, real_labels=labels, fake_labels=None, info=data.info, dataset=data,
                       dataset_key=key, cache_dir=cache_folder / "metrics", device=torch.device("cpu"), seed=0)


def scores(fake, context):
    return {"fd": metrics.fd(fake, context).values["fd"], **metrics.inception_score(fake, context).values}


def noise_like(x):
    return torch.rand(x.shape, generator=torch.Generator().manual_seed(1)) * 2 - 1


def sine(freq, amp=0.5, length=LENGTH, rate=RATE, n=1):
    t = torch.arange(length, dtype=torch.float64) / rate
    return (amp * torch.sin(2 * math.pi * freq * t)).float().expand(n, 1, length).clone()


# The classifier ----------------------------------------------------------------------------

def test_the_classifier_learns_the_pitch_classes_of_tones(tones):
    _, _, context = tones
    network = metrics.feature_network(context).protocol
    assert network["name"] == "gankit-audio-classifier-v1" and network["num_classes"] == 12
    assert network["held_out_accuracy"] >= ACCURACY and network["held_out_samples"] == 24
    # The bound means something: the same network untrained is at chance on the same clips.
    data, _, _ = tones
    x, y = data.tensors
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        untrained = classifier.LogMelCNN(RATE, 12).eval()
    with torch.no_grad():
        chance = float((untrained(x).argmax(1) == y).float().mean())
    assert chance < 0.3 < ACCURACY


def test_the_classifier_is_trained_once_then_loaded_from_the_cache(tones, monkeypatch):
    _, other, context = tones
    path = classifier.cache_path(context.cache_dir, KEY)
    assert path.parent.name == "audio-classifier" and path.is_file()
    saved = torch.load(path, weights_only=True)
    assert saved["dataset_key"] == KEY and saved["sample_rate"] == RATE and saved["train_samples"] == 216
    first = metrics.fd(other, context).values["fd"]

    def no_training(*args, **kwargs):
        raise AssertionError("the classifier was retrained")

    monkeypatch.setattr(classifier, "train_classifier", no_training)
    metrics.clear_caches()  # a new process: only the file remains
    assert metrics.fd(other, context).values["fd"] == pytest.approx(first, rel=1e-9)


@pytest.mark.parametrize(("rate", "length"), [(8000, 256), (16000, 16384), (22050, 4096)])
def test_the_network_takes_any_rate_and_length(rate, length):
    net = classifier.LogMelCNN(rate, num_classes=5).eval()
    features, logits = net.features_and_logits(torch.rand(3, 1, length) * 2 - 1)
    assert features.shape == (3, classifier.FEATURE_DIM) and logits.shape == (3, 5)
    with pytest.raises(GankitError, match="N×1×T"):
        net(torch.zeros(3, length))


# The metrics on real, noise and collapsed "generators" ----------------------------------------

def test_real_vs_real_fd_is_near_zero_and_far_from_noise(tones):
    _, other, context = tones
    same, noise = scores(other, context), scores(noise_like(other), context)
    assert 0 <= same["fd"] < 0.05 * noise["fd"]
    assert noise["is"] < 1.5 < 0.8 * same["is_real"] < same["is"] < 1.2 * same["is_real"]


def test_a_collapsed_generator_scores_worse_than_a_diverse_one(tones):
    _, other, context = tones
    diverse = scores(other, context)
    collapsed = scores(other[:1].repeat(len(other), 1, 1), context)
    assert collapsed["fd"] > 10 * diverse["fd"]
    assert collapsed["is"] == pytest.approx(1.0) and diverse["is"] > 4


def test_protocol_says_how_numbers_were_made(tones):
    data, other, context = tones
    result = metrics.inception_score(other, context)
    protocol = result.protocol
    assert protocol["classifier_held_out_accuracy"] == protocol["feature_network"]["held_out_accuracy"]
    assert protocol["feature_network"]["cache_key"] == classifier.cache_path(context.cache_dir, KEY).stem
    network_input = protocol["feature_network"]["input"]
    assert "8000 Hz" in network_input and "Hann window 256" in network_input
    assert (protocol["n_fake"], protocol["n_real"], protocol["sample_rate"], protocol["splits"]) == (120, 120, RATE, 10)
    assert protocol["reference"]["dataset_key"] == KEY and protocol["reference"]["dataset"] == data.description
    json.dumps(protocol)
    json.dumps(metrics.spectral(other, context).protocol)


def test_features_are_computed_once_per_tensor(tones, monkeypatch):
    _, other, context = tones
    fake = other.clone()
    calls = []
    original = metrics._embed
    monkeypatch.setattr(metrics, "_embed", lambda *args: calls.append(1) or original(*args))
    metrics.fd(fake, context)
    first = len(calls)
    assert first in (1, 2)  # the fake set's, and the real set's unless an earlier call cached them
    metrics.inception_score(fake, context)
    assert len(calls) == first
    fake.mul_(0.5)  # changed in place: the features are stale
    metrics.fd(fake, context)
    assert len(calls) == first + 1


def test_bad_samples_are_clear_errors(tones):
    _, other, context = tones
    broken = other.clone()
    broken[0, 0, 0] = float("nan")
    with pytest.raises(GankitError, match="non-finite"):
        metrics.fd(broken, context)
    with pytest.raises(GankitError, match="shaped like the real ones"):
        metrics.spectral(other[:, :, :100], context)
    with pytest.raises(GankitError, match="at least 2"):
        metrics.spectral(other[:1], context)


# Spectral statistics ---------------------------------------------------------------------

def test_spectral_stats_of_a_known_sine():
    # 1000 Hz lies on an FFT bin (31.25 Hz bins), 1234 Hz between two; a sine's RMS is amp/√2.
    for freq in (1000.0, 1234.0):
        stats = metrics.spectral_stats(sine(freq, amp=0.5, n=3), RATE)
        assert stats["rms"] == pytest.approx(0.5 / math.sqrt(2), rel=1e-3)
        assert stats["centroid_hz"] == pytest.approx(freq, rel=0.02)
        assert stats["silence"] == 0 and stats["silent_clips"] == 0
    half = sine(500.0, amp=0.5)
    half[..., LENGTH // 2:] = 0  # the second half silent: 2048 samples = 25.6 ten-ms frames of 51.2
    stats = metrics.spectral_stats(half, RATE)
    assert stats["silence"] == pytest.approx(25 / 51, abs=1e-9)
    assert stats["rms"] == pytest.approx(0.5 / math.sqrt(2) / math.sqrt(2), rel=1e-3)
    assert stats["centroid_hz"] == pytest.approx(500, rel=0.06)  # the cut's click adds a little splatter
    quiet = metrics.spectral_stats(sine(500.0, amp=0.005), RATE)  # -49 dBFS RMS: below the threshold
    assert quiet["silence"] == 1 and quiet["centroid_hz"] == pytest.approx(500, rel=0.03)
    silent = metrics.spectral_stats(torch.zeros(2, 1, LENGTH), RATE)
    assert silent == {"rms": 0.0, "silence": 1.0, "centroid_hz": 0.0, "silent_clips": 2}


def test_spectral_metric_compares_fakes_with_reals(tones):
    _, other, context = tones
    same = metrics.spectral(other, context).values
    real = metrics.spectral_stats(context.real, RATE)
    assert same["rms_real"] == pytest.approx(real["rms"]) and same["centroid_hz_real"] == pytest.approx(
        real["centroid_hz"])
    bright = metrics.spectral(sine(3000.0, amp=0.9, n=len(other)), context).values
    assert bright["centroid_hz_fake"] == pytest.approx(3000, rel=0.02)
    for name in ("rms", "silence", "centroid_hz"):
        assert bright[f"{name}_diff"] == pytest.approx(abs(bright[f"{name}_fake"] - bright[f"{name}_real"]))
        assert bright[f"{name}_diff"] > 3 * same[f"{name}_diff"]  # the tones are quieter, duller, decaying


# Unlabelled data ---------------------------------------------------------------------------

def test_unlabelled_data_fall_back_to_fixed_random_features(tmp_path):
    data = build_tones(TonesOptions(count=40, sample_rate=RATE, length=LENGTH))
    x, _ = data.tensors
    unlabelled = InMemoryAudioDataset(x, torch.full((40,), -1, dtype=torch.long), sample_rate=RATE, num_classes=0)
    context = make_context(unlabelled, x[:20], unlabelled.tensors[1][:20], "unlabelled", tmp_path)
    same = metrics.fd(x[20:], context)
    assert same.protocol["feature_network"]["name"] == "gankit-audio-random-cnn-v1"
    assert 0 <= same.values["fd"] < 0.2 * metrics.fd(noise_like(x[20:]), context).values["fd"]
    score = metrics.inception_score(x[20:], context)
    assert score.values == {} and "no labels" in score.protocol["skipped"]
    assert metrics.spectral(x[20:], context).values["rms_diff"] >= 0
    assert not (context.cache_dir / "audio-classifier").exists()  # nothing trained, nothing cached


# Registration and gankit evaluate -----------------------------------------------------------

def test_fd_is_registered_first_and_lazily():
    specs: list[MetricSpec] = []
    audio_plugin.register_metrics(register=specs.append)
    assert [s.name for s in specs] == ["fd", "is", "spectral", "vocoder", "stoi", "pesq"]  # the last 3: test_vocode
    assert (specs[0].primary, specs[0].higher_is_better) == ("fd", False)
    assert all(s.domain == "audio" and s.compute.__doc__.startswith("Imports") for s in specs)
    assert primary_metric(get_registry(), "audio").name == "fd"


def test_gankit_evaluate_scores_an_audio_run(tones, tmp_path):
    run = gankit.train("audio", steps=2, batch_size=16, count=240, sample_rate=RATE, length=LENGTH, width=4,
                       out=str(tmp_path / "run"), quiet=True, preset="none")  # the fixture's data, not the cpu preset's
    result = evaluate(run.dir, n=60)
    assert set(result["metrics"]) == {"fd", "is", "spectral", "vocoder", "stoi", "pesq"}
    assert all("vocoder runs only" in result["metrics"][name]["protocol"]["skipped"]
               for name in ("vocoder", "stoi", "pesq"))
    values = {f"{m}/{k}": v for m, r in result["metrics"].items() for k, v in r["values"].items()}
    assert all(math.isfinite(v) for v in values.values())
    assert values["fd/fd"] > scores(tones[1][:60], tones[2])["fd"]  # an untrained generator is far from the data
    assert result["metrics"]["fd"]["protocol"]["feature_network"]["cache_key"] == \
        classifier.cache_path(tones[2].cache_dir, KEY).stem  # the module's classifier, from the cache
    json.loads(json.dumps(result))
