"""The built-in ``text`` plugin: the text domain, the ``lstm`` and ``transformer`` models
(Gumbel-softmax generators with a CNN or transformer discriminator), and the datasets and
metrics of :mod:`gankit.plugins.text.data_specs`.

Registering must stay cheap (``gankit --help``), so this module imports no torch,
transformers or tokenizers: the callables in the specs import their module on first call.
"""

from __future__ import annotations

from typing import Callable

from gankit.hookspecs import hookimpl
from gankit.specs import DatasetSpec, DomainSpec, MetricSpec, ModelSpec, Preset, lazy

from .options import LSTMOptions, TransformerOptions

# RelGAN (Nie et al. 2019): relativistic standard loss, Adam 1e-4 with betas (0.9, 0.999)
# for both networks, gradient norms clipped at 5, MLE pre-training of G with Adam 1e-2
# first, no EMA, batch 64. Its 150 pre-training epochs and 5000 adversarial steps of a
# GPU-sized model are scaled here to what a CPU trains in minutes.
RELGAN = {
    "objective": "rsgan",
    "lr_g": 1e-4,
    "lr_d": 1e-4,
    "betas_g": (0.9, 0.999),
    "betas_d": (0.9, 0.999),
    "n_critic": 1,
    "grad_clip": 5.0,
    "ema_decay": 0.0,
    "batch_size": 64,
    "pretrain_steps": 1000,
    "pretrain_lr": 1e-2,
    "steps": 2000,
    "sample_every": 500,
}

# A transformer pre-trains with a smaller step than an LSTM (1e-2 diverges).
TRANSFORMER_DEFAULTS = {**RELGAN, "pretrain_lr": 1e-3}

# The lstm's `cpu` preset: COCO-sized caption files (`--dataset lines`) on a 2-core CPU,
# measured in CPU time of one thread (benchmarks/quality_text.md). Words, at most 20 (0.6% of
# COCO's lines are longer) and the 2996 most frequent (97% of COCO's tokens; the rest become
# <unk>): the adversarial step's cost grows with length × vocabulary, and this cuts it 3×
# from COCO's 36 × 5805. MLE is best after ~1000 steps at 1e-2 (held-out NLL rises after
# ~750: 9000 lines overfit). RelGAN's D lr 1e-4 leaves D at chance for hundreds of steps;
# 1e-3 learns. beta 1 -> 10 instead of 100 keeps G's gradient alive in a short run; BLEU
# peaks then falls once D wins (d_loss < 0.1), so the adversarial phase is short. The run
# takes about 5 CPU-minutes of one thread, so --max-minutes 15 holds on a busy machine.
# Measured over 3 seeds: BLEU-2..5 .74/.56/.39/.27 at self-BLEU-3 .57, from MLE's
# .71/.49/.31/.20 at .46 -- on MLE's own temperature curve, with samples 30% shorter. The
# transformer has no such preset: the same budget collapsed it (benchmarks/quality_text.md).
COCO_DATA = {"tokenizer": "word", "max_length": 21, "vocab_size": 3000}
LSTM_PRESETS = {
    "cpu": Preset(
        "COCO-sized caption files on a 2-core CPU in under 15 minutes: words (20 at most, 3000 most frequent), "
        "1000 MLE steps at 1e-2, then 400 rsgan steps, Adam G 2e-4 / D 1e-3, beta 1 -> 10 "
        "(benchmarks/quality_text.md)",
        {**RELGAN, **COCO_DATA, "pretrain_steps": 1000, "pretrain_lr": 1e-2, "steps": 400, "lr_g": 2e-4,
         "lr_d": 1e-3, "temperature_schedule": "exp", "beta_max": 10.0, "max_minutes": 15.0, "sample_every": 100,
         "log_every": 25},
    ),
}


@hookimpl
def register_domains(register: Callable[[DomainSpec], None]) -> None:
    register(
        DomainSpec(
            name="text",
            description="token sequences as int64 ids of a fixed length (tokens, EOS, PAD...); G emits Gumbel-softmax "
                        "tokens, D reads soft one-hot; samples written as text, one a line",
            default_model="lstm",
            default_dataset="grammar",
            write_samples=lazy("gankit.plugins.text.io:write_samples"),
            write_preview=lazy("gankit.plugins.text.io:write_preview"),
            to_numpy=lazy("gankit.plugins.text.io:to_numpy"),
            from_numpy=lazy("gankit.plugins.text.io:from_numpy"),
            prepare_real=lazy("gankit.plugins.text.io:prepare_real"),
            write_run_files=lazy("gankit.plugins.text.io:write_run_files"),
        )
    )


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
    register(
        ModelSpec(
            name="lstm",
            domain="text",
            description="LSTM generator with Gumbel-softmax outputs (RelGAN/Kusner), MLE pre-training, and a "
                        "multi-representation CNN (or transformer) discriminator",
            build=lazy("gankit.plugins.text.generators:build_lstm"),
            options=LSTMOptions,
            defaults=RELGAN,
            presets=LSTM_PRESETS,
        )
    )
    register(
        ModelSpec(
            name="transformer",
            domain="text",
            description="GPT-2-style decoder from transformers (random init, or -o pretrained FOLDER) with "
                        "Gumbel-softmax outputs, MLE pre-training, and a CNN (or transformer) discriminator",
            build=lazy("gankit.plugins.text.generators:build_transformer"),
            options=TransformerOptions,
            defaults=TRANSFORMER_DEFAULTS,
        )
    )


@hookimpl
def register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    from .data_specs import DATASET_SPECS

    for spec in DATASET_SPECS:
        register(spec)


@hookimpl
def register_metrics(register: Callable[[MetricSpec], None]) -> None:
    from .data_specs import METRIC_SPECS

    for spec in METRIC_SPECS:
        register(spec)
