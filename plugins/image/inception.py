"""The FID Inception-v3, written without torchvision, so image metrics can be compared with
papers when the user has the standard weights file.

This is the network of TensorFlow's FID code (the ``2015-12-05`` Inception graph) as
pytorch-fid ports it: torchvision's ``Inception3`` layout (1008 classes, no auxiliary
head) with pytorch-fid's patches — average pools that ignore padding in the A, C and
first E blocks, and a max pool in the last E block. Module names follow torchvision's, so
``pt_inception-2015-12-05-6726825d.pth`` (the file pytorch-fid downloads) loads as it is.
gankit never downloads it: point ``GANKIT_FID_WEIGHTS`` at a copy.

Inputs are gankit images (N×C×H×W in [-1, 1], grayscale repeated to three channels),
quantised to 8 bits as an image file holds them and brought to the 299×299 input by one of
the field's three conventions (:data:`RESIZE_MODES`): pytorch-fid's bilinear
``F.interpolate``, torch-fidelity's TensorFlow-1-exact bilinear, or clean-fid's PIL bicubic
("clean"). Outputs are the 2048-d pool features and the 1008 class logits.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gankit.errors import GankitError

WEIGHTS_ENV = "GANKIT_FID_WEIGHTS"
WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"
INPUT_SIZE = 299
FEATURE_DIM = 2048
NUM_CLASSES = 1008
DEFAULT_RESIZE = "pytorch-fid"
# name -> (what is done to the 8-bit image, whose number it reproduces)
RESIZE_MODES: dict[str, tuple[str, str]] = {
    "pytorch-fid": ("pixels/255, F.interpolate bilinear (align_corners=False) to 299x299, then 2x-1",
                    "pytorch-fid (mseitzer/pytorch-fid, FIDInceptionA/C/E) on the images saved as PNG"),
    "torch-fidelity": ("TensorFlow-1.x bilinear (align_corners=False) of the 0..255 pixels to 299x299, then "
                       "(x-128)/128, as torch-fidelity's interpolate_bilinear_2d_like_tensorflow1x",
                       "torch-fidelity (toshas/torch-fidelity, inception-v3-compat) and the original TensorFlow FID "
                       "code"),
    "clean": ("PIL bicubic of each channel as a float32 image to 299x299, clipped to 0..255, then (x-128)/128",
              "clean-fid's default mode='clean' (GaParmar/clean-fid)"),
}


class BasicConv2d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, **kwargs) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _tf_avg_pool(x: torch.Tensor) -> torch.Tensor:
    """TensorFlow's 3×3 average pool: padded zeros do not count (pytorch-fid's patch)."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    def __init__(self, in_channels: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch5x5 = self.branch5x5_2(self.branch5x5_1(x))
        branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), branch5x5, branch3x3dbl, self.branch_pool(_tf_avg_pool(x))], 1)


class InceptionB(nn.Module):
    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), branch3x3dbl, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionC(nn.Module):
    def __init__(self, in_channels: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch7x7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        dbl = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                      self.branch7x7dbl_5):
            dbl = layer(dbl)
        return torch.cat([self.branch1x1(x), branch7x7, dbl, self.branch_pool(_tf_avg_pool(x))], 1)


class InceptionD(nn.Module):
    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch3x3 = self.branch3x3_2(self.branch3x3_1(x))
        branch7x7x3 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([branch3x3, branch7x7x3, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionE(nn.Module):
    """The E block; ``max_pool=True`` is the FID graph's last block (a max pool where the
    paper has an average pool), ``False`` the first (an average pool ignoring padding)."""

    def __init__(self, in_channels: int, max_pool: bool) -> None:
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch3x3 = self.branch3x3_1(x)
        branch3x3 = torch.cat([self.branch3x3_2a(branch3x3), self.branch3x3_2b(branch3x3)], 1)
        dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        dbl = torch.cat([self.branch3x3dbl_3a(dbl), self.branch3x3dbl_3b(dbl)], 1)
        pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.max_pool else _tf_avg_pool(x)
        return torch.cat([self.branch1x1(x), branch3x3, dbl, self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    """FID Inception-v3: ``forward(x)`` returns ``(features N×2048, logits N×1008)`` for
    gankit images, brought to the network's input by ``resize`` (see :func:`prepare`)."""

    def __init__(self, resize: str = DEFAULT_RESIZE) -> None:
        super().__init__()
        check_resize(resize)
        self.resize = resize
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, max_pool=False)
        self.Mixed_7c = InceptionE(2048, max_pool=True)
        self.fc = nn.Linear(FEATURE_DIM, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward_prepared(prepare(x, self.resize))

    def forward_prepared(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The network on an input already at 299×299 and in its value range (about [-1, 1])."""
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        features = torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1)
        return features, self.fc(features)

    def logits_unbiased(self, features: torch.Tensor) -> torch.Tensor:
        """The class logits without the fc bias, ``features @ W.T``: what the Inception Score
        is computed from (the original TensorFlow code multiplies pool3 by the softmax
        weights alone; torch-fidelity calls them ``logits_unbiased``)."""
        return features @ self.fc.weight.T


def check_resize(resize: str) -> None:
    if resize not in RESIZE_MODES:
        raise GankitError(f"unknown resize {resize!r} for the Inception network; choose one of: "
                          f"{', '.join(RESIZE_MODES)}")


def prepare(x: torch.Tensor, resize: str = DEFAULT_RESIZE) -> torch.Tensor:
    """gankit images → the network's input (N×3×299×299): clamped to [-1, 1], three
    channels, quantised to the 8-bit levels a PNG holds (``round((x + 1) · 127.5)``, as
    ``gankit sample`` writes them), then resized and scaled as the tool named by ``resize``
    does it (:data:`RESIZE_MODES`), so that gankit scores what that tool scores for the same
    images saved as files."""
    check_resize(resize)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise GankitError(f"the Inception network expects N×1×H×W or N×3×H×W images, got {tuple(x.shape)}")
    levels = ((x.float().clamp(-1, 1) + 1) * 127.5).round()
    if levels.shape[1] == 1:
        levels = levels.expand(-1, 3, -1, -1)
    if resize == "pytorch-fid":
        resized = F.interpolate(levels / 255, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        return 2 * resized - 1
    resized = (tf1_bilinear(levels, INPUT_SIZE) if resize == "torch-fidelity" else pil_bicubic(levels, INPUT_SIZE))
    return (resized - 128) / 128


def tf1_bilinear(x: torch.Tensor, size: int) -> torch.Tensor:
    """TensorFlow 1.x's ``resize_bilinear`` (``align_corners=False``, no half-pixel centres)
    of N×C×H×W to N×C×size×size: output pixel ``i`` reads input coordinate ``i · H/size``,
    interpolated between its floor and the next pixel (clamped at the edge). The same
    arithmetic as torch-fidelity's ``interpolate_bilinear_2d_like_tensorflow1x`` (float32
    grid), so the result is bit-identical on the CPU."""

    def grid(in_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        position = torch.arange(0, size, 1, dtype=x.dtype, device=x.device)
        position = position * torch.tensor(in_size / size, dtype=torch.float32)
        low = position.long()
        return low, (low + 1).clamp_max(in_size - 1), position - low.float()

    y_lo, y_hi, dy = grid(x.shape[2])
    x_lo, x_hi, dx = grid(x.shape[3])
    top, bottom = x[:, :, y_lo, :], x[:, :, y_hi, :]
    top = top[:, :, :, x_lo] + (top[:, :, :, x_hi] - top[:, :, :, x_lo]) * dx.view(1, 1, 1, size)
    bottom = bottom[:, :, :, x_lo] + (bottom[:, :, :, x_hi] - bottom[:, :, :, x_lo]) * dx.view(1, 1, 1, size)
    return top + (bottom - top) * dy.view(1, 1, size, 1)


def pil_bicubic(x: torch.Tensor, size: int) -> torch.Tensor:
    """clean-fid's "clean" resize of N×C×H×W pixel values (0..255): each channel of each
    image as a float32 PIL image, ``Image.resize`` with ``BICUBIC`` (PIL's antialiasing
    filter) to size×size, clipped to 0..255. Runs on the CPU, image by image."""
    import numpy as np
    from PIL import Image

    array = x.detach().float().cpu().numpy()
    out = np.empty((*array.shape[:2], size, size), dtype=np.float32)
    for n in range(array.shape[0]):
        for c in range(array.shape[1]):
            channel = Image.fromarray(np.ascontiguousarray(array[n, c], dtype=np.float32))
            out[n, c] = np.asarray(channel.resize((size, size), resample=Image.BICUBIC)).clip(0, 255)
    return torch.from_numpy(out).to(x.device)


def weights_path() -> Path | None:
    """``$GANKIT_FID_WEIGHTS`` as a path, or None when unset."""
    value = os.environ.get(WEIGHTS_ENV, "").strip()
    return Path(value).expanduser() if value else None


def load_fid_inception(path: str | Path, resize: str = DEFAULT_RESIZE) -> FIDInceptionV3:
    """The FID Inception-v3 with the weights in ``path`` (a state dict with pytorch-fid's key
    names, which torch-fidelity's file shares; opened with ``weights_only=True``), taking
    its input by ``resize``, in eval mode without gradients."""
    check_resize(resize)
    path = Path(path)
    hint = (f"{WEIGHTS_ENV} must name pytorch-fid's {WEIGHTS_NAME} (from its GitHub release 'fid_weights'); "
            f"unset it to use gankit's offline classifier")
    if not path.is_file():
        raise GankitError(f"{WEIGHTS_ENV}={path} does not exist; {hint}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise GankitError(f"cannot open {path} safely ({type(exc).__name__}: {exc}); {hint}") from None
    if not isinstance(state, dict):
        raise GankitError(f"{path} holds no state dict; {hint}")
    with torch.device("meta"):  # no time spent initialising weights that are overwritten next
        net = FIDInceptionV3(resize)
    expected = net.state_dict()
    # Files saved by old torch versions lack BatchNorm's num_batches_tracked; it is unused in eval.
    state = {**{k: torch.tensor(0) for k in expected if k.endswith("num_batches_tracked")}, **state}
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong:
        detail = "; ".join(f"{what}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
                           for what, keys in (("missing", missing), ("unexpected", unexpected),
                                              ("wrong shape", wrong)) if keys)
        raise GankitError(f"{path} is not the FID Inception-v3 state dict ({detail}); {hint}")
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()}, assign=True)
    return net.eval().requires_grad_(False)


def random_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """A seeded random state dict with the FID network's keys and shapes, for checking an
    implementation against another without the real weights: He-normal convolutions and
    BatchNorm statistics and affine parameters drawn near identity (every key holds distinct
    values, so a swapped key shows), scaled so that features neither vanish nor explode
    through the network's 94 layers; ``fc`` is drawn as PyTorch initialises a Linear."""
    generator = torch.Generator().manual_seed(seed)
    with torch.device("meta"):
        shapes = {key: (value.shape, value.dtype) for key, value in FIDInceptionV3().state_dict().items()}

    def uniform(shape: torch.Size, low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(shape, generator=generator)

    state: dict[str, torch.Tensor] = {}
    for key, (shape, dtype) in shapes.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.zeros(shape, dtype=dtype)
        elif key.endswith("conv.weight"):
            state[key] = torch.randn(shape, generator=generator) * (2.0 / shape[1:].numel()) ** 0.5
        elif key.endswith("bn.weight"):
            state[key] = uniform(shape, 0.8, 1.2)
        elif key.endswith("bn.bias"):
            state[key] = uniform(shape, -0.1, 0.1)
        elif key.endswith("running_mean"):
            state[key] = uniform(shape, -0.1, 0.1)
        elif key.endswith("running_var"):
            state[key] = uniform(shape, 0.8, 1.25)
        else:  # fc.weight, fc.bias
            bound = FEATURE_DIM ** -0.5
            state[key] = uniform(shape, -bound, bound)
    return state
