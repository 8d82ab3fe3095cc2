"""The text plugin's dataset and metric specs, for ``register_datasets`` /
``register_metrics`` in the plugin's ``__init__``. Importing this module imports no torch,
tokenizers or transformers: the callables are :func:`gankit.specs.lazy`.

The primary metric (what ``--eval-every`` tracks and keeps ``best.pt`` by) is ``bleu``'s
``bleu4``: BLEU against held-out text is the literature's quality measure for text GANs
(Texygen, RelGAN), 4 is BLEU's standard order and the middle of the reported 2..5, it is
defined on every dataset (the grammar's and oracle's held-out draws, ``lines``' held-out
lines, ``chars``' held-out tail), and it costs milliseconds for 500 samples. It is blind
to diversity (a generator repeating one good sentence scores well), so read ``diversity``
beside it.
"""

from __future__ import annotations

from gankit.specs import DatasetSpec, MetricSpec, lazy

from .bleu import BleuOptions
from .data_options import CharsOptions, GrammarOptions, LinesOptions, OracleOptions

DOMAIN = "text"

DATASET_SPECS: list[DatasetSpec] = [
    DatasetSpec(
        name="grammar",
        domain=DOMAIN,
        description="embedded English-like sentences from a small context-free grammar (42 words, number agreement, "
                    "up to 12 words) with an exact validity checker; 5000 sentences by default (no download)",
        build=lazy("gankit.plugins.text.datasets:build_grammar"),
        options=GrammarOptions,
    ),
    DatasetSpec(
        name="oracle",
        domain=DOMAIN,
        description="embedded synthetic benchmark of SeqGAN/RelGAN: sequences sampled from an LSTM with fixed N(0, 1) "
                    "weights (200 tokens, length 20 by default), scored exactly by NLL_oracle",
        build=lazy("gankit.plugins.text.datasets:build_oracle"),
        options=OracleOptions,
    ),
    DatasetSpec(
        name="lines",
        domain=DOMAIN,
        description="a UTF-8 text file in --data, one sample a line (bad lines skipped and counted); 10% held out as "
                    "BLEU references by default",
        build=lazy("gankit.plugins.text.datasets:build_lines"),
        options=LinesOptions,
        needs_data=True,
    ),
    DatasetSpec(
        name="chars",
        domain=DOMAIN,
        description="one long UTF-8 text in --data (e.g. tiny shakespeare) cut into windows of 64 characters, "
                    "character tokens; its last 10% held out as BLEU references",
        build=lazy("gankit.plugins.text.datasets:build_chars"),
        options=CharsOptions,
        needs_data=True,
    ),
]

METRIC_SPECS: list[MetricSpec] = [
    MetricSpec(
        name="bleu",
        domain=DOMAIN,
        description="BLEU-2..5 against the dataset's held-out references: mean sentence-level BLEU, nltk smoothing "
                    "method 1 (Texygen/RelGAN's definition); quality",
        compute=lazy("gankit.plugins.text.metrics:bleu"),
        primary="bleu4",
        higher_is_better=True,
        options=BleuOptions,
    ),
    MetricSpec(
        name="diversity",
        domain=DOMAIN,
        description="self-BLEU-2..5 (first 500 samples, each against the others; lower is more diverse), the share "
                    "of distinct samples and the share copied verbatim from training",
        compute=lazy("gankit.plugins.text.metrics:diversity"),
    ),
    MetricSpec(
        name="ngram-nll",
        domain=DOMAIN,
        description="NLL per token of the samples under an order-3 Kneser-Ney model of the training data (and of "
                    "the held-out references, for scale)",
        compute=lazy("gankit.plugins.text.metrics:ngram_nll"),
    ),
    MetricSpec(
        name="grammar",
        domain=DOMAIN,
        description="share of samples the embedded grammar derives (exact parser), and of those novel and distinct; "
                    "grammar dataset only (skipped elsewhere)",
        compute=lazy("gankit.plugins.text.metrics:grammar"),
    ),
    MetricSpec(
        name="oracle",
        domain=DOMAIN,
        description="NLL_oracle of the samples (quality) and NLL_gen of held-out oracle samples at temperature 1 "
                    "(diversity); oracle dataset only (skipped elsewhere)",
        compute=lazy("gankit.plugins.text.metrics:oracle"),
    ),
]
