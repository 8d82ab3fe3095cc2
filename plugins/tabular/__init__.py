"""The built-in ``tabular`` plugin: synthetic tables. The domain (a row encoded as CTGAN
encodes it, CSV/Parquet in and out, sampling by condition), the ``ctgan`` model, the
``adult`` and ``file`` datasets and the SDMetrics-style metrics.

Registering must stay cheap (``gankit --help``), so this module imports no torch, numpy,
pandas or scikit-learn: the callables in the specs import their module on first call.
Python users with a DataFrame: ``gankit.plugins.tabular.datasets.train(df, ...)``.
"""

from __future__ import annotations

from typing import Callable

from gankit.hookspecs import hookimpl
from gankit.specs import AuxLossSpec, DatasetSpec, DomainSpec, MetricSpec, ModelSpec, Preset, lazy

from .options import AdultOptions, CTGANOptions, MetricOptions, TableOptions

# Xu et al. 2019 and sdv-dev/CTGAN: WGAN-GP (lambda 10), Adam 2e-4 with betas (0.5, 0.9) and
# weight decay 1e-6 for both networks, one critic step per generator step, batch 500, no EMA.
# 300 epochs of the 26,049-row Adult table at batch 500 are 15,600 steps.
CTGAN_DEFAULTS = {
    "objective": "wgan-gp",
    "penalty_weight": 10.0,
    "lr_g": 2e-4,
    "lr_d": 2e-4,
    "betas_g": (0.5, 0.9),
    "betas_d": (0.5, 0.9),
    "weight_decay_g": 1e-6,
    "weight_decay_d": 1e-6,
    "n_critic": 1,
    "batch_size": 500,
    "ema_decay": 0.0,
    "steps": 15600,
    "sample_every": 1000,
    "checkpoint_every": 1000,
    "num_preview": 1000,  # rows per preview: enough for its histograms and pair associations
}

CTGAN_PRESETS = {
    "cpu": Preset(
        "a few minutes on one CPU thread: 1500 steps of batch 500 (about 29 epochs of Adult), stopped at 10 minutes "
        "(benchmarks/quality_tabular.md)",
        {"steps": 1500, "max_minutes": 10.0, "sample_every": 500, "checkpoint_every": 500, "log_every": 50},
    ),
}

METRICS = (  # name, module, description, primary value
    ("quality", "metrics", "SDMetrics' quality score: the mean of column shapes and column pair trends", "score"),
    ("shapes", "metrics", "column shapes: KS complement (numeric, datetime) and TV complement (categorical), per "
                          "column", "score"),
    ("pairs", "metrics", "column pair trends: correlation similarity (numeric pairs) and contingency similarity "
                         "(others)", "score"),
    ("efficacy", "metrics", "ML efficacy: gradient boosting trained on synthetic rows, tested on held-out real rows "
                            "(TSTR), beside the same model trained on real rows (TRTR); AUC and F1 (or R2) for the "
                            "target column", "tstr_over_trtr"),
    ("privacy", "privacy", "distance to the closest training record of synthetic rows vs held-out real rows, and the "
                           "share of exact copies of training rows", "dcr_ratio"),
)


@hookimpl
def register_domains(register: Callable[[DomainSpec], None]) -> None:
    register(DomainSpec(
        name="tabular",
        description="tables (CSV, Parquet): each row encoded as CTGAN encodes it (per continuous column a "
                    "mode-normalised value and its mode, per discrete column a one-hot); samples written as CSV or "
                    "Parquet, and drawn by condition (--condition COLUMN=VALUE)",
        default_model="ctgan",
        default_dataset="adult",
        write_samples=lazy("gankit.plugins.tabular.io:write_samples"),
        write_preview=lazy("gankit.plugins.tabular.io:write_preview"),
        to_numpy=lazy("gankit.plugins.tabular.io:to_numpy"),
        from_numpy=lazy("gankit.plugins.tabular.io:from_numpy"),
        sample_conditions=lazy("gankit.plugins.tabular.io:sample_conditions"),
        sample_file_writers={".csv": lazy("gankit.plugins.tabular.io:write_csv"),
                             ".parquet": lazy("gankit.plugins.tabular.io:write_parquet")},
    ))


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
    register(ModelSpec(
        name="ctgan",
        domain="tabular",
        description="CTGAN (Xu et al. 2019): conditional generator with residual layers and Gumbel-softmax/tanh "
                    "outputs, PacGAN discriminator, WGAN-GP, cross-entropy on the conditioned column",
        build=lazy("gankit.plugins.tabular.ctgan:build"),
        options=CTGANOptions,
        defaults=CTGAN_DEFAULTS,
        presets=CTGAN_PRESETS,
        aux_losses=(AuxLossSpec("cond", 1.0, lazy("gankit.plugins.tabular.ctgan:build_cond_loss"),
                                "cross-entropy of the generator's logits for the conditioned column (CTGAN)"),),
    ))


@hookimpl
def register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    register(DatasetSpec(
        name="adult", domain="tabular",
        description="UCI Adult (census income, 26,049 rows x 15 columns, CC BY 4.0), embedded; --data reads the "
                    "same kind of table from a file (its held-out part, for evaluation)",
        build=lazy("gankit.plugins.tabular.datasets:build_adult"), options=AdultOptions))
    register(DatasetSpec(
        name="file", domain="tabular", description="any CSV (.csv, .tsv, .csv.gz) or Parquet file: --data PATH",
        build=lazy("gankit.plugins.tabular.datasets:build_file"), options=TableOptions, needs_data=True))


@hookimpl
def register_metrics(register: Callable[[MetricSpec], None]) -> None:
    for name, module, description, primary in METRICS:
        register(MetricSpec(name=name, domain="tabular", description=description,
                            compute=lazy(f"gankit.plugins.tabular.{module}:{name}"), primary=primary,
                            higher_is_better=True, options=MetricOptions))
