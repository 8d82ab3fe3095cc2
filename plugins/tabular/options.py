"""Options of the tabular plugin: its datasets (how a table is read and encoded), the
``ctgan`` model and the metrics.

Kept free of heavy imports (no pandas, numpy or torch): the registry reads these schemas
to build ``--help``. Dataset and model option names differ, because the engine passes
``-o KEY VALUE`` to every spec that declares ``KEY``.
"""

from __future__ import annotations

from dataclasses import dataclass

from gankit.options import check_bounds, option

COLUMNS_HELP = "comma-separated column names"


@dataclass(frozen=True)
class TableOptions:
    """How a table is read, typed and encoded (the domain's canonical form)."""

    discrete: tuple[str, ...] = option((), f"columns to model as categorical even if numeric (codes, ratings); "
                                           f"{COLUMNS_HELP}")
    continuous: tuple[str, ...] = option((), f"numeric columns to model as continuous even if boolean-like; "
                                             f"{COLUMNS_HELP}")
    datetime: tuple[str, ...] = option((), f"columns to parse as dates/times, modelled as continuous (ISO-8601 "
                                           f"columns are found without it); {COLUMNS_HELP}")
    exclude: tuple[str, ...] = option((), f"columns to leave out of the model and the samples (IDs, free text); "
                                          f"{COLUMNS_HELP}")
    target: str | None = option(None, "the label column ML efficacy predicts (TSTR vs TRTR); none: that metric "
                                      "needs --metric-option target COLUMN")
    max_categories: int = option(1000, "a categorical column with more distinct values is refused (an ID or free "
                                       "text?): exclude it, or raise this", ge=2)
    modes: int = option(10, "most Gaussian modes per continuous column (variational mixture, CTGAN: 10)", ge=1)
    mode_threshold: float = option(0.005, "modes with a smaller mixture weight are dropped (CTGAN: 0.005)", ge=0, lt=1)
    log_frequency: bool = option(True, "training-by-sampling draws a condition's category by log-frequency "
                                       "(CTGAN), not by frequency, so rare categories are trained on")
    clip: bool = option(True, "samples of continuous columns stay within the range seen in the data")
    rows: int | None = option(None, "use a seeded random subset of this many rows (quick trials)", ge=2)
    sep: str = option(",", "CSV field separator")
    encoding: str = option("utf-8", "CSV text encoding (latin-1, cp1252, ...)")
    data_seed: int = option(0, "seed of the mode assignments, the rows' conditions and --rows (not --seed)")

    def __post_init__(self) -> None:
        check_bounds(self)
        if len(self.sep) != 1:
            raise ValueError(f"sep must be one character, got {self.sep!r}")
        named = {"discrete": self.discrete, "continuous": self.continuous, "datetime": self.datetime,
                 "exclude": self.exclude}
        seen: dict[str, str] = {}
        for kind, columns in named.items():
            for column in columns:
                if column in seen:
                    raise ValueError(f"column {column!r} is in both {seen[column]} and {kind}; name it once")
                seen[column] = kind
        if self.target is not None and self.target in self.exclude:
            raise ValueError(f"target {self.target!r} is excluded; keep it to measure ML efficacy")


@dataclass(frozen=True)
class AdultOptions(TableOptions):
    """The embedded UCI Adult table: ``income`` is its usual label."""

    target: str | None = option("income", "the label column ML efficacy predicts (TSTR vs TRTR)")


@dataclass(frozen=True)
class CTGANOptions:
    """The ``ctgan`` model (Xu et al. 2019); defaults are the paper's."""

    embedding_dim: int = option(128, "size of the Gaussian latent", ge=1)
    generator_dim: tuple[int, ...] = option((256, 256), "widths of the generator's residual layers")
    discriminator_dim: tuple[int, ...] = option((256, 256), "widths of the discriminator's layers")
    pac: int = option(10, "rows the discriminator judges together (PacGAN); the batch must be a multiple", ge=1)
    dropout: float = option(0.5, "dropout after each discriminator layer", ge=0, lt=1)
    tau: float = option(0.2, "Gumbel-softmax temperature of the discrete outputs", gt=0)

    def __post_init__(self) -> None:
        check_bounds(self)
        for name in ("generator_dim", "discriminator_dim"):
            widths = getattr(self, name)
            if not widths or any(not isinstance(w, int) or w < 1 for w in widths):
                raise ValueError(f"{name} must be one or more positive widths (256,256), got {widths!r}")


@dataclass(frozen=True)
class MetricOptions:
    """Options of the tabular metrics (``gankit evaluate --metric-option KEY VALUE``)."""

    target: str | None = option(None, "the label column for ML efficacy; default: the dataset's -o target")
    holdout: str | None = option(None, "a CSV/Parquet file of real rows the model was not trained on (same columns), "
                                       "for ML efficacy and privacy")
