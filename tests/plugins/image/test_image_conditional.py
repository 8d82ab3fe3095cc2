"""Class-conditional image models (``-o conditional true``): the shared label embedding and
projection head, the errors for unlabelled data, and a behaviour test that a trained
conditional generator draws the class it is asked for."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import torch
from torch import nn

import gankit
import gankit.models
from gankit.errors import GankitError
from gankit.hookspecs import hookimpl
from gankit.plugins.image.conditional import (
    LabelEmbedding,
    ModelOptionError,
    ProjectionTerm,
    conditional_classes,
    embedding_dim,
)
from gankit.plugins.image.dcgan import build as build_dcgan
from gankit.plugins.image.mlp import build as build_mlp
from gankit.plugins.image.options import DCGANOptions, MLPOptions
from gankit.specs import DatasetSpec, DataInfo

LABELLED = DataInfo(shape=(1, 28, 28), num_classes=10)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# The shared pieces --------------------------------------------------------------------------

def test_label_embedding_appends_a_class_vector_to_z():
    embedding = LabelEmbedding(10)
    assert embedding.dim == embedding_dim(10) == 10
    z = torch.randn(4, 5)
    labels = torch.tensor([0, 3, 3, 9])
    out = embedding(z, labels)
    assert out.shape == (4, 15) and torch.equal(out[:, :5], z)
    torch.testing.assert_close(out[1, 5:], out[2, 5:])
    assert not torch.allclose(out[0, 5:], out[1, 5:])
    assert embedding_dim(1000) == 128


def test_projection_term_is_the_inner_product_with_the_class_embedding():
    projection = ProjectionTerm(3, 6)
    features = torch.randn(4, 6)
    labels = torch.tensor([0, 1, 2, 1])
    expected = (projection.embed.weight[labels] * features).sum(1)
    torch.testing.assert_close(projection(features, labels), expected)


@pytest.mark.parametrize("module", [LabelEmbedding(3), ProjectionTerm(3, 4)])
def test_conditional_pieces_need_labels(module):
    with pytest.raises(ValueError, match="needs labels"):
        module(torch.randn(2, 4), None)
    with pytest.raises(ValueError, match="labels of shape"):
        module(torch.randn(2, 4), torch.zeros(3, dtype=torch.long))


@pytest.mark.parametrize("num_classes, what", [(0, "unlabelled"), (1, "single class")])
def test_conditional_needs_labelled_data(num_classes, what):
    info = DataInfo(shape=(1, 28, 28), num_classes=num_classes)
    assert conditional_classes(False, info, "mlp") == 0
    for build, options in ((build_mlp, MLPOptions(conditional=True)), (build_dcgan, DCGANOptions(conditional=True))):
        with pytest.raises(ModelOptionError, match=f"conditional=true needs labelled data.*{what}"):
            build(options, info)
    assert isinstance(ModelOptionError("x"), GankitError) and isinstance(ModelOptionError("x"), ValueError)


# The models -------------------------------------------------------------------------------

def test_unconditional_mlp_is_unchanged():
    g, d = build_mlp(MLPOptions(), LABELLED)  # labelled data, but conditional is off
    assert g.num_classes == 0 and d.num_classes == 0
    assert n_params(g) == (100 * 128 + 128) + (128 * 128 + 128) + (128 * 784 + 784)
    assert n_params(d) == (784 * 128 + 128) + (128 * 128 + 128) + (128 + 1)
    assert set(g.state_dict()) == {f"net.{i}.{p}" for i in (0, 2, 4) for p in ("weight", "bias")}


@pytest.mark.parametrize("build, options", [(build_mlp, MLPOptions(conditional=True, hidden=32)),
                                             (build_dcgan, DCGANOptions(conditional=True, width=8))])
def test_conditional_models_use_the_labels(build, options):
    torch.manual_seed(0)
    g, d = build(options, LABELLED)
    assert g.num_classes == d.num_classes == 10
    g.eval()
    z = g.sample_latent(4)
    zeros, sevens = torch.zeros(4, dtype=torch.long), torch.full((4,), 7)
    assert not torch.allclose(g(z, zeros), g(z, sevens))
    with pytest.raises(ValueError, match="needs labels"):
        g(z)
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    assert d(x, zeros).shape == (4,)
    assert not torch.allclose(d(x, zeros), d(x, sevens))
    with pytest.raises(ValueError, match="needs labels"):
        d(x)


def test_mlp_discriminator_is_a_projection_discriminator():
    torch.manual_seed(0)
    _, d = build_mlp(MLPOptions(conditional=True, hidden=16), LABELLED)
    x, labels = torch.rand(3, 1, 28, 28), torch.tensor([1, 4, 9])
    phi = d.net[:-1](x)
    expected = d.net[-1](phi).squeeze(1) + (d.projection.embed.weight[labels] * phi).sum(1)
    torch.testing.assert_close(d(x, labels), expected)
    g, _ = build_mlp(MLPOptions(conditional=True, hidden=16), LABELLED)
    assert g.net[0].in_features == 100 + 10


def test_dcgan_discriminator_is_a_projection_discriminator():
    torch.manual_seed(0)
    _, d = build_dcgan(DCGANOptions(conditional=True, width=8), LABELLED)
    d.eval()
    x, labels = torch.rand(3, 1, 28, 28), torch.tensor([1, 4, 9])
    phi = d.features(x)
    expected = d.head(phi).squeeze(1) + (d.projection.embed.weight[labels] * phi).sum(1)
    torch.testing.assert_close(d(x, labels), expected)


def test_conditional_spectral_dcgan_normalises_the_projection_too():
    _, d = build_dcgan(DCGANOptions(conditional=True, width=8, d_norm="spectral"), LABELLED)
    assert "weight" in d.projection.embed.parametrizations


def test_training_a_conditional_model_on_unlabelled_data_is_a_clear_error(tmp_path, blobs_plugin):
    with pytest.raises(GankitError, match="needs labelled data"):
        gankit.train("image", model="mlp", dataset="blobs", labelled=False, conditional=True, steps=1,
                     out=str(tmp_path / "run"), quiet=True)


# Behaviour: conditioning works -------------------------------------------------------------

SIZE = 8


@dataclass(frozen=True)
class BlobOptions:
    count: int = field(default=512, metadata={"help": "images"})
    labelled: bool = field(default=True, metadata={"help": "report the two classes (else -1 labels)"})
    missing: int = field(default=0, metadata={"help": "samples (the last ones) whose label is -1"})


class Blobs(torch.utils.data.Dataset):
    """Two trivially distinguishable classes of 1×8×8 images: class 0 bright on the left
    half, class 1 bright on the right half, with a little noise."""

    def __init__(self, options: BlobOptions):
        g = torch.Generator().manual_seed(0)
        labels = torch.arange(options.count) % 2
        x = CLASS_MEANS[labels] + 0.1 * torch.randn(options.count, 1, SIZE, SIZE, generator=g)
        labels = labels if options.labelled else torch.full_like(labels, -1)
        if options.missing:
            labels[-options.missing:] = -1
        self.tensors = (x.clamp(-1, 1), labels)
        self.info = DataInfo(shape=(1, SIZE, SIZE), num_classes=2 if options.labelled else 0)

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, i: int):
        return self.tensors[0][i], self.tensors[1][i]


_left = (torch.arange(SIZE) < SIZE // 2).float().expand(SIZE, SIZE) * 1.6 - 0.8
CLASS_MEANS = torch.stack([_left, _left.flip(1)]).unsqueeze(1)  # 2×1×8×8


class BlobsPlugin:
    @hookimpl
    def register_datasets(self, register):
        register(DatasetSpec(name="blobs", domain="image", description="two classes of half-bright images (test)",
                             build=lambda options, path: Blobs(options), options=BlobOptions))


@pytest.fixture
def blobs_plugin():
    from gankit.registry import plugin_manager

    pm = plugin_manager()
    pm.register(BlobsPlugin(), name="blobs-test-plugin")
    try:
        yield
    finally:
        pm.unregister(name="blobs-test-plugin")


def nearest_class(samples: torch.Tensor) -> torch.Tensor:
    distances = torch.cdist(samples.flatten(1), CLASS_MEANS.flatten(1))
    return distances.argmin(1)


def train_blobs(tmp_path, conditional: bool):
    # lr 1e-3 for 400 steps: every one of 10 seeds tried reaches >99% per class (at 2e-4
    # for 300 steps some seeds had not yet separated class 1). Checked to fail when the
    # labels are ignored: with G's embedding fed zeros one class scores at most 2% (seeds
    # 0-2); with D's projection fed zeros neither class passes.
    return gankit.train("image", model="mlp", dataset="blobs", conditional=conditional, hidden=32, latent_dim=8,
                        steps=400, batch_size=32, lr_g=1e-3, lr_d=1e-3, ema_decay=0.0, seed=0, quiet=True,
                        sample_every=0,
                        out=str(tmp_path / f"run-{conditional}"))


def test_conditional_samples_are_of_the_requested_class(tmp_path, blobs_plugin):
    run = train_blobs(tmp_path, conditional=True)
    for k in (0, 1):
        samples = run.sample(200, seed=k, labels=k)
        accuracy = (nearest_class(samples) == k).float().mean().item()
        assert accuracy > 0.95, f"class {k}: only {accuracy:.0%} of its samples are nearest its real mean"
    # The preview is a square grid with one class per row (2 classes: 2×2 tiles of 8 px, 2 px apart).
    import numpy as np
    from PIL import Image

    grid = np.asarray(Image.open(run.dir / "samples" / f"step-{run.step:07d}.png"), dtype=np.float32) / 127.5 - 1
    assert grid.shape[:2] == (2 * SIZE + 6, 2 * SIZE + 6)
    tiles = torch.tensor(np.stack([grid[2 + r * (SIZE + 2):2 + r * (SIZE + 2) + SIZE, 2 + c * (SIZE + 2):2 + c * (SIZE + 2) + SIZE]
                                   for r in (0, 1) for c in (0, 1)]))
    assert nearest_class(tiles.reshape(4, 1, SIZE, SIZE)).tolist() == [0, 0, 1, 1]


def test_conditional_previews_show_one_class_a_row_up_to_16_classes():
    from gankit.engine.previews import preview_inputs

    class Net(gankit.models.Generator):
        latent_dim = 3

    net = Net()
    net.num_classes = 10
    z, labels, _ = preview_inputs(net, 64, seed=0, device=torch.device("cpu"))
    assert z.shape == (100, 3) and labels.tolist() == [k for k in range(10) for _ in range(10)]
    net.num_classes = 20
    z, labels, _ = preview_inputs(net, 64, seed=0, device=torch.device("cpu"))
    assert z.shape == (64, 3) and labels.tolist() == [i % 20 for i in range(64)]


def test_samples_without_a_label_are_refused_before_training(tmp_path, blobs_plugin):
    with pytest.raises(GankitError, match="2 samples without one .the first is #510, label -1."):
        gankit.train("image", model="mlp", dataset="blobs", missing=2, conditional=True, steps=1,
                     out=str(tmp_path / "run"), quiet=True)


def test_r1_with_a_batchnorm_discriminator_prints_a_note(tmp_path, capsys):
    gankit.train("image", model="dcgan", dataset="shapes", count=32, penalty="r1", steps=1, batch_size=8,
                 out=str(tmp_path / "run"))
    assert "R1 with BatchNorm in 'dcgan'" in capsys.readouterr().err


def test_the_behaviour_test_can_fail(tmp_path, blobs_plugin):
    """An unconditional mlp learns the same data (its samples sit near the class means) but
    cannot be asked for a class: judged as if its first half were class 0 and its second
    half class 1, it scores at chance, far below the conditional bound above."""
    run = train_blobs(tmp_path, conditional=False)
    samples = run.sample(400, seed=0)
    distances = torch.cdist(samples.flatten(1), CLASS_MEANS.flatten(1)).min(1).values
    assert distances.median() < 0.5 * torch.cdist(CLASS_MEANS[:1].flatten(1), CLASS_MEANS[1:].flatten(1)).item()
    as_if_labelled = torch.arange(400) // 200
    accuracy = (nearest_class(samples) == as_if_labelled).float().mean().item()
    assert 0.2 < accuracy < 0.8
    with pytest.raises(GankitError, match="not conditional"):
        run.sample(4, labels=0)
