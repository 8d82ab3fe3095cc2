"""The ``hifigan`` vocoder: generator shapes and the hop/upsampling rule, the
discriminators' heads and feature maps, the conformance kit, the published defaults,
exact resume, and that it learns (on a folder of pure tones at 2 kHz written here)."""

from __future__ import annotations

import math

import pytest
import soundfile as sf
import torch

from gankit.errors import GankitError
from gankit.models import DiscriminatorOutput, Generator
from gankit.plugins.audio.hifigan import SIZES, HiFiGANGenerator, build, suggest_rates
from gankit.plugins.audio.hifigan_d import HiFiGANDiscriminator
from gankit.plugins.audio.melspec import LogMel, MelSettings
from gankit.plugins.audio.options import HiFiGANOptions
from gankit.registry import get_registry
from gankit.specs import DataInfo
from gankit.testing import parametrize_with_checks

from vocoder_helpers import (MEL, RATE, TONES, assert_resumes_exactly, check_mel_contract, info_for, tones_trainer,
                             write_tones)

TINY = dict(size="cpu", upsample_rates=(4, 4), upsample_initial_channel=16, d_width=1 / 32, periods=(2, 3), scales=2)


def tiny(**overrides) -> HiFiGANOptions:
    return HiFiGANOptions(**{**TINY, **overrides})


@pytest.mark.parametrize("rates", [(4, 4), (2, 8), (16,), (2, 2, 2, 2), (3, 5)])
def test_frames_times_hop_samples_for_any_factors(rates):
    hop = math.prod(rates)
    g, _ = build(tiny(upsample_rates=rates), info_for(hop=hop, segment=hop * 8))
    assert isinstance(g, Generator) and g.latent_dim == 0 and g.conditional and g.num_classes == 0
    assert g.sample_latent(3) is None
    with torch.no_grad():
        wave = g(None, torch.randn(2, 16, 7))
    assert wave.shape == (2, 1, 7 * hop) and wave.abs().max() <= 1


def test_the_published_sizes_have_the_published_layout():
    assert SIZES["v1"].upsample_rates == (8, 8, 2, 2) and SIZES["v1"].upsample_initial_channel == 512
    assert SIZES["v2"].upsample_initial_channel == 128 and SIZES["v2"].kernels == (3, 7, 11)
    assert SIZES["v3"].upsample_rates == (8, 8, 4) and SIZES["v3"].dilations == ((1, 2), (2, 6), (3, 12))
    g = HiFiGANGenerator(80, SIZES["v1"])
    ups = [m for m in g.ups]
    assert [(u.in_channels, u.out_channels, u.kernel_size[0], u.stride[0]) for u in ups] == [
        (512, 256, 16, 8), (256, 128, 16, 8), (128, 64, 4, 2), (64, 32, 4, 2)]
    assert all(hasattr(u, "parametrizations") and "weight" in u.parametrizations for u in ups)  # weight norm
    assert len(g.fusions[0]) == 3 and len(g.fusions[0][0].dilated) == 3 and g.fusions[0][0].plain is not None


def test_a_hop_that_does_not_match_the_upsampling_is_a_clear_error():
    with pytest.raises(GankitError, match=r"upsamples by 8·8·2·2 = 256 .* mel hop is 16; .*\(e\.g\. 8,2\)"):
        build(HiFiGANOptions(), info_for(hop=16))
    assert suggest_rates(256) == "8,8,4" and suggest_rates(120) == "8,3,5" and suggest_rates(100) == "4,5,5"


def test_data_without_mel_settings_is_refused():
    with pytest.raises(GankitError, match="--dataset mel"):
        build(tiny(), DataInfo(shape=(1, 256), sample_rate=RATE))


def test_the_generator_refuses_a_condition_that_is_not_a_mel():
    g, _ = build(tiny(), info_for())
    with pytest.raises(GankitError, match=r"mel-spectrograms \(N, 16, frames\)"):
        g(None, torch.randn(2, 80, 5))


def test_each_discriminator_returns_its_heads_and_feature_maps():
    d = HiFiGANDiscriminator(periods=(2, 3, 5, 7, 11), scales=3, width=1 / 16)
    out = d(torch.rand(2, 1, 1000) * 2 - 1)
    assert isinstance(out, DiscriminatorOutput)
    assert d.head_names == ["period-2", "period-3", "period-5", "period-7", "period-11", "scale-0", "scale-1",
                            "scale-2"]
    assert len(out.logits) == 8 and all(logits.shape[0] == 2 and logits.ndim == 2 for logits in out.logits)
    assert len(out.features) == 5 * 6 + 3 * 8  # every convolution's output and the last one's, per head
    period_5 = out.features[2 * 6]  # the first map of the period-5 head: (N, C, T / 5 / 3, 5)
    assert period_5.shape[0] == 2 and period_5.shape[-1] == 5
    spectral = [name for name, _ in d.scales[0].named_parameters() if "parametrizations" in name]
    assert spectral and all(hasattr(conv.parametrizations.weight[0], "_u") for conv in d.scales[0].convs)
    assert all(not hasattr(conv.parametrizations.weight[0], "_u") for conv in d.scales[1].convs)  # weight norm
    full = HiFiGANDiscriminator()
    assert [c.out_channels for c in full.periods[0].convs] == [32, 128, 512, 1024, 1024]
    assert [c.out_channels for c in full.scales[0].convs] == [128, 128, 256, 512, 1024, 1024, 1024]
    assert [c.groups for c in full.scales[0].convs] == [1, 4, 16, 16, 16, 16, 1]


def test_the_networks_follow_the_contract_with_the_mel_loss():
    check_mel_contract(build, tiny(), feature_matching=2.0)


def test_the_defaults_are_the_published_recipe():
    spec = get_registry().model("audio", "hifigan")
    defaults = spec.defaults
    assert defaults["objective"] == "lsgan" and defaults["feature_matching"] == 2.0 and defaults["ema_decay"] == 0.0
    assert defaults["optimizer_g"] == defaults["optimizer_d"] == "adamw"
    assert defaults["betas_g"] == defaults["betas_d"] == (0.8, 0.99) and defaults["lr_g"] == defaults["lr_d"] == 2e-4
    assert (defaults["lr_schedule"], defaults["lr_decay"], defaults["lr_decay_unit"]) == ("exponential", 0.999, "epoch")
    assert defaults["batch_size"] == 16
    assert [(aux.name, aux.weight) for aux in spec.aux_losses] == [("mel_l1", 45.0)]
    mel = get_registry().dataset("audio", "mel").options()
    assert (mel.sample_rate, mel.n_fft, mel.hop, mel.win, mel.n_mels, mel.fmin, mel.fmax, mel.segment) == (
        22050, 1024, 256, 1024, 80, 0.0, 8000.0, 8192)


@parametrize_with_checks(domains=[("audio", "hifigan", "mel", {"data": str(TONES), **MEL, **TINY, "batch_size": 4})],
                         ids=["hifigan-tones"])
def test_hifigan_conforms(check, tmp_path_factory):
    check(tmp_path_factory)


train_tones = tones_trainer("hifigan", TINY)


def test_a_resumed_run_ends_bit_identical(tmp_path):
    assert_resumes_exactly(train_tones, tmp_path)


def test_it_learns_pure_tones(tmp_path):
    """After 150 steps the vocoded tones' log-mel L1 to the originals falls well below an
    untrained generator's (the same initial weights)."""
    data = write_tones(tmp_path / "tones", count=8)
    run = train_tones(tmp_path / "run", data, 150, lr_g=3e-3, lr_d=3e-3, log_every=10)
    logged = [r["aux/mel_l1"] for r in run.metrics]
    assert logged[-1] < logged[0]
    torch.manual_seed(0)  # the run's seed: the weights it started from
    untrained, _ = build(tiny(), run.info)
    settings = MelSettings(**run.info.extra["mel"])
    analysis = LogMel(settings)
    waves = torch.stack([torch.from_numpy(sf.read(p, dtype="float32")[0][:384]) for p in sorted(data.iterdir())])
    mels = analysis(waves)
    with torch.no_grad():
        before = (analysis(untrained(None, mels)) - mels).abs().mean()
        after = (analysis(run.generator(None, mels)) - mels).abs().mean()
    assert after < 0.5 * before, (float(before), float(after))
