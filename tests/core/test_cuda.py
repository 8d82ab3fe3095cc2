"""The fast path on a CUDA device (skipped without one; benchmarks/gpu_check.sh runs these):
the three ways batches reach the GPU agree, the step never synchronises outside log steps
(torch.cuda.set_sync_debug_mode("error")), switches that keep numerics keep them, and bf16,
--compile and --cuda-graphs train."""

from __future__ import annotations

import math

import pytest
import torch

import gankit
from gankit.checkpoint import load_checkpoint
from gankit.data import BatchStream

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

CUDA = torch.device("cuda")
DCGAN = dict(model="dcgan", batch_size=16, size=32, count=256, width=16, sample_every=0, num_preview=4,
             device="cuda", quiet=True)


@pytest.fixture
def exact(monkeypatch):
    """Deterministic cuDNN and no TF32, for tests that compare two runs' weights: Adam's
    first steps move a weight by ±lr whatever the gradient's size, so rounding noise in a
    near-zero gradient would otherwise show up as a difference of 2·lr."""
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)


def _state(run, part="generator"):
    return load_checkpoint(run.dir / "checkpoints" / "last.pt")[part]


def _assert_close_states(a, b, rtol=1e-3, atol=1e-4):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key].float(), b[key].float(), rtol=rtol, atol=atol, msg=lambda m: f"{key}: {m}")


def _finite(run):
    return all(math.isfinite(r["d_loss"]) and math.isfinite(r["g_loss"]) for r in run.metrics if "d_loss" in r)


# Data -------------------------------------------------------------------------------------

def _batches(stream, n):
    return [tuple(t.clone() for t in stream.next()) for _ in range(n)]


def test_resident_pinned_and_loader_streams_give_the_same_batches(gauss_plugin, monkeypatch):
    from gankit import data as data_module
    from gankit.registry import get_registry
    from gankit.plugins.image.datasets import build_shapes
    from gankit.plugins.image.options import ShapesOptions

    images = build_shapes(ShapesOptions(count=96, size=16))
    resident = BatchStream(images, 16, seed=1, device=CUDA)
    expected = _batches(resident, 9)  # more than an epoch (6 batches)
    assert resident.mode == "resident" and expected[0][0].is_cuda and expected[0][0].dtype == torch.float32

    monkeypatch.setattr(data_module, "resident_limit", lambda device: 0)
    pinned = BatchStream(images, 16, seed=1, device=CUDA, prefetch=3)
    assert pinned.mode == "pinned" and pinned._tensors[0].is_pinned()
    for (x, y), (ex, ey) in zip(_batches(pinned, 9), expected):
        assert torch.equal(x, ex) and torch.equal(y, ey)
    pinned.load_state_dict({"epoch": 1, "index": 1, "seed": 1})  # drops what was prefetched
    assert torch.equal(pinned.next()[0], expected[7][0])

    points = get_registry().dataset("gauss", "points")
    loader_points = get_registry().dataset("gauss", "points-loader")
    options = gauss_plugin.PointsOptions(count=128)
    in_memory = _batches(BatchStream(points.build(options, None), 32, seed=2, device=CUDA), 6)
    through_loader = _batches(BatchStream(loader_points.build(options, None), 32, seed=2, device=CUDA,
                                          num_workers=2, prefetch=2), 6)
    for (x, _), (ex, _) in zip(through_loader, in_memory):
        assert x.is_cuda and torch.equal(x, ex)


# No synchronisation ------------------------------------------------------------------------

def _error_on_sync_outside_log_steps(monkeypatch, generator_class, log_every, total):
    def on_step(self, step, total_steps):
        is_log_step = (step + 1) % log_every == 0 or step + 1 == total
        torch.cuda.set_sync_debug_mode("default" if is_log_step else "error")

    monkeypatch.setattr(generator_class, "on_step", on_step)


@pytest.mark.parametrize("placement", ["resident", "pinned"])
def test_dcgan_steps_never_sync_outside_log_steps(monkeypatch, tmp_path, placement):
    from gankit import data as data_module
    from gankit.plugins.image.dcgan import DCGANGenerator

    if placement == "pinned":
        monkeypatch.setattr(data_module, "resident_limit", lambda device: 0)
    _error_on_sync_outside_log_steps(monkeypatch, DCGANGenerator, log_every=5, total=15)
    try:
        run = gankit.train("image", steps=15, log_every=5, on_nan="skip", penalty="r1", penalty_every=2,
                           grad_clip=1.0, ema_decay=0.99, out=str(tmp_path / "r"), **DCGAN)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert run.step == 15 and _finite(run)


def test_loader_steps_never_sync_outside_log_steps(gauss_plugin, monkeypatch, tmp_path):
    _error_on_sync_outside_log_steps(monkeypatch, gauss_plugin.PointGenerator, log_every=10, total=30)
    try:
        run = gankit.train("gauss", dataset="points-loader", num_workers=1, steps=30, log_every=10, device="cuda",
                           out=str(tmp_path / "r"), quiet=True)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert run.step == 30


def test_the_sync_check_does_catch_a_sync():
    torch.cuda.set_sync_debug_mode("error")
    try:
        with pytest.raises(RuntimeError):
            torch.ones(1, device=CUDA).item()
    finally:
        torch.cuda.set_sync_debug_mode("default")


# Numerics-neutral switches, and the opt-in ones --------------------------------------------

def test_channels_last_keeps_the_numbers(tmp_path, exact):
    off = gankit.train("image", steps=10, log_every=5, seed=4, channels_last="off", out=str(tmp_path / "off"), **DCGAN)
    on = gankit.train("image", steps=10, log_every=5, seed=4, channels_last="auto", out=str(tmp_path / "on"), **DCGAN)
    assert _state(on)["net.0.weight"].is_contiguous(memory_format=torch.channels_last)
    _assert_close_states(_state(on), _state(off))


def test_bf16_trains_with_the_fast_path(tmp_path):
    run = gankit.train("image", steps=20, log_every=5, precision="bf16", out=str(tmp_path / "r"), **DCGAN)
    assert _finite(run)
    assert gankit.load(run.dir, device="cpu").sample(2).shape == (2, 1, 32, 32)


def test_compile_trains_like_eager(tmp_path, exact):
    common = dict(model="mlp", steps=12, log_every=4, batch_size=32, hidden=32, size=16, count=256, seed=1,
                  ema_decay=0.0, penalty="r1", sample_every=0, num_preview=4, device="cuda", quiet=True)
    eager = gankit.train("image", out=str(tmp_path / "eager"), **common)
    compiled = gankit.train("image", compile=True, out=str(tmp_path / "compiled"), **common)
    _assert_close_states(_state(compiled), _state(eager))


def test_cuda_graphs_train_like_eager(gauss_plugin, tmp_path, exact):
    common = dict(steps=40, log_every=10, seed=5, device="cuda", quiet=True)
    eager = gankit.train("gauss", out=str(tmp_path / "eager"), **common)
    graphed = gankit.train("gauss", cuda_graphs=True, out=str(tmp_path / "graphed"), **common)
    _assert_close_states(_state(graphed), _state(eager))
    _assert_close_states(_state(graphed, "discriminator"), _state(eager, "discriminator"))


def test_cuda_graphs_with_batchnorm_penalty_skip_and_bf16(tmp_path, exact):
    """Both D variants (with and without the lazy R1 penalty) and G are captured; BatchNorm
    statistics, the skip flag and the gradient clipping run inside the graphs."""
    options = dict(steps=30, log_every=10, seed=6, penalty="r1", penalty_every=2, on_nan="skip", grad_clip=1.0)
    eager = gankit.train("image", out=str(tmp_path / "eager"), **options, **DCGAN)
    graphed = gankit.train("image", cuda_graphs=True, out=str(tmp_path / "graphed"), **options, **DCGAN)
    assert _finite(graphed) and "skipped_updates" not in graphed.metrics[-1]
    _assert_close_states(_state(graphed), _state(eager))
    bf16 = gankit.train("image", cuda_graphs=True, precision="bf16", out=str(tmp_path / "bf16"), **options, **DCGAN)
    assert _finite(bf16)


def test_cuda_graphs_skip_non_finite_updates(gauss_plugin, tmp_path):
    """Every D output is NaN (the captured graphs hold the test discriminator's NaN too), so
    every update, eager warm-up or replayed, is skipped: the weights end as they started."""
    run = gankit.train("gauss", steps=20, log_every=10, on_nan="skip", nan_from=0, nan_until=10**9, seed=3,
                       cuda_graphs=True, device="cuda", out=str(tmp_path / "r"), quiet=True)
    assert sum(r.get("skipped_updates", 0) for r in run.metrics) == 2 * 20
    torch.manual_seed(3)
    options = gauss_plugin.NetOptions()
    start = {"generator": gauss_plugin.PointGenerator(options, 2), "discriminator": gauss_plugin.PointDiscriminator(options, 2)}
    for part, module in start.items():
        for key, value in module.state_dict().items():
            assert torch.equal(_state(run, part)[key].cpu(), value), f"{part}.{key} changed"
