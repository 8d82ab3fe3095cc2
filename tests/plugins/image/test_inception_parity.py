"""gankit's FID Inception-v3 against the field's tools, and its three resize conventions.

With pytorch-fid, torch-fidelity and clean-fid installed (``pip install gankit[parity]``;
CI does not install them, so those tests are skipped there), the same random state dict
goes into their networks and gankit's, with every download refused, and pool features
and logits must agree on the same images. The resize conventions are also checked
without them, against direct computations."""

from __future__ import annotations

import math
import typing
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from gankit.cli import main
from gankit.errors import GankitError
from gankit.evaluation import build_metric_options
from gankit.plugins.image import inception, metrics
from gankit.plugins.image.options import ImageMetricOptions
from gankit.specs import DataInfo, EvalContext

SIZE = inception.INPUT_SIZE


def images(n: int = 2, channels: int = 1, size: int = 28, seed: int = 0) -> torch.Tensor:
    """gankit images in [-1, 1] on the 8-bit grid, as image files give them."""
    levels = torch.randint(0, 256, (n, channels, size, size), generator=torch.Generator().manual_seed(seed))
    return levels.float() / 127.5 - 1


def levels_of(x: torch.Tensor) -> np.ndarray:
    return np.rint((x.numpy() + 1) * 127.5).astype(np.float64)


def bilinear_matrix(in_size: int, out_size: int, half_pixel: bool) -> np.ndarray:
    """out×in interpolation weights: half-pixel centres clamped at 0 (PyTorch,
    align_corners=False), or TensorFlow 1's ``i · in/out`` without them."""
    scale = in_size / out_size
    src = (np.arange(out_size) + 0.5) * scale - 0.5 if half_pixel else np.arange(out_size) * scale
    src = np.clip(src, 0, None)
    low = np.floor(src).astype(int)
    high = np.minimum(low + 1, in_size - 1)
    frac = src - low
    weights = np.zeros((out_size, in_size))
    np.add.at(weights, (np.arange(out_size), low), 1 - frac)
    np.add.at(weights, (np.arange(out_size), high), frac)
    return weights


# The resize conventions, without the other packages ------------------------------------------

def test_pytorch_fid_mode_is_half_pixel_bilinear_of_pixels_over_255_then_2x_minus_1():
    x = images(channels=1, size=13)
    w = bilinear_matrix(13, SIZE, half_pixel=True)
    expected = 2 * (w @ (levels_of(x)[:, 0] / 255) @ w.T) - 1
    got = inception.prepare(x, "pytorch-fid")
    assert got.shape == (2, 3, SIZE, SIZE)
    assert np.abs(got.numpy() - expected[:, None]).max() < 1e-5  # grayscale repeated to the three channels


def test_torch_fidelity_mode_is_tensorflow1_bilinear_then_minus_128_over_128():
    x = images(channels=3, size=11)
    w = bilinear_matrix(11, SIZE, half_pixel=False)
    expected = (np.einsum("oh,nchw,pw->ncop", w, levels_of(x), w) - 128) / 128
    assert np.abs(inception.prepare(x, "torch-fidelity").numpy() - expected).max() < 1e-5
    # upsampling by 2 in TensorFlow 1: even outputs copy the input, odd ones average two neighbours
    row = torch.tensor([[[[0.0, 10.0, 30.0]]]]).expand(1, 1, 3, 3)
    assert inception.tf1_bilinear(row, 6)[0, 0, 0].tolist() == [0, 5, 10, 20, 30, 30]


def test_clean_mode_is_pil_bicubic_of_each_float_channel_clipped():
    x = images(channels=3, size=16)
    pixels = levels_of(x).astype(np.float32)
    expected = np.stack([np.stack([
        np.asarray(Image.fromarray(pixels[n, c]).resize((SIZE, SIZE), resample=Image.BICUBIC)).clip(0, 255)
        for c in range(3)]) for n in range(2)])
    got = inception.prepare(x, "clean") * 128 + 128
    assert np.abs(got.numpy() - expected).max() < 1e-4
    assert not np.allclose(got.numpy(), inception.prepare(x, "torch-fidelity").numpy() * 128 + 128, atol=0.5)


def test_every_mode_quantises_to_8_bits_first_and_unknown_modes_are_refused():
    x = images(channels=3, size=8)
    jitter = (torch.rand(x.shape, generator=torch.Generator().manual_seed(1)) - 0.5) * 0.9 / 127.5
    for mode in inception.RESIZE_MODES:
        assert torch.equal(inception.prepare(x + jitter, mode), inception.prepare(x, mode))
    with pytest.raises(GankitError, match="unknown resize 'bicubic'.*pytorch-fid, torch-fidelity, clean"):
        inception.prepare(x, "bicubic")
    choices = typing.get_args(typing.get_args(typing.get_type_hints(ImageMetricOptions)["resize"])[0])
    assert set(choices) == set(inception.RESIZE_MODES)


# The metric option -----------------------------------------------------------------------------

def _context(tmp_path: Path, real: torch.Tensor, options: ImageMetricOptions | None) -> EvalContext:
    info = DataInfo(shape=tuple(real.shape[1:]), value_range=(-1.0, 1.0), num_classes=0)
    return EvalContext(real=real, real_labels=torch.full((len(real),), -1), fake_labels=None, info=info,
                       dataset=None, dataset_key="parity", cache_dir=tmp_path, device=torch.device("cpu"),
                       options=options)


def test_the_resize_option_reaches_the_network_and_the_protocol(tmp_path, monkeypatch):
    path = tmp_path / inception.WEIGHTS_NAME
    torch.save(inception.random_state_dict(0), path)
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(path))
    metrics.clear_caches()
    real = images(2, seed=1)
    keys = set()
    for mode in (None, "torch-fidelity", "clean"):
        net = metrics.backbone(_context(tmp_path, real, ImageMetricOptions(resize=mode)))
        assert net.net.resize == (mode or "pytorch-fid") and net.protocol["resize_mode"] == net.net.resize
        assert net.protocol["resize"].startswith(net.net.resize)
        keys.add(net.key)
    assert len(keys) == 3  # features are remembered per resize, never shared between them
    # (prdc: cheap on 2048-d features, where FID's matrix square root takes seconds on one thread)
    result = metrics.prdc(images(2, seed=2), _context(tmp_path, real, ImageMetricOptions(resize="clean")))
    assert all(math.isfinite(value) for value in result.values.values())
    assert result.protocol["resize"].startswith("clean: 8-bit pixels")
    assert "clean-fid" in result.protocol["feature_network"]["reproduces"]
    specs = [spec for spec in _image_specs() if spec.name in ("fid", "prdc")]
    built = build_metric_options(specs, {"resize": "torch-fidelity"})
    assert built["fid"] == built["prdc"] == ImageMetricOptions(resize="torch-fidelity")
    metrics.clear_caches()


def _image_specs():
    from gankit.registry import get_registry

    return list(get_registry().metrics_for("image").values())


def test_the_resize_option_without_inception_weights_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(inception.WEIGHTS_ENV, raising=False)
    with pytest.raises(GankitError, match="resize clean sets how images reach the FID Inception-v3, but "
                                          "GANKIT_FID_WEIGHTS is not set"):
        metrics.backbone(_context(tmp_path, images(2), ImageMetricOptions(resize="clean")))
    samples = tmp_path / "samples.npy"
    np.save(samples, (images(4).numpy() + 1) / 2)
    with pytest.raises(SystemExit) as exited:
        main(["evaluate", "--samples", str(samples), "--domain", "image", "--dataset", "shapes", "-o", "count", "8",
              "-n", "4", "--metric-option", "resize", "lanczos"])
    error = capsys.readouterr().err
    assert exited.value.code == 2 and error.strip().count("\n") == 0
    assert "resize" in error and "pytorch-fid, torch-fidelity, clean" in error.replace("|", ", ")


# Against pytorch-fid, torch-fidelity and clean-fid (skipped where they are not installed) ------

@pytest.fixture(scope="module")
def state() -> dict[str, torch.Tensor]:
    return inception.random_state_dict(3)


def _refuse(*args, **kwargs):
    raise AssertionError("a download was attempted")


def test_same_weights_same_features_as_pytorch_fid(state, monkeypatch):
    pfi = pytest.importorskip("pytorch_fid.inception")
    loaded = []
    monkeypatch.setattr(pfi, "load_state_dict_from_url", lambda url, **kw: loaded.append(url) or state)
    theirs_pool = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
    theirs = pfi.fid_inception_v3().eval()  # the whole network, for the logits
    assert len(loaded) == 2 and set(theirs.state_dict()) == set(state)  # the same key names: no mapping needed
    ours = inception.FIDInceptionV3("pytorch-fid")
    ours.load_state_dict(state)
    ours.eval()
    x = images(2, channels=1)
    pixels = ((x + 1) / 2).expand(-1, 3, -1, -1)  # what pytorch-fid's ToTensor gives for the PNG files
    with torch.no_grad():
        features, logits = ours(x)
        their_features = theirs_pool(pixels)[0].flatten(1)
        their_logits = theirs(2 * F.interpolate(pixels, size=(SIZE, SIZE), mode="bilinear",
                                                align_corners=False) - 1)
    assert features.abs().mean() > 0.05  # the random weights give features of a useful size
    assert (features - their_features).abs().max() < 1e-5
    assert (ours.fc(features) - their_logits).abs().max() < 1e-5


def test_same_weights_same_features_as_torch_fidelity(state, monkeypatch, tmp_path):
    tfi = pytest.importorskip("torch_fidelity.feature_extractor_inceptionv3")
    monkeypatch.setattr(tfi, "load_state_dict_from_url", _refuse)
    path = tmp_path / "weights.pth"
    torch.save(state, path)
    theirs = tfi.FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased", "logits"],
                                             feature_extractor_weights_path=str(path))
    assert set(theirs.state_dict()) == set(state)
    ours = inception.FIDInceptionV3("torch-fidelity")
    ours.load_state_dict(state)
    ours.eval()
    x = images(2, channels=3)
    with torch.no_grad():
        features, _ = ours(x)
        their_features, their_unbiased, their_logits = theirs(((x + 1) * 127.5).round().to(torch.uint8))
    assert (features - their_features).abs().max() < 1e-5
    assert (ours.logits_unbiased(features) - their_unbiased).abs().max() < 1e-5  # the Inception Score's logits
    assert (ours.fc(features) - their_logits).abs().max() < 1e-5


def test_resizes_equal_the_tools_own_functions():
    tf_compat = pytest.importorskip("torch_fidelity.interpolate_compat_tensorflow")
    resize = pytest.importorskip("cleanfid.resize")
    x = images(2, channels=3, size=28)
    pixels = ((x + 1) * 127.5).round()
    theirs = tf_compat.interpolate_bilinear_2d_like_tensorflow1x(pixels, size=(SIZE, SIZE), align_corners=False)
    assert torch.equal(inception.tf1_bilinear(pixels, SIZE), theirs)
    clean = resize.make_resizer("PIL", False, "bicubic", (SIZE, SIZE))
    for n in range(2):
        image = pixels[n].permute(1, 2, 0).numpy().astype(np.uint8)
        expected = torch.from_numpy(clean(image)).permute(2, 0, 1)
        assert torch.equal(inception.pil_bicubic(pixels[n:n + 1], SIZE)[0], expected)
