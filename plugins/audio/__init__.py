"""The built-in ``audio`` plugin: the audio domain, the ``wavegan`` model and the
``hifigan`` and ``vocos`` vocoders, the ``tones``, ``folder``, ``fsdd`` and ``mel`` datasets, the ``fd``,
``is`` and ``spectral`` metrics and the vocoder's ``vocoder``, ``stoi`` and ``pesq``, and
the ``gankit vocode`` command (:func:`vocode` from Python).

Registering must stay cheap (``gankit --help``), so this module imports no torch,
torchaudio, numpy or soundfile: the callables in the specs below import their module on
first call.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from gankit.hookspecs import hookimpl
from gankit.specs import AuxLossSpec, DatasetSpec, DomainSpec, MetricSpec, ModelSpec, Preset, lazy

from .options import FolderOptions, FSDDOptions, HiFiGANOptions, MelOptions, TonesOptions, VocosOptions, WaveGANOptions

if TYPE_CHECKING:  # pragma: no cover
    from .vocoder import VocodeResult

# WaveGAN's published recipe (Donahue et al. 2019, table of hyperparameters): WGAN-GP with
# lambda 10, five critic updates per generator update, Adam 1e-4 with betas (0.5, 0.9),
# batch 64. It is the default on an accelerator because it is the one known to work at scale.
# On two CPU cores it is too slow to leave noise in 12 minutes (issue 19 measured 133 s a step
# on the default data: over a day for the default 1000 steps), so on a CPU the `cpu` preset is the
# default (cpu_preset): a smaller model and a 6x cheaper step (one critic update, lazy R1
# instead of the gradient penalty's every-step double backward), see
# benchmarks/quality_audio.md and benchmarks/audio_recipe.md.
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


# HiFi-GAN's published recipe (Kong et al. 2020; jik876/hifi-gan config_v1.json and train.py).
# The engine's lsgan is half of HiFi-GAN's least-squares terms (0.5 (D(x)-1)^2 + 0.5 D(G)^2), so
# with the published weights below the adversarial term weighs half as much against feature
# matching and the mel loss as in the paper; --feature-matching 4 --aux-weights mel_l1=90 gives
# the paper's updates exactly (Adam and AdamW are invariant to scaling the whole loss).
HIFIGAN_DEFAULTS = {
    "objective": "lsgan",  # models.py: discriminator_loss/generator_loss, mean((1-D)^2) and mean(D^2)
    "penalty": "none",
    "feature_matching": 2.0,  # models.py: feature_loss(...) * 2
    "optimizer_g": "adamw",  # train.py: torch.optim.AdamW (torch's weight decay 0.01)
    "optimizer_d": "adamw",
    "lr_g": 2e-4,  # config_v1.json: learning_rate
    "lr_d": 2e-4,
    "betas_g": (0.8, 0.99),  # config_v1.json: adam_b1, adam_b2
    "betas_d": (0.8, 0.99),
    "lr_schedule": "exponential",  # train.py: ExponentialLR(gamma=lr_decay), stepped once per epoch
    "lr_decay": 0.999,  # config_v1.json: lr_decay
    "lr_decay_unit": "epoch",
    "ema_decay": 0.0,  # HiFi-GAN keeps no average of the generator
    "n_critic": 1,  # train.py: one D update, then one G update
    "batch_size": 16,  # config_v1.json: batch_size
    "steps": 2_500_000,  # the paper: "up to 2.5M steps"
    "log_every": 100,  # train.py: summary_interval
    "sample_every": 1000,  # train.py: validation_interval
    "checkpoint_every": 5000,  # train.py: checkpoint_interval
}

HIFIGAN_PRESETS = {
    "cpu": Preset(
        "speech at 8 kHz (FSDD) on one CPU thread in 30 CPU-minutes: size cpu, discriminators at 1/8 width, hop 128 "
        "(n_fft 512, 64 mel bands up to 4 kHz), 2048-sample segments, batch 16 (benchmarks/quality_vocoder.md)",
        {"size": "cpu", "d_width": 0.125, "sample_rate": 8000, "n_fft": 512, "win": 512, "hop": 128, "n_mels": 64,
         "fmax": 4000.0, "segment": 2048, "batch_size": 16, "max_minutes": 30.0, "steps": 1_000_000,
         "log_every": 25, "sample_every": 500, "checkpoint_every": 250},
    ),
}

# Both vocoders' auxiliary loss: HiFi-GAN's mel L1 at its published weight, which Vocos keeps.
MEL_L1 = AuxLossSpec("mel_l1", 45.0, lazy("gankit.plugins.audio.hifigan:build_mel_l1"),
                     "L1 between the log-mels of fake and real waveforms (HiFi-GAN train.py: x45; Vocos "
                     "mel_loss_coeff: 45)")

# Vocos's published recipe (Siuzdak 2023; gemelo-ai/vocos configs/vocos.yaml and
# experiment.py). Vocos's generator hinge term is mean(relu(1 - D(G))); the engine's hinge
# objective uses -mean(D(G)) (SN-GAN), which has the same gradient wherever D(G) < 1.
# Vocos weighs the multi-resolution heads' terms by 0.1; the engine weighs every head alike.
VOCOS_DEFAULTS = {
    "objective": "hinge",  # loss.py: DiscriminatorLoss, GeneratorLoss
    "penalty": "none",
    "feature_matching": 1.0,  # experiment.py: loss_fm_mp + loss_fm_mrd, unweighted
    "optimizer_g": "adamw",  # experiment.py: torch.optim.AdamW
    "optimizer_d": "adamw",
    "lr_g": 5e-4,  # configs/vocos.yaml: initial_learning_rate
    "lr_d": 5e-4,
    "betas_g": (0.8, 0.9),  # experiment.py: betas=(0.8, 0.9)
    "betas_d": (0.8, 0.9),
    "lr_schedule": "cosine",  # experiment.py: get_cosine_schedule_with_warmup, no warm-up
    "lr_decay_unit": "step",
    "ema_decay": 0.0,
    "n_critic": 1,
    "batch_size": 16,  # configs/vocos.yaml: batch_size
    "steps": 2_000_000,  # configs/vocos.yaml: max_steps
    "log_every": 100,
    "sample_every": 1000,
    "checkpoint_every": 5000,
}

VOCOS_PRESETS = {
    "cpu": Preset(
        "speech at 8 kHz (FSDD) on one CPU thread in 30 CPU-minutes: size cpu, discriminators at 1/8 width with "
        "resolutions 512/1024/256, hop 128 (n_fft 512, 64 mel bands up to 4 kHz), 2048-sample segments, batch 16 "
        "(benchmarks/quality_vocoder.md)",
        {"size": "cpu", "d_width": 0.125, "resolutions": (512, 1024, 256), "sample_rate": 8000, "n_fft": 512,
         "win": 512, "hop": 128, "n_mels": 64, "fmax": 4000.0, "segment": 2048, "batch_size": 16,
         "max_minutes": 30.0, "steps": 1_000_000, "log_every": 25, "sample_every": 500, "checkpoint_every": 250},
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
            write_paired_preview=lazy("gankit.plugins.audio.paired_preview:write_paired_preview"),
            to_numpy=lazy("gankit.plugins.audio.io:to_numpy"),
            from_numpy=lazy("gankit.plugins.audio.io:from_numpy"),
            read_conditions=lazy("gankit.plugins.audio.melspec:read_conditions"),
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
            cpu_preset="cpu",
        )
    )
    register(
        ModelSpec(
            name="hifigan",
            domain="audio",
            description="HiFi-GAN vocoder (Kong 2020): mel-spectrogram -> waveform; transposed-conv G with "
                        "multi-receptive-field blocks, multi-period + multi-scale D; train it on the mel dataset",
            build=lazy("gankit.plugins.audio.hifigan:build"),
            options=HiFiGANOptions,
            defaults=HIFIGAN_DEFAULTS,
            presets=HIFIGAN_PRESETS,
            aux_losses=(MEL_L1,),
        )
    )
    register(
        ModelSpec(
            name="vocos",
            domain="audio",
            description="Vocos vocoder (Siuzdak 2023): mel-spectrogram -> STFT magnitude and phase -> waveform by "
                        "inverse STFT; ConvNeXt G at the frame rate, multi-period + multi-resolution D; train it on "
                        "the mel dataset",
            build=lazy("gankit.plugins.audio.vocos:build"),
            options=VocosOptions,
            defaults=VOCOS_DEFAULTS,
            presets=VOCOS_PRESETS,
            aux_losses=(MEL_L1,),
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
    register(
        DatasetSpec(
            name="mel",
            domain="audio",
            description="random segments of the audio files in --data with their log-mel spectrograms (a vocoder's "
                        "data); FSDD file names get FSDD's train/validation split",
            build=lazy("gankit.plugins.audio.mel:build_mel"),
            options=MelOptions,
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
    # Vocoder runs (a model conditioned on mels): each beside Griffin-Lim from the same mels.
    register(MetricSpec(name="vocoder", domain="audio", compute=lazy("gankit.plugins.audio.vocoder_metrics:vocoder"),
                        description="vocoder runs: log-mel L1 and multi-resolution STFT distance to the real clips, "
                                    "and Griffin-Lim's from the same mels (lower: better)"))
    register(MetricSpec(name="stoi", domain="audio", compute=lazy("gankit.plugins.audio.vocoder_metrics:stoi"),
                        description="vocoder runs: STOI intelligibility (pystoi) of the output and of Griffin-Lim, "
                                    "0..1 (higher: better)"))
    register(MetricSpec(name="pesq", domain="audio", compute=lazy("gankit.plugins.audio.vocoder_metrics:pesq"),
                        description="vocoder runs: PESQ narrow band (and wide band at 16 kHz+) of the output and of "
                                    "Griffin-Lim, needs the pesq package (higher: better)"))


@hookimpl
def register_commands(cli: Any) -> None:
    import click

    @cli.command("vocode")
    @click.argument("run", metavar="RUN")
    @click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
    @click.option("--out", default=None, metavar="DIR", help="output folder [default: RUN/vocoded]")
    @click.option("--device", default="cpu", metavar="DEV", help="auto|cpu|cuda|cuda:N|mps [default: cpu]")
    @click.option("--chunk-frames", default="256", metavar="N", help="mel frames synthesised at a time [default: 256]")
    @click.option("--threads", default=None, metavar="N", help="CPU threads torch may use [default: torch's]")
    @click.option("--quiet", is_flag=True, help="no progress bar")
    def vocode_command(run: str, inputs: tuple[str, ...], out: str | None, device: str, chunk_frames: str,
                       threads: str | None, quiet: bool) -> None:
        """Resynthesise audio files (WAV/FLAC/OGG) or .npy mel-spectrograms with a trained vocoder run: one
        WAV per input, named after it, at the run's sample rate. INPUT may be a folder."""
        from gankit.errors import GankitError
        from gankit.options import coerce

        frames = coerce("chunk_frames", int, chunk_frames)
        if threads is not None:
            count = coerce("threads", int, threads)
            if count < 1:
                raise GankitError(f"option 'threads' must be at least 1; got {count}")
            import torch

            torch.set_num_threads(count)
        result = vocode(run, inputs, out=out, device=device, chunk_frames=frames, progress=False if quiet else None)
        for note in result.notes:
            click.echo(f"note: {note}", err=True)
        click.echo(f"{result.summary()}; written to {result.out}")


def vocode(run: Any, inputs: "Sequence[str | Path] | str | Path", *, out: "str | Path | None" = None,
           device: str = "cpu", chunk_frames: int = 256, context_frames: int | None = None,
           progress: bool | None = None) -> "VocodeResult":
    """Resynthesise audio files or ``.npy`` mels with the vocoder ``run`` (see
    :func:`gankit.plugins.audio.vocoder.vocode`); returns what was written and the real-time factor."""
    from .vocoder import vocode as run_vocoder

    return run_vocoder(run, inputs, out=out, device=device, chunk_frames=chunk_frames,
                       context_frames=context_frames, progress=progress)
