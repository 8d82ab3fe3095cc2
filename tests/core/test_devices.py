"""Devices and precision: clear errors for what is not here, mixed precision that trains."""

from __future__ import annotations

import math

import pytest
import torch

import gankit
from gankit.devices import resolve_device, resolve_precision
from gankit.errors import GankitError

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_auto_and_cpu():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert resolve_device("auto").type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_missing_cuda_is_a_clear_error():
    with pytest.raises(GankitError, match="CUDA is not available here; available: cpu"):
        resolve_device("cuda:0")


def test_unknown_device_and_fp16_on_cpu():
    with pytest.raises(GankitError, match="unknown device 'tpu'"):
        resolve_device("tpu")
    with pytest.raises(GankitError, match="fp16.*needs a GPU"):
        resolve_precision("16", torch.device("cpu"))


def test_bf16_autocast_trains_on_cpu(gauss_plugin, tmp_path):
    run = gankit.train("gauss", precision="bf16", steps=20, log_every=10, out=str(tmp_path / "r"), quiet=True)
    assert all(math.isfinite(record["d_loss"]) for record in run.metrics)


@needs_cuda
@pytest.mark.parametrize("precision", ["32", "bf16", "16"])
def test_cuda_training_and_loading_on_cpu(gauss_plugin, tmp_path, precision):
    run = gankit.train("gauss", device="cuda", precision=precision, steps=30, log_every=10, penalty="r1",
                       out=str(tmp_path / "r"), quiet=True)
    assert all(math.isfinite(record["g_loss"]) for record in run.metrics)
    on_cpu = gankit.load(run.dir, device="cpu")
    assert on_cpu.sample(4).device.type == "cpu"
    resumed = gankit.train("gauss", steps=40, out=str(run.dir), resume=True, quiet=True)
    assert resumed.step == 40
