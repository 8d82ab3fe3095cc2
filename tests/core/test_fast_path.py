"""The fast path on the CPU: a step that never reads the device, a skip policy without a
sync, the switches and their rules, batches decoded from uint8, persistent DataLoader
workers, the on-disk cache of decoded datasets, and --compile."""

from __future__ import annotations

import os
import time
import traceback
import wave
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import gankit
from gankit.checkpoint import load_checkpoint
from gankit.data import BatchStream
from gankit.errors import GankitError
from gankit.fastpath import resolve_fast_path
from gankit.models import Generator

# Tensor methods that make the host wait for the device (on an accelerator).
SYNC_METHODS = ("item", "tolist", "__bool__", "__float__", "__int__", "__index__", "cpu", "numpy")


@pytest.fixture
def sync_guard(monkeypatch):
    """Records every call of a sync-inducing Tensor method while ``guard.forbidden`` is
    true, with the stack that made it."""
    guard = SimpleNamespace(forbidden=False, caught=[], allowed=0)

    def wrap(name, original):
        def guarded(self, *args, **kwargs):
            if guard.forbidden:
                guard.caught.append(f"Tensor.{name}\n" + "".join(traceback.format_stack(limit=8)[:-1]))
            else:
                guard.allowed += 1
            return original(self, *args, **kwargs)
        return guarded

    for name in SYNC_METHODS:
        monkeypatch.setattr(torch.Tensor, name, wrap(name, getattr(torch.Tensor, name)))
    return guard


def _forbid_outside_log_steps(monkeypatch, generator_class, guard, log_every, total):
    """Syncs are forbidden in every step that does not end in a log (``on_step`` starts a step)."""
    def on_step(self, step, total_steps):
        guard.forbidden = (step + 1) % log_every != 0 and step + 1 != total

    monkeypatch.setattr(generator_class, "on_step", on_step)


@pytest.mark.parametrize("extra", [
    {"on_nan": "skip", "penalty": "r1", "grad_clip": 1.0, "ema_decay": 0.9},
    {"on_nan": "stop", "penalty": "gp", "n_critic": 2},
], ids=["skip-r1-clip-ema", "gp-ncritic"])
def test_the_step_never_syncs_outside_log_steps(gauss_plugin, sync_guard, monkeypatch, tmp_path, extra):
    _forbid_outside_log_steps(monkeypatch, gauss_plugin.PointGenerator, sync_guard, log_every=10, total=30)
    run = gankit.train("gauss", steps=30, log_every=10, checkpoint_every=1000, sample_every=0, out=str(tmp_path / "r"),
                       quiet=True, **extra)
    sync_guard.forbidden = False
    assert run.step == 30
    assert not sync_guard.caught, sync_guard.caught[0]
    assert sync_guard.allowed > 0  # the log steps do read the losses


def test_image_steps_with_uint8_data_and_channels_last_never_sync(sync_guard, monkeypatch, tmp_path):
    from gankit.plugins.image.dcgan import DCGANGenerator

    _forbid_outside_log_steps(monkeypatch, DCGANGenerator, sync_guard, log_every=5, total=10)
    gankit.train("image", model="dcgan", steps=10, log_every=5, batch_size=8, size=32, count=64, width=8,
                 channels_last="on", ema_decay=0.9, sample_every=0, num_preview=4, out=str(tmp_path / "r"), quiet=True)
    sync_guard.forbidden = False
    assert not sync_guard.caught, sync_guard.caught[0]


def test_the_sync_guard_catches_a_sync(gauss_plugin, sync_guard, monkeypatch, tmp_path):
    _forbid_outside_log_steps(monkeypatch, gauss_plugin.PointGenerator, sync_guard, log_every=10, total=20)
    forward = gauss_plugin.PointDiscriminator.forward

    def reads_its_output(self, x, labels=None):
        out = forward(self, x, labels)
        if torch.isfinite(out).all():  # a Python `if` on a tensor: the sync the engine avoids
            return out
        return out

    monkeypatch.setattr(gauss_plugin.PointDiscriminator, "forward", reads_its_output)
    gankit.train("gauss", steps=20, log_every=10, sample_every=0, out=str(tmp_path / "r"), quiet=True)
    sync_guard.forbidden = False
    assert sync_guard.caught and "Tensor.__bool__" in sync_guard.caught[0]


def test_skip_leaves_weights_and_adam_state_untouched(gauss_plugin, tmp_path):
    """Every D output is NaN, so every update of both networks is skipped on the device:
    the weights end as they started and Adam's step counts stay 0."""
    run = gankit.train("gauss", steps=12, log_every=4, on_nan="skip", nan_from=0, nan_until=10**9, seed=3,
                       out=str(tmp_path / "r"), quiet=True)
    assert [r["skipped_updates"] for r in run.metrics] == [8, 8, 8]  # D and G phase, 4 steps a log
    torch.manual_seed(3)
    options = gauss_plugin.NetOptions()
    start_g, start_d = gauss_plugin.PointGenerator(options, 2), gauss_plugin.PointDiscriminator(options, 2)
    state = load_checkpoint(run.dir / "checkpoints" / "last.pt")
    for start, name in ((start_g, "generator"), (start_d, "discriminator")):
        for key, value in start.state_dict().items():
            assert torch.equal(state[name][key], value), f"{name}.{key} changed"
    for name in ("optimizer_g", "optimizer_d"):
        assert all(float(s["step"]) == 0 for s in state[name]["state"].values())


def test_skip_updates_normally_between_bad_steps(gauss_plugin, tmp_path):
    run = gankit.train("gauss", steps=40, log_every=10, on_nan="skip", nan_from=40, nan_until=46, seed=1,
                       out=str(tmp_path / "skip"), quiet=True)
    clean = gankit.train("gauss", steps=40, log_every=10, seed=1, out=str(tmp_path / "clean"), quiet=True)
    assert [r.get("skipped_updates", 0) for r in run.metrics] == [0, 4, 0, 0]  # D: 3 calls a step, 2 steps hit
    # Until the first NaN the two runs are the same: the skip policy costs no numerics.
    assert run.metrics[0]["d_loss"] == clean.metrics[0]["d_loss"]
    assert run.metrics[-1]["step"] == 40 and np.isfinite(run.metrics[-1]["d_loss"])


# The switches -------------------------------------------------------------------------------

def _cfg(**overrides):
    values = {"channels_last": "auto", "compile": False, "cuda_graphs": False, **overrides}
    return SimpleNamespace(**values)


def _pairs():
    from gankit.plugins.image.dcgan import build as build_dcgan
    from gankit.plugins.image.mlp import build as build_mlp
    from gankit.plugins.image.options import DCGANOptions, MLPOptions
    from gankit.specs import DataInfo

    info = DataInfo(shape=(1, 32, 32))
    return build_dcgan(DCGANOptions(width=4), info), build_mlp(MLPOptions(hidden=8), info)


def test_channels_last_auto_is_on_for_convolutional_models_on_cuda_only():
    (conv_g, conv_d), (mlp_g, mlp_d) = _pairs()
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    resolve = lambda cfg, device, g, d: resolve_fast_path(cfg, device, g, d, uses_scaler=False, distributed=False)
    assert resolve(_cfg(), cuda, conv_g, conv_d).channels_last
    assert not resolve(_cfg(), cuda, mlp_g, mlp_d).channels_last
    assert not resolve(_cfg(), cpu, conv_g, conv_d).channels_last
    assert resolve(_cfg(channels_last="on"), cpu, mlp_g, mlp_d).channels_last
    assert not resolve(_cfg(channels_last="off"), cuda, conv_g, conv_d).channels_last


@pytest.mark.parametrize("device, overrides, kwargs, message", [
    ("cpu", {}, {}, "needs a CUDA device"),
    ("cuda", {}, {"uses_scaler": True}, "GradScaler"),
    ("cuda", {}, {"distributed": True}, "all-reduce"),
    ("cuda", {"compile": True}, {}, "choose one"),
])
def test_cuda_graphs_refuses_what_it_cannot_capture(device, overrides, kwargs, message):
    _, (g, d) = _pairs()
    arguments = {"uses_scaler": False, "distributed": False, **kwargs}
    with pytest.raises(GankitError, match=f"--cuda-graphs cannot be used here: .*{message}"):
        resolve_fast_path(_cfg(cuda_graphs=True, **overrides), torch.device(device), g, d, **arguments)


def test_cuda_graphs_refuses_a_generator_with_a_schedule():
    class Scheduled(Generator):
        def on_step(self, step, total_steps):
            self.temperature = 1 - step / total_steps

    _, (_, d) = _pairs()
    with pytest.raises(GankitError, match="on_step"):
        resolve_fast_path(_cfg(cuda_graphs=True), torch.device("cuda"), Scheduled(), d, uses_scaler=False,
                          distributed=False)


def test_cuda_graphs_on_the_cpu_is_a_clear_error(gauss_plugin, tmp_path):
    with pytest.raises(GankitError, match="--cuda-graphs cannot be used here: it needs a CUDA device"):
        gankit.train("gauss", steps=2, device="cpu", cuda_graphs=True, out=str(tmp_path / "r"), quiet=True)


def test_channels_last_on_changes_nothing_but_the_layout(tmp_path, monkeypatch):
    if torch.cuda.is_available():  # run by gpu_check.sh there: compare without TF32's rounding
        monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
        monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    common = dict(model="dcgan", steps=6, log_every=3, batch_size=8, size=32, count=64, width=8, seed=2,
                  sample_every=0, num_preview=4, quiet=True)
    plain = gankit.train("image", channels_last="off", out=str(tmp_path / "off"), **common)
    last = gankit.train("image", channels_last="on", out=str(tmp_path / "on"), **common)
    trained = load_checkpoint(last.dir / "checkpoints" / "last.pt")["generator"]["net.0.weight"]
    assert trained.is_contiguous(memory_format=torch.channels_last)  # the run trained in that layout
    for key, value in plain.generator.state_dict().items():
        torch.testing.assert_close(last.generator.state_dict()[key], value, rtol=1e-4, atol=1e-5)
    # A checkpoint of a channels-last run loads anywhere and exports.
    assert gankit.load(last.dir, device="cpu").sample(2).shape == (2, 1, 32, 32)


# Data -------------------------------------------------------------------------------------------

def test_images_are_stored_as_uint8_and_come_out_canonical(tmp_path):
    from gankit.evaluation import real_subset
    from gankit.plugins.image.datasets import build_shapes
    from gankit.plugins.image.options import ShapesOptions
    from gankit.testing import check_dataset

    data = build_shapes(ShapesOptions(count=40, size=16))
    stored, labels = data.storage
    assert stored.dtype == torch.uint8 and stored.shape == (40, 1, 16, 16)
    expected = stored.float().div(127.5).sub(1.0)
    assert torch.equal(data.tensors[0], expected) and data.tensors[0].dtype == torch.float32
    assert torch.equal(data[3][0], expected[3])
    x, y = real_subset(data, 10, seed=0)
    assert x.dtype == torch.float32 and x.min() >= -1 and x.max() <= 1 and len(y) == 10
    check_dataset(data)
    stream = BatchStream(data, 8, seed=0, device=torch.device("cpu"))
    batch, batch_labels = stream.next()
    assert stream.mode == "resident" and batch.dtype == torch.float32
    order = torch.randperm(40, generator=torch.Generator().manual_seed(0))[:8]
    assert torch.equal(batch, expected[order]) and torch.equal(batch_labels, labels[order])


def test_dataloader_workers_persist_across_epochs(gauss_plugin):
    from gankit.registry import get_registry

    spec = get_registry().dataset("gauss", "points-loader")
    data = spec.build(gauss_plugin.PointsOptions(count=64), None)
    stream = BatchStream(data, 16, seed=0, device=torch.device("cpu"), num_workers=1)
    first = [stream.next()[0] for _ in range(4)]
    loader = stream._loader
    second = [stream.next()[0] for _ in range(4)]  # the next epoch
    assert stream.mode == "loader" and stream._loader is loader and loader.persistent_workers
    assert stream.epoch == 1 and not all(torch.equal(a, b) for a, b in zip(first, second))
    resumed = BatchStream(data, 16, seed=0, device=torch.device("cpu"), num_workers=1)
    resumed.load_state_dict({"epoch": 1, "index": 2, "seed": 0})
    assert torch.equal(resumed.next()[0], second[2])


def _write_pngs(folder, count, size=12):
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(count):
        sub = folder / ("a" if i % 2 else "b")
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(sub / f"{i}.png")


def test_a_decoded_image_folder_is_cached_on_disk(tmp_path, monkeypatch):
    from gankit.plugins.image import folder as folder_module
    from gankit.plugins.image.options import FolderOptions

    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    _write_pngs(tmp_path / "images", 6)
    decoded = []
    load = folder_module._load
    monkeypatch.setattr(folder_module, "_load", lambda path, *args: decoded.append(path) or load(path, *args))
    build = lambda **options: folder_module.build_folder(FolderOptions(channels=3, **options), tmp_path / "images")

    first = build(size=8)
    assert len(decoded) == 6 and first.storage[0].dtype == torch.uint8
    again = build(size=8)
    assert len(decoded) == 6  # from the cache
    assert torch.equal(again.storage[0], first.storage[0]) and torch.equal(again.storage[1], first.storage[1])
    build(size=4)
    assert len(decoded) == 12  # other options: decoded
    path = tmp_path / "images" / "a" / "1.png"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    build(size=8)
    assert len(decoded) == 18  # a file changed: decoded
    monkeypatch.setenv("GANKIT_DATA_CACHE", "0")
    build(size=8)
    assert len(decoded) == 24  # cache off


def _write_wav(path, seconds=0.1, rate=8000, freq=440.0):
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.5 * np.sin(2 * np.pi * freq * t) * 32767).astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(samples.tobytes())


def test_a_decoded_audio_folder_is_cached_on_disk(tmp_path, monkeypatch):
    from gankit.plugins.audio import datasets as audio_datasets
    from gankit.plugins.audio.options import FolderOptions

    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    for i in range(3):
        _write_wav(tmp_path / "sounds" / f"{i}.wav", freq=300.0 + 100 * i)
    read = []
    read_mono = audio_datasets.read_mono
    monkeypatch.setattr(audio_datasets, "read_mono", lambda path: read.append(path) or read_mono(path))
    options = FolderOptions(sample_rate=8000, length=512)

    first = audio_datasets.build_folder(options, tmp_path / "sounds")
    again = audio_datasets.build_folder(options, tmp_path / "sounds")
    assert len(read) == 3 and torch.equal(again.storage[0], first.storage[0])
    _write_wav(tmp_path / "sounds" / "0.wav", seconds=0.2)  # a new size: decoded again
    changed = audio_datasets.build_folder(options, tmp_path / "sounds")
    assert len(read) == 6 and torch.equal(changed.storage[0][1:], first.storage[0][1:])


# --compile ----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_compile_trains_like_eager_on_the_cpu(tmp_path):
    """torch.compile (inductor, C++ on the CPU) of both phases; about a minute here, almost
    all of it compiling."""
    import torch._dynamo

    torch._dynamo.reset()
    common = dict(model="mlp", steps=12, log_every=4, batch_size=16, hidden=16, size=8, count=128, seed=1,
                  ema_decay=0.0, penalty="r1", sample_every=0, num_preview=4, quiet=True)
    eager = gankit.train("image", out=str(tmp_path / "eager"), **common)
    started = time.monotonic()
    compiled = gankit.train("image", compile=True, out=str(tmp_path / "compiled"), **common)
    assert torch._dynamo.utils.counters["frames"]["ok"] >= 2, "nothing was compiled"
    for key, value in eager.generator.state_dict().items():
        torch.testing.assert_close(compiled.generator.state_dict()[key], value, rtol=1e-4, atol=1e-5)
    assert time.monotonic() - started < 600
