"""The built-in ``audio`` plugin: the audio domain, the ``wavegan`` model, the ``tones``,
``folder`` and ``fsdd`` datasets, and the ``fd``, ``is`` and ``spectral`` metrics.

Registering must stay cheap (``gankit --help``), so this module imports no torch,
torchaudio, numpy or soundfile: the callables in the specs below import their module on
first call.
"""

from __future__ import annotations

from typing import Callable

from gankit.hookspecs import hookimpl
from gankit.specs import DatasetSpec, DomainSpec, MetricSpec, ModelSpec, Preset, lazy

from .options import FolderOptions, FSDDOptions, TonesOptions, WaveGANOptions

# WaveGAN's published recipe (Donahue et al. 2019, table of hyperparameters): WGAN-GP with
# lambda 10, five critic updates per generator update, Adam 1e-4 with betas (0.5, 0.9),
# batch 64. It is the default because it is the one known to work at scale (on a GPU). On
# two CPU cores it is too slow to leave noise in 12 minutes; the `cpu` preset trades it for
# a smaller model and a 6x cheaper step (one critic update, lazy R1 instead of the gradient
# penalty's every-step double backward): see benchmarks/quality_audio.md and
# benchmarks/audio_recipe.md.
PAPER = {
    "objective": "wgan-gp",
    "penalty": "gp",
    "penalty_weight": 10.0,
    "n_critic": 5,
    "lr_g": 1e-4,
    "lr_d": 1e-4,
    "betas_g": (0.5, 0.9),
    "betas_d": (0.5, 0.9),
    "batch_size": 64,
}

WAVEGAN_DEFAULTS = {**PAPER, "ema_decay": 0.999}

WAVEGAN_PRESETS = {
    "paper": Preset(
        "WaveGAN as published: WGAN-GP (lambda 10), n_critic 5, Adam 1e-4 (0.5, 0.9), batch 64, no EMA",
        {**PAPER, "ema_decay": 0.0},
    ),
    "cpu": Preset(
        "spoken digits on a 2-core CPU in 12 minutes: 1 s peak-normalised clips at 8 kHz (8192 samples), width 16, "
        "non-saturating loss + lazy R1 (gamma 1), n_critic 1, Adam 1e-3, batch 16 (benchmarks/quality_audio.md)",
        {"objective": "non-saturating", "penalty": "r1", "penalty_weight": 1.0, "penalty_every": 4,
         "n_critic": 1, "lr_g": 1e-3, "lr_d": 1e-3, "betas_g": (0.5, 0.99), "betas_d": (0.5, 0.99),
         "batch_size": 16, "ema_decay": 0.999, "width": 16, "length": 8192,
         "sample_rate": 8000, "normalize": True, "max_minutes": 12.0, "steps": 100000, "sample_every": 250,
         "log_every": 50},
    ),
}


@hookimpl
def register_domains(register: Callable[[DomainSpec], None]) -> None:
    register(
        DomainSpec(
            name="audio",
            description="mono clips as float 1×T tensors in [-1, 1] at the data's sample rate; samples written as "
                        "16-bit WAV, previews as WAV + mel-spectrogram PNG",
            default_model="wavegan",
            default_dataset="tones",
            write_samples=lazy("gankit.plugins.audio.io:write_samples"),
            write_preview=lazy("gankit.plugins.audio.io:write_preview"),
            to_numpy=lazy("gankit.plugins.audio.io:to_numpy"),
            from_numpy=lazy("gankit.plugins.audio.io:from_numpy"),
        )
    )


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
    register(
        ModelSpec(
            name="wavegan",
            domain="audio",
            description="WaveGAN (Donahue 2019): 1-D transposed-conv G, strided-conv D with phase shuffle; "
                        "layers follow the clip length",
            build=lazy("gankit.plugins.audio.wavegan:build"),
            options=WaveGANOptions,
            defaults=WAVEGAN_DEFAULTS,
            presets=WAVEGAN_PRESETS,
        )
    )


@hookimpl
def register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    register(
        DatasetSpec(
            name="tones",
            domain="audio",
            description="embedded synthesised notes (pitch classes, harmonics, envelopes), 16384 samples at 16 kHz "
                        "by default (no download)",
            build=lazy("gankit.plugins.audio.datasets:build_tones"),
            options=TonesOptions,
        )
    )
    register(
        DatasetSpec(
            name="folder",
            domain="audio",
            description="every WAV/FLAC/OGG file under --data, mixed to mono, resampled, cropped or zero-padded; "
                        "labels from sub-folders or a file-name pattern",
            build=lazy("gankit.plugins.audio.datasets:build_folder"),
            options=FolderOptions,
            needs_data=True,
        )
    )
    register(
        DatasetSpec(
            name="fsdd",
            domain="audio",
            description="Free Spoken Digit Dataset recordings in --data ({digit}_{speaker}_{take}.wav), "
                        "labelled by digit; 8192 samples at 8 kHz",
            build=lazy("gankit.plugins.audio.datasets:build_fsdd"),
            options=FSDDOptions,
            needs_data=True,
        )
    )


@hookimpl
def register_metrics(register: Callable[[MetricSpec], None]) -> None:
    # fd comes first: a domain's first metric with a primary value is what --eval-every tracks.
    # fd and is score clips with a log-mel classifier gankit trains on the run's dataset
    # (WaveGAN's SC09 protocol); see docs/metrics.md.
    register(MetricSpec(name="fd", domain="audio", compute=lazy("gankit.plugins.audio.metrics:fd"),
                        description="Fréchet distance between Gaussian fits of a log-mel classifier's features of "
                                    "real and fake clips (lower: better)",
                        primary="fd", higher_is_better=False))
    register(MetricSpec(name="is", domain="audio", compute=lazy("gankit.plugins.audio.metrics:inception_score"),
                        description="Inception Score exp(E KL(p(y|x) || p(y))) of the log-mel classifier over splits, "
                                    "and the real clips'"))
    register(MetricSpec(name="spectral", domain="audio", compute=lazy("gankit.plugins.audio.metrics:spectral"),
                        description="mean RMS, silence fraction and spectral centroid of fakes and reals, and their "
                                    "absolute differences"))
