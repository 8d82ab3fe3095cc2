"""The ``wavegan`` model: shapes for each clip length, phase shuffle, conditioning and
option validation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gankit.errors import GankitError
from gankit.models import Generator
from gankit.options import build_options
from gankit.plugins.audio.options import WaveGANOptions
from gankit.plugins.audio.wavegan import PhaseShuffle, build, layout
from gankit.specs import DataInfo

TINY = WaveGANOptions(width=2, latent_dim=8)


@pytest.mark.parametrize(("length", "layers", "base"), [(4096, 4, 16), (8192, 4, 32), (16384, 5, 16), (65536, 6, 16)])
def test_each_length_gets_its_layers_and_shapes(length, layers, base):
    assert layout(length) == (layers, base)
    torch.manual_seed(0)
    g, d = build(TINY, DataInfo(shape=(1, length), sample_rate=16000))
    assert isinstance(g, Generator) and g.latent_dim == 8 and g.num_classes == 0
    convs = [m for m in g.modules() if isinstance(m, nn.ConvTranspose1d)]
    assert len(convs) == layers and all(c.kernel_size == (25,) and c.stride == (4,) for c in convs)
    assert [m for m in d.modules() if isinstance(m, nn.Conv1d)][0].stride == (4,)
    with torch.no_grad():
        fake = g(g.sample_latent(2))
        assert fake.shape == (2, 1, length) and fake.dtype == torch.float32
        assert fake.abs().max() <= 1
        assert d(fake).shape == (2,)


def test_the_paper_model_has_the_paper_layout():
    g, d = build(WaveGANOptions(), DataInfo(shape=(1, 16384)))
    convs = [m for m in g.modules() if isinstance(m, nn.ConvTranspose1d)]
    assert [c.in_channels for c in convs] == [1024, 512, 256, 128, 64]
    assert g.fc.out_features == 16 * 1024
    assert [m.out_channels for m in d.modules() if isinstance(m, nn.Conv1d)] == [64, 128, 256, 512, 1024]
    shuffles = [m for m in d.modules() if isinstance(m, PhaseShuffle)]
    assert len(shuffles) == 4 and all(m.n == 2 for m in shuffles)
    slopes = {m.negative_slope for m in d.modules() if isinstance(m, nn.LeakyReLU)}
    assert slopes == {0.2}


@pytest.mark.parametrize("length", [1000, 4095, 128, 12288])
def test_other_lengths_are_refused_with_the_valid_ones(length):
    with pytest.raises(GankitError, match="4096, 8192, 16384"):
        build(TINY, DataInfo(shape=(1, length)))


def test_multichannel_data_is_refused():
    with pytest.raises(GankitError, match="1×T"):
        build(TINY, DataInfo(shape=(2, 4096)))


def test_phase_shuffle_keeps_the_shape_and_is_identity_in_eval_mode():
    torch.manual_seed(0)
    shuffle = PhaseShuffle(2)
    x = torch.randn(64, 3, 50)
    y = shuffle(x)
    assert y.shape == x.shape
    assert not torch.equal(x, y)
    # Each sample is its input shifted by -2..2 with reflected edges; all five shifts occur.
    shifts = set()
    for i in range(64):
        for s in range(-2, 3):
            expected = torch.roll(x[i], s, dims=1)
            if torch.equal(y[i, :, 2:-2], expected[:, 2:-2]):
                shifts.add(s)
                if s > 0:
                    assert torch.equal(y[i, :, :s], x[i, :, 1:s + 1].flip(1))  # reflection, not wrap
                break
        else:
            raise AssertionError(f"sample {i} is not a shifted copy")
    assert shifts == {-2, -1, 0, 1, 2}
    shuffle.eval()
    assert torch.equal(shuffle(x), x)
    assert torch.equal(PhaseShuffle(0).train()(x), x)


def test_phase_shuffle_passes_gradients_and_the_discriminator_is_deterministic_in_eval():
    _, d = build(TINY, DataInfo(shape=(1, 4096)))
    x = torch.randn(3, 1, 4096, requires_grad=True)
    d(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    d.eval()
    with torch.no_grad():
        assert torch.equal(d(x), d(x))


def test_conditional_model_uses_labels_and_projection():
    info = DataInfo(shape=(1, 4096), num_classes=3)
    torch.manual_seed(0)
    g, d = build(WaveGANOptions(width=2, latent_dim=8, conditional=True), info)
    assert g.num_classes == 3 and d.num_classes == 3
    z = g.sample_latent(2)
    with torch.no_grad():
        a = g(z, torch.tensor([0, 0]))
        b = g(z, torch.tensor([1, 2]))
        assert not torch.equal(a, b)
        assert d(a, torch.tensor([0, 1])).shape == (2,)
        nn.init.normal_(d.embed.weight)
        assert not torch.equal(d(a, torch.tensor([0, 0])), d(a, torch.tensor([1, 1])))
    with pytest.raises(GankitError, match="labels"):
        g(z)
    with pytest.raises(GankitError, match="labels"):
        d(a)


def test_conditional_needs_a_labelled_dataset():
    with pytest.raises(GankitError, match="conditional.*labelled"):
        build(WaveGANOptions(conditional=True), DataInfo(shape=(1, 4096), num_classes=0))


def test_unconditional_model_ignores_labels():
    g, d = build(TINY, DataInfo(shape=(1, 4096), num_classes=5))
    assert g.num_classes == 0 and d.num_classes == 0


def test_backward_reaches_both_networks():
    torch.manual_seed(0)
    g, d = build(TINY, DataInfo(shape=(1, 4096)))
    real = torch.rand(4, 1, 4096) * 2 - 1
    loss = nn.functional.softplus(-d(real)).mean() + nn.functional.softplus(d(g(g.sample_latent(4)))).mean()
    loss.backward()
    for net in (g, d):
        grads = [p.grad for p in net.parameters()]
        assert all(grad is not None and torch.isfinite(grad).all() for grad in grads)


@pytest.mark.parametrize(("values", "word"), [({"width": 0}, "width"), ({"latent_dim": -1}, "latent_dim"),
                                              ({"phase_shuffle": -1}, "phase_shuffle"),
                                              ({"spectral_window_ms": 0}, "spectral_window_ms")])
def test_invalid_options_are_rejected(values, word):
    with pytest.raises(ValueError, match=word):
        WaveGANOptions(**values)


def test_options_from_cli_strings():
    options = build_options(WaveGANOptions, {"width": "16", "conditional": "true", "phase_shuffle": "0"},
                            what="model 'wavegan'")
    assert options == WaveGANOptions(width=16, conditional=True, phase_shuffle=0)


def test_spectral_branch_adds_its_logit_and_sees_the_spectrum():
    torch.manual_seed(0)
    info = DataInfo(shape=(1, 4096), sample_rate=8000)
    _, plain = build(TINY, info)
    _, d = build(WaveGANOptions(width=2, latent_dim=8, spectral_d=True), info)
    assert plain.spectral is None and d.spectral.n_fft == 256 and d.spectral.hop == 64
    _, wide = build(WaveGANOptions(width=2, latent_dim=8, spectral_d=True, spectral_window_ms=64), info)
    assert (wide.spectral.n_fft, wide.spectral.hop) == (512, 128) and wide(torch.zeros(2, 1, 4096)).shape == (2,)
    d.eval()
    clip = torch.sin(torch.arange(4096) * 2 * torch.pi * 440 / 8000).view(1, 1, 4096) * 0.5
    wave_only = d.fc(d.net(clip).flatten(1)).squeeze(1)
    assert torch.allclose(d(clip), wave_only + d.spectral(clip))
    # the branch's input is the log-power spectrum: a 440 Hz tone peaks in bin 440/8000*256 ≈ 14
    spec = torch.stft(clip[:, 0], 256, 64, window=d.spectral.window, return_complex=True).abs()
    assert spec.mean(-1).argmax().item() == 14


def test_spectral_branch_penalties_stay_finite_on_zero_padded_clips():
    from gankit.penalties import gradient_penalty, r1_penalty

    torch.manual_seed(0)
    _, d = build(WaveGANOptions(width=2, latent_dim=8, spectral_d=True), DataInfo(shape=(1, 4096), sample_rate=8000))
    real = torch.zeros(4, 1, 4096)
    real[:, :, :1000] = torch.rand(4, 1, 1000) - 0.5  # a burst, then exact zeros as in padded recordings
    fake = torch.rand(4, 1, 4096) * 0.01
    for penalty in (r1_penalty(d, real), gradient_penalty(d, real, fake)):
        assert torch.isfinite(penalty) and penalty > 0
        penalty.backward()
    weights = [m.weight.grad for m in d.spectral.modules() if isinstance(m, (nn.Conv1d, nn.Linear))]
    assert all(grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0 for grad in weights)


def test_the_latent_is_the_papers_uniform_and_old_checkpoints_keep_theirs():
    """Issue 16 #7: WaveGAN draws z ~ U(-1, 1)^100 (Donahue et al. 2019, the paper's table of
    hyperparameters); ``-o latent normal`` gives N(0, 1), and weights saved before the option
    existed (no ``uniform_latent`` entry) were trained on N(0, 1) and keep it."""
    info = DataInfo(shape=(1, 4096), sample_rate=16000)
    g, _ = build(TINY, info)
    z = g.sample_latent(4000, generator=torch.Generator().manual_seed(0))
    assert z.shape == (4000, 8) and z.min() >= -1 and z.max() <= 1
    assert z.var().item() == pytest.approx(1 / 3, rel=0.05) and abs(z.mean().item()) < 0.02
    assert torch.equal(z, g.sample_latent(4000, generator=torch.Generator().manual_seed(0)))
    normal, _ = build(WaveGANOptions(width=2, latent_dim=8, latent="normal"), info)
    assert normal.sample_latent(4000, generator=torch.Generator().manual_seed(0)).var().item() == pytest.approx(1, rel=0.1)
    old = {k: v for k, v in g.state_dict().items() if k != "uniform_latent"}
    g.load_state_dict(old)
    assert g.sample_latent(4000, generator=torch.Generator().manual_seed(0)).abs().max() > 1  # N(0, 1) again
    g.load_state_dict(build(TINY, info)[0].state_dict())
    assert g.sample_latent(10).abs().max() <= 1
    with pytest.raises(ValueError, match="latent must be uniform or normal"):
        WaveGANOptions(latent="gaussian")
