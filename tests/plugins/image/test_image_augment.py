"""DiffAugment: each policy does what it says, is differentiable and seeded, and the engine
routes every discriminator input through it during training only."""

from __future__ import annotations

import pytest
import torch

import gankit
from gankit.checkpoint import load_checkpoint
from gankit.errors import GankitError
from gankit.plugins.image.augment import color, cutout, make_augment, translation
from gankit.specs import DataInfo

INFO = DataInfo(shape=(1, 16, 16))


def rng(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_translation_moves_content_by_at_most_an_eighth_and_pads_with_zeros():
    x = torch.zeros(64, 1, 16, 16)
    x[:, :, 8, 8] = 1.0
    out = translation(x, rng())
    assert torch.equal(out.sum(dim=(1, 2, 3)), torch.ones(64))  # the dot moved, never left the frame
    where = out[:, 0].flatten(1).argmax(1)
    rows, cols = where // 16, where % 16
    assert (rows - 8).abs().max() <= 2 and (cols - 8).abs().max() <= 2  # 16 / 8 = 2 pixels
    assert len(set(zip(rows.tolist(), cols.tolist()))) > 10  # and really moved, in many ways
    border = translation(torch.ones(256, 1, 16, 16), rng())
    assert border.min() == 0 and border.max() == 1  # shifted-in pixels are zero


def test_cutout_zeroes_one_square_of_half_the_side():
    out = cutout(torch.ones(200, 3, 16, 16), rng())
    zeroed = (out[:, 0] == 0).flatten(1).sum(1).float()
    assert zeroed.max() == 64  # an 8×8 square when fully inside the image
    assert zeroed.min() >= 16 and 40 < zeroed.mean() <= 64  # clipped at the edges otherwise
    assert torch.equal(out[:, 0], out[:, 2])  # the same square in every channel


def test_color_changes_brightness_and_contrast_per_sample():
    x = torch.linspace(-1, 1, 256).view(1, 1, 16, 16).repeat(100, 1, 1, 1)
    out = color(x, rng())
    means, stds = out.mean(dim=(1, 2, 3)), out.std(dim=(1, 2, 3))
    assert means.min() < -0.3 and means.max() > 0.3  # brightness U(-0.5, 0.5)
    ratio = stds / x[0].std()
    assert 0.49 < ratio.min() < 0.7 and 1.3 < ratio.max() < 1.51  # contrast U(0.5, 1.5)


def test_augmentations_are_seeded_and_differentiable():
    augment = make_augment("color,translation,cutout", DataInfo(shape=(3, 16, 16)))
    x = torch.randn(8, 3, 16, 16, requires_grad=True)
    a, b = augment(x, rng(1)), augment(x, rng(1))
    assert torch.equal(a, b) and not torch.equal(a, augment(x, rng(2)))
    a.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_bad_policies_are_one_line_errors():
    with pytest.raises(GankitError, match="unknown augmentation flip.*color, translation, cutout"):
        make_augment("translation,flip", INFO)
    with pytest.raises(GankitError, match="needs images"):
        make_augment("cutout", DataInfo(shape=(1, 64)))


def test_training_augments_every_discriminator_input_and_resumes_exactly(tmp_path, monkeypatch):
    from gankit.config import resolve_config
    from gankit.registry import get_registry
    from gankit.engine import train_run

    options = dict(domain="image", model="mlp", dataset="shapes", count=64, steps=6, batch_size=16, log_every=2,
                   checkpoint_every=3, sample_every=0, penalty="r1", quiet=True, seed=4)
    inputs: list[torch.Tensor] = []
    import gankit.plugins.image.augment as augment_module

    real_cutout = augment_module.cutout
    monkeypatch.setitem(augment_module.POLICIES, "cutout", lambda x, g: inputs.append(x) or real_cutout(x, g))
    config = resolve_config(get_registry(), {**options, "augment": "cutout", "out": str(tmp_path / "aug")})
    result = train_run(config, get_registry())
    # Per step: real + fake in the D phase, R1 on the reals, fake in the G phase.
    assert len(inputs) == 6 * 4 and all(x.shape == (16, 1, 28, 28) for x in inputs)
    seen: list[torch.Tensor] = []
    result.discriminator.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    x = torch.rand(2, 1, 28, 28) * 2 - 1
    result.discriminator(x)
    assert torch.equal(seen[0], x)  # the augmentation is gone once training ends

    plain = gankit.train(out=str(tmp_path / "plain"), **options)
    assert not torch.equal(next(plain.generator.parameters()), next(gankit.load(tmp_path / "aug").generator.parameters()))
    gankit.train(augment="cutout", out=str(tmp_path / "resumed"), **{**options, "steps": 3})
    gankit.train(augment="cutout", out=str(tmp_path / "resumed"), resume=True, **options)
    a = load_checkpoint(tmp_path / "aug" / "checkpoints" / "last.pt")["generator"]
    b = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")["generator"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_augment_on_a_domain_without_augmentations_is_refused(gauss_plugin, tmp_path):
    with pytest.raises(GankitError, match="domain 'gauss' has no augmentations"):
        gankit.train("gauss", steps=2, augment="cutout", out=str(tmp_path / "r"), quiet=True)
