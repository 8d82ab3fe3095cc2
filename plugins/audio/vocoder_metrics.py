"""Metrics of a vocoder run: how close the waveforms it makes from real clips' mels come to
those clips, beside Griffin-Lim's reconstruction from the same mels (the classic
vocoder-free baseline), so every report shows the gap.

- ``vocoder``: log-mel L1 distance (the run's analysis up to ``fmax_loss``: HiFi-GAN's
  validation "mel error") and a multi-resolution STFT distance (Parallel WaveGAN's loss:
  spectral convergence plus log-magnitude L1, averaged over windows of 10, 25 and 50 ms
  with hops of a fifth of the window);
- ``stoi``: short-time objective intelligibility (Taal et al. 2011, the ``pystoi``
  package), 0..1, of the clips joined end to end (STOI averages 384 ms windows of speech,
  which many short clips do not fill on their own; joined, every clip counts);
- ``pesq``: perceptual speech quality (ITU-T P.862, the ``pesq`` package), narrow band at
  8 kHz and, for data at 16 kHz or more, wide band at 16 kHz (other rates are resampled).

Each value comes with its ``_griffin_lim`` twin: the real clips' mels turned back into
magnitudes by least squares (torchaudio's ``InverseMelScale``) and phases by 32 Griffin-Lim
iterations (torchaudio's ``GriffinLim``, momentum 0.99, seeded), aligned to the mel's
frames. ``stoi`` and ``pesq`` need the optional packages (``pip install 'gankit[vocoder]'``)
and say so in ``protocol["skipped"]`` when they are missing; all three skip runs whose
model is not conditioned on mel-spectrograms.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np
import torch

from gankit.featurestats import FeatureMemo
from gankit.specs import EvalContext, MetricResult

from .melspec import LogMel, MelSettings, has_mel_settings, settings_of

GRIFFIN_LIM_ITERATIONS = 32
MRSTFT_WINDOWS_MS = (10, 25, 50)
MISSING = "the {0} package is not installed: pip install 'gankit[vocoder]' (or pip install {0})"

_GRIFFIN_LIM = FeatureMemo(size=2)


def griffin_lim(mels: torch.Tensor, settings: MelSettings, *, iterations: int = GRIFFIN_LIM_ITERATIONS,
                seed: int = 0) -> torch.Tensor:
    """Waveforms (N, 1, frames · hop) from log-mels (N, n_mels, frames) by least-squares
    inverse mel and Griffin-Lim, shifted half a hop so they line up with the mel's frames
    (the analysis centres frame i on sample i·hop + hop/2; ``torch.istft`` on i·hop)."""
    import torchaudio

    hop, frames = settings.hop, mels.shape[-1]
    inverse = torchaudio.transforms.InverseMelScale(
        n_stft=settings.n_fft // 2 + 1, n_mels=settings.n_mels, sample_rate=settings.sample_rate,
        f_min=settings.fmin, f_max=settings.fmax if settings.fmax is not None else settings.sample_rate / 2,
        norm="slaney", mel_scale="slaney")
    transform = torchaudio.transforms.GriffinLim(n_fft=settings.n_fft, n_iter=iterations, win_length=settings.win,
                                                 hop_length=hop, power=1.0, length=(frames - 1) * hop)
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        magnitude = inverse(mels.float().exp())
        wave = transform(magnitude)
    shift = hop // 2  # frames - 1 hops: torch.stft (centred) gives back exactly the mel's frames
    aligned = torch.nn.functional.pad(wave, (shift, frames * hop - wave.shape[-1] - shift))
    return aligned.clamp(-1, 1).unsqueeze(1)


def mel_l1(reference: torch.Tensor, test: torch.Tensor, settings: MelSettings) -> torch.Tensor:
    """Per-clip mean |log-mel(test) − log-mel(reference)| (N,), up to ``fmax_loss``."""
    analysis = LogMel(settings, for_loss=True)
    with torch.no_grad():
        return (analysis(test) - analysis(reference)).abs().mean(dim=(1, 2))


def mrstft(reference: torch.Tensor, test: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Per-clip multi-resolution STFT distance (N,): spectral convergence plus mean
    |log magnitude difference|, averaged over the resolutions of ``MRSTFT_WINDOWS_MS``."""
    a, b = reference.reshape(len(reference), -1).float(), test.reshape(len(test), -1).float()
    total = torch.zeros(len(a))
    for ms in MRSTFT_WINDOWS_MS:
        win = max(8, int(round(ms / 1000 * sample_rate)))
        n_fft, hop = 1 << math.ceil(math.log2(win)), max(1, win // 5)
        window = torch.hann_window(win)
        sa, sb = (torch.stft(x, n_fft, hop, win, window, return_complex=True).abs() for x in (a, b))
        convergence = (sa - sb).norm(dim=(1, 2)) / sa.norm(dim=(1, 2)).clamp_min(1e-7)
        log_distance = (sa.clamp_min(1e-5).log() - sb.clamp_min(1e-5).log()).abs().mean(dim=(1, 2))
        total += convergence + log_distance
    return total / len(MRSTFT_WINDOWS_MS)


def stoi_joined(reference: Sequence[np.ndarray], test: Sequence[np.ndarray], sample_rate: int) -> float:
    """STOI of the clips joined end to end (each test clip cut to its reference's length);
    NaN when even that holds too little speech (under about 0.4 s)."""
    import warnings

    from pystoi import stoi

    ref = np.concatenate([np.asarray(r, dtype=np.float64) for r in reference])
    deg = np.concatenate([np.asarray(t, dtype=np.float64)[:len(r)] for r, t in zip(reference, test)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = float(stoi(ref, deg, sample_rate, extended=False))
    return math.nan if caught or value <= 1e-5 else value


def pesq_scores(reference: np.ndarray, test: np.ndarray, sample_rate: int, mode: str) -> list[float]:
    """PESQ (``mode`` ``nb`` at 8 kHz or ``wb`` at 16 kHz) of each clip pair, resampling to
    that rate; NaN where PESQ finds no speech."""
    from pesq import pesq

    from .io import resample

    rate = 8000 if mode == "nb" and sample_rate < 16000 else 16000
    scores = []
    for ref, deg in zip(reference, test):
        ref, deg = resample(ref, sample_rate, rate), resample(deg, sample_rate, rate)
        try:
            scores.append(float(pesq(rate, ref.astype(np.float64), deg.astype(np.float64), mode)))
        except Exception:  # pesq raises NoUtterancesError and others for clips it cannot score
            scores.append(math.nan)
    return scores


# The metrics ------------------------------------------------------------------------------

def _applies(context: EvalContext) -> str | None:
    """Why the vocoder metrics do not apply to this run, or None when they do."""
    cond = context.fake_labels
    if not has_mel_settings(context.info) or not isinstance(cond, torch.Tensor) or cond.ndim != 3:
        return ("applies to vocoder runs only: a model conditioned on mel-spectrograms (gankit train audio --model "
                "hifigan --dataset mel); this run's model is not")
    return None


def _baseline(context: EvalContext, settings: MelSettings) -> torch.Tensor:
    mels = context.fake_labels
    assert isinstance(mels, torch.Tensor)
    return _GRIFFIN_LIM.get(("griffin-lim", settings, context.seed), mels,
                            lambda: griffin_lim(mels, settings, seed=context.seed))


def _scored(fake: torch.Tensor, context: EvalContext, name: str,
            score: Callable[[torch.Tensor, torch.Tensor, MelSettings], dict[str, list[float] | torch.Tensor]],
            needs: str | None = None) -> MetricResult:
    """Run ``score(reference, test, settings)`` on the fakes and on Griffin-Lim's
    reconstruction; values are means over the clips each could score."""
    skipped = _applies(context)
    if skipped is None and needs is not None:
        try:
            __import__(needs)
        except ImportError:
            skipped = MISSING.format(needs)
    if skipped is not None:
        return MetricResult({}, {"skipped": skipped})
    settings = settings_of(context.info)
    real = context.real
    length = min(real.shape[-1], fake.shape[-1])
    real, fake = real[..., :length], fake[..., :length]
    baseline = _baseline(context, settings)[..., :length]
    values: dict[str, float] = {}
    unscored: dict[str, int] = {}
    for suffix, test in (("", fake), ("_griffin_lim", baseline)):
        for key, scores in score(real, test, settings).items():
            array = np.asarray(torch.as_tensor(scores, dtype=torch.float64))
            finite = array[np.isfinite(array)]
            if len(finite):
                values[key + suffix] = float(finite.mean())
            if len(finite) < len(array):
                unscored[key + suffix] = int(len(array) - len(finite))
    protocol: dict[str, Any] = {
        "n": len(fake), "sample_rate": settings.sample_rate, "clip_samples": length, "mel": settings.to_dict(),
        "reference": "the real clips whose mels the fakes were generated from",
        "griffin_lim": f"the same mels: least-squares inverse mel, {GRIFFIN_LIM_ITERATIONS} Griffin-Lim iterations "
                       f"(torchaudio, momentum 0.99, seed {context.seed})",
    }
    if unscored:
        protocol["unscored_clips"] = unscored
    if not values:
        protocol["skipped"] = (f"{name} could score none of the {len(fake)} clips ({length} samples at "
                               f"{settings.sample_rate} Hz): too short or without speech")
    return MetricResult(values, protocol)


def vocoder(fake: torch.Tensor, context: EvalContext) -> MetricResult:
    """Log-mel L1 and multi-resolution STFT distance of the fakes and of Griffin-Lim."""
    result = _scored(fake, context, "vocoder", lambda real, test, settings: {
        "mel_l1": mel_l1(real, test, settings), "mrstft": mrstft(real, test, settings.sample_rate)})
    if result.values:
        result.protocol.update({
            "mel_l1": "mean |log-mel(test) - log-mel(real)|, natural log, the run's mel analysis up to fmax_loss",
            "mrstft": f"spectral convergence + mean |log |STFT| difference|, averaged over Hann windows of "
                      f"{', '.join(map(str, MRSTFT_WINDOWS_MS))} ms (hop a fifth of the window)"})
    return result


def stoi(fake: torch.Tensor, context: EvalContext) -> MetricResult:
    """STOI of the fakes and of Griffin-Lim against the real clips."""
    result = _scored(fake, context, "stoi", lambda real, test, settings: {
        "stoi": [stoi_joined(real[:, 0].numpy(), test[:, 0].numpy(), settings.sample_rate)]}, needs="pystoi")
    if result.values:
        result.protocol["stoi"] = "pystoi, classic STOI, of the clips joined end to end (one score)"
    return result


def pesq(fake: torch.Tensor, context: EvalContext) -> MetricResult:
    """PESQ narrow band (and wide band for data at 16 kHz or more) of the fakes and of Griffin-Lim."""
    def score(real: torch.Tensor, test: torch.Tensor, settings: MelSettings) -> dict[str, list[float]]:
        ref, deg, rate = real[:, 0].numpy(), test[:, 0].numpy(), settings.sample_rate
        scores = {"pesq_nb": pesq_scores(ref, deg, rate, "nb")}
        if rate >= 16000:
            scores["pesq_wb"] = pesq_scores(ref, deg, rate, "wb")
        return scores

    result = _scored(fake, context, "pesq", score, needs="pesq")
    if result.values and result.protocol["sample_rate"] < 16000:
        result.protocol["pesq_wb"] = "not computed: wide-band PESQ needs audio at 16 kHz or more"
    return result
