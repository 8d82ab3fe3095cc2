"""The built-in ``text`` plugin: the text domain, the ``lstm`` and ``transformer`` models
(Gumbel-softmax generators with a CNN or transformer discriminator), and the datasets and
metrics of :mod:`gankit.plugins.text.data_specs`.

Registering must stay cheap (``gankit --help``), so this module imports no torch,
transformers or tokenizers: the callables in the specs import their module on first call.
"""

from __future__ import annotations

from typing import Callable

from gankit.hookspecs import hookimpl
from gankit.specs import DatasetSpec, DomainSpec, MetricSpec, ModelSpec, lazy

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
