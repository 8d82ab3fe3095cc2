"""The ``vocos`` vocoder: frame-rate synthesis through the inverse STFT (frames · hop
samples, exact reconstruction of a consistent spectrum), the multi-resolution
discriminator's heads, the conformance kit, the published defaults, exact resume, the
vocode path, and that it learns (on the pure tones of test_hifigan)."""

from __future__ import annotations


import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F

import gankit
from gankit.errors import GankitError
from gankit.models import DiscriminatorOutput, Generator
from gankit.plugins.audio.hifigan_d import HiFiGANDiscriminator
from gankit.plugins.audio.melspec import LogMel, MelSettings
from gankit.plugins.audio.options import VocosOptions
from gankit.plugins.audio.vocos import SIZES, InverseSTFT, build
from gankit.registry import get_registry
from gankit.specs import DataInfo
from gankit.testing import parametrize_with_checks

from vocoder_helpers import (MEL, RATE, TONES, assert_resumes_exactly, check_mel_contract, info_for, tones_trainer,
                             write_tones)

TINY = dict(size="cpu", dim=16, intermediate_dim=32, layers=2, d_width=1 / 16, periods=(2, 3), resolutions=(64, 32))


def tiny(**overrides) -> VocosOptions:
    return VocosOptions(**{**TINY, **overrides})


@pytest.mark.parametrize("hop, n_fft, win", [(16, 64, 64), (16, 64, 48), (10, 40, 40), (32, 64, 64)])
def test_the_inverse_stft_rebuilds_a_consistent_spectrum_with_the_analysis_framing(hop, n_fft, win):
    """The STFT of a wave, framed as the mel analysis frames it (reflect-padded by
    (n_fft - hop) / 2, not centred), comes back as that wave: frames · hop samples."""
    wave = torch.randn(2, hop * 12) * 0.3
    pad = (n_fft - hop) // 2
    window = F.pad(torch.hann_window(win), ((n_fft - win) // 2, (n_fft - win + 1) // 2))
    padded = F.pad(wave.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    spectrum = torch.stft(padded, n_fft, hop, n_fft, window=window, center=False, return_complex=True)
    assert spectrum.shape[-1] == 12
    rebuilt = InverseSTFT(n_fft, hop, win)(spectrum)
    assert rebuilt.shape == wave.shape
    assert torch.allclose(rebuilt, wave, atol=1e-5)


@pytest.mark.parametrize("hop", [16, 8, 20])
def test_frames_times_hop_samples(hop):
    g, _ = build(tiny(), info_for(hop=hop, segment=hop * 8))
    assert isinstance(g, Generator) and g.latent_dim == 0 and g.conditional and g.num_classes == 0
    with torch.no_grad():
        wave = g(None, torch.randn(2, 16, 7))
    assert wave.shape == (2, 1, 7 * hop) and wave.abs().max() <= 1


def test_the_published_size_and_bad_inputs():
    assert (SIZES["base"].dim, SIZES["base"].intermediate_dim, SIZES["base"].layers) == (512, 1536, 8)
    g, _ = build(VocosOptions(), info_for())
    assert sum(p.numel() for p in g.blocks.parameters()) > 12e6  # 8 ConvNeXt blocks of dim 512 (vocos: 13.5 M)
    with pytest.raises(GankitError, match="--dataset mel"):
        build(tiny(), DataInfo(shape=(1, 256), sample_rate=RATE))
    with pytest.raises(GankitError, match=r"multiple of the hop \(16\)"):
        build(tiny(), info_for(segment=250))
    with pytest.raises(GankitError, match=r"mel-spectrograms \(N, 16, frames\)"):
        g(None, torch.randn(2, 80, 5))
    with pytest.raises(ValueError, match="at least one period or one resolution"):
        VocosOptions(periods=(), resolutions=())


def test_the_multi_resolution_discriminator_returns_its_heads_and_feature_maps():
    d = HiFiGANDiscriminator(periods=(2,), scales=1, width=1 / 16, resolutions=(64, 128))
    out = d(torch.rand(2, 1, 1000) * 2 - 1)
    assert isinstance(out, DiscriminatorOutput)
    assert d.head_names == ["period-2", "resolution-64", "resolution-128", "scale-0"]
    assert len(out.logits) == 4 and all(logits.shape[0] == 2 and logits.ndim == 2 for logits in out.logits)
    assert len(out.features) == 6 + 6 + 6 + 8
    spectrum_map = out.features[6]  # the first map of resolution-64: (N, C, 33 bins / 2, frames / 2)
    assert spectrum_map.shape[:3] == (2, 4, 17)
    full = HiFiGANDiscriminator(periods=(), scales=0, resolutions=(1024,))
    assert [c.out_channels for c in full.resolutions[0].convs] == [64] * 5  # vocos's DiscriminatorR


def test_the_networks_follow_the_contract_with_the_mel_loss():
    check_mel_contract(build, tiny(), feature_matching=1.0)


def test_the_defaults_are_the_published_recipe():
    spec = get_registry().model("audio", "vocos")
    defaults = spec.defaults
    assert defaults["objective"] == "hinge" and defaults["feature_matching"] == 1.0
    assert defaults["optimizer_g"] == defaults["optimizer_d"] == "adamw"
    assert defaults["betas_g"] == defaults["betas_d"] == (0.8, 0.9) and defaults["lr_g"] == defaults["lr_d"] == 5e-4
    assert (defaults["lr_schedule"], defaults["lr_decay_unit"]) == ("cosine", "step")
    assert [(aux.name, aux.weight) for aux in spec.aux_losses] == [("mel_l1", 45.0)]
    assert VocosOptions().resolutions == (1024, 2048, 512) and VocosOptions().periods == (2, 3, 5, 7, 11)


@parametrize_with_checks(domains=[("audio", "vocos", "mel", {"data": str(TONES), **MEL, **TINY, "batch_size": 4})],
                         ids=["vocos-tones"])
def test_vocos_conforms(check, tmp_path_factory):
    check(tmp_path_factory)


train_tones = tones_trainer("vocos", TINY)


def test_a_resumed_run_ends_bit_identical(tmp_path):
    """(A constant rate: the cosine schedule's horizon is the steps a run starts with, so a
    run started for 2 steps decays on another curve; tests/core/test_engine2.py covers
    schedules across resumes.)"""
    assert_resumes_exactly(train_tones, tmp_path, lr_schedule="constant")


def test_it_learns_pure_tones_and_vocodes_them(tmp_path):
    """After 60 steps the tones' log-mel L1 falls well below an untrained generator's (the
    same initial weights), and `gankit vocode` with the run resynthesises a tone file."""
    data = write_tones(tmp_path / "tones", count=8)
    run = train_tones(tmp_path / "run", data, 60, lr_g=2e-3, lr_d=2e-3, log_every=10)
    torch.manual_seed(0)  # the run's seed: the weights it started from
    untrained, _ = build(tiny(), run.info)
    analysis = LogMel(MelSettings(**run.info.extra["mel"]))
    waves = torch.stack([torch.from_numpy(sf.read(p, dtype="float32")[0][:384]) for p in sorted(data.iterdir())])
    mels = analysis(waves)
    with torch.no_grad():
        before = (analysis(untrained(None, mels)) - mels).abs().mean()
        after = (analysis(run.generator(None, mels)) - mels).abs().mean()
    assert after < 0.5 * before, (float(before), float(after))
    result = gankit.vocode(run, [data / "tone03.wav"], out=tmp_path / "vocoded", progress=False)
    written, _ = sf.read(tmp_path / "vocoded" / "tone03.wav", dtype="float32")
    original, _ = sf.read(data / "tone03.wav", dtype="float32")
    assert len(written) == len(original) and result.rtf > 0
    vocoded_error = (analysis(torch.from_numpy(written)[None]) - analysis(torch.from_numpy(original)[None])).abs()
    assert float(vocoded_error.mean()) < float(before)


def test_chunked_vocoding_matches_one_pass_beyond_the_default_context(tmp_path):
    """Six blocks reach 23 frames each side, more than vocode's default 16: the generator's
    declared context_frames is used, so chunks of 37 frames match one pass."""
    data = write_tones(tmp_path / "tones", count=4)
    run = train_tones(tmp_path / "run", data, 2, layers=6)
    assert run.generator.context_frames == 23
    long = tmp_path / "long.wav"
    sf.write(long, np.concatenate([sf.read(p, dtype="float32")[0] for p in sorted(data.iterdir())] * 4), RATE)
    whole = gankit.vocode(run, long, out=tmp_path / "whole", chunk_frames=100_000, progress=False)
    pieces = gankit.vocode(run, long, out=tmp_path / "pieces", chunk_frames=37, progress=False)
    a, b = (sf.read(result.outputs[0], dtype="float32")[0] for result in (whole, pieces))
    assert len(a) == len(b) == 4 * 4 * 800
    exact = np.abs(a - b).max()
    assert exact <= 2 / 2**15  # 16-bit rounding
    short = gankit.vocode(run, long, out=tmp_path / "short", chunk_frames=37, context_frames=4, progress=False)
    assert np.abs(sf.read(short.outputs[0], dtype="float32")[0] - a).max() > 8 / 2**15  # too little context shows
