"""The text metrics of ``gankit evaluate`` and ``--eval-every``: ``bleu``, ``diversity``,
``ngram-nll``, ``grammar`` and ``oracle``. Each returns a :class:`MetricResult` whose
protocol names the reference set, the orders, the smoothing and the sample counts.

Samples are decoded (cut at the first EOS, PAD dropped) and, for BLEU, split into words on
whitespace, so char, word and BPE runs are scored in the same units. What a metric fits to
the data (reference n-gram tables, the n-gram model) is kept per process, keyed by the
dataset key and the data itself, so ``--eval-every`` pays for it once.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any, Callable

import torch

from gankit.specs import EvalContext, MetricResult

from . import bleu as bleu_lib
from .io import content_ids, decode
from .ngram import DISCOUNT, KneserNey
from .oracle import from_ids

ORDERS = (2, 3, 4, 5)
SELF_BLEU_SAMPLES = 500  # Texygen's sample_size: self-BLEU of the first 500 samples
NGRAM_ORDER = 3
BLEU_DEFINITION = ("mean over samples of sentence-level BLEU-n, uniform weights 1/n over 1..n-grams, each sample "
                   "against the whole reference set; nltk sentence_bleu semantics with SmoothingFunction().method1 "
                   "(epsilon 0.1 over the n-gram count where an order has no match; 0 without a unigram match) and "
                   "the brevity penalty to the closest reference length (ties: shorter), as Texygen/RelGAN")
UNITS = "whitespace-separated words of the decoded samples (cut at the first end token)"

_CACHE: OrderedDict[tuple[str, ...], Any] = OrderedDict()
_CACHE_MAX = 8


def _cached(key: tuple[str, ...], build: Callable[[], Any]) -> Any:
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    value = build()
    _CACHE[key] = value
    while len(_CACHE) > _CACHE_MAX:
        _CACHE.popitem(last=False)
    return value


def _digest(*parts: Any) -> str:
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, torch.Tensor):
            digest.update(part.detach().cpu().long().contiguous().numpy().tobytes())
        else:
            digest.update(repr(part).encode("utf-8"))
    return digest.hexdigest()[:16]


def _training_texts(context: EvalContext) -> tuple[list[str], str]:
    decoded = getattr(context.dataset, "decoded", None)
    if callable(decoded):
        texts = decoded()
        return texts, f"all {len(texts)} training samples"
    return decode(context.real, context.info), f"{len(context.real)} real samples drawn from the training data"


def _references(context: EvalContext) -> tuple[list[str], str]:
    texts = getattr(context.dataset, "reference_texts", None)
    if texts:
        return list(texts), getattr(context.dataset, "reference_source", "the dataset's held-out references")
    texts, source = _training_texts(context)
    return texts, f"{source} (the dataset holds no references apart from training)"


REFERENCE_FORM = ("as the samples are: each reference encoded with the run's tokenizer at the training length and "
                  "decoded (out-of-vocabulary words become <unk>, references longer than the samples can be are "
                  "truncated), so a generator that reproduces a reference scores 1")


def _decoded_references(context: EvalContext) -> tuple[list[str], str]:
    """BLEU's references in the form samples have (``decode(encode(reference))``): raw text
    would count out-of-vocabulary words and truncation, which no sample can reproduce,
    against the generator. Without held-out references, the decoded training samples."""
    ids = getattr(context.dataset, "reference_ids", None)
    texts = getattr(context.dataset, "reference_texts", None)
    if ids is None and texts:
        from .datasets import encode_references
        from .io import tokenizer_from_info

        ids = encode_references(tokenizer_from_info(context.info), list(texts), int(context.info.shape[0]))
    if ids is not None and len(ids):
        return decode(ids, context.info), getattr(context.dataset, "reference_source", "the dataset's held-out references")
    return _references(context)


def _skipped(reason: str) -> MetricResult:
    return MetricResult(values={}, protocol={"skipped": reason})


def bleu(fake: torch.Tensor, context: EvalContext) -> MetricResult:
    """BLEU-2..5 of the samples against the dataset's references (held-out text)."""
    options = context.options or bleu_lib.BleuOptions()
    if options.bleu_protocol == "texygen":
        return texygen_bleu(fake, context, options.bleu_samples or bleu_lib.TEXYGEN_SAMPLES)
    fake = fake[:options.bleu_samples] if options.bleu_samples else fake
    hypotheses = [text.split() for text in decode(fake, context.info)]
    texts, source = _decoded_references(context)
    references = _cached(("bleu-references", context.dataset_key, _digest(texts)),
                         lambda: bleu_lib.References((text.split() for text in texts), max(ORDERS)))
    scores = bleu_lib.mean_bleu(hypotheses, references, ORDERS)
    return MetricResult(
        values={f"bleu{n}": scores[n] for n in ORDERS},
        protocol={"definition": BLEU_DEFINITION, "units": UNITS, "orders": list(ORDERS), "smoothing": "nltk method1",
                  "references": source, "reference_form": REFERENCE_FORM, "reference_count": references.size,
                  "samples": len(hypotheses), "higher_is_better": True},
    )


def texygen_bleu(fake: torch.Tensor, context: EvalContext, samples: int = bleu_lib.TEXYGEN_SAMPLES) -> MetricResult:
    """BLEU-2..5 under the Texygen/RelGAN protocol (``bleu_protocol texygen``): the first
    ``samples`` decoded samples, each against every raw reference line, both split by nltk's
    ``word_tokenize``; comparable with RelGAN's tables when the references are the paper's
    test file."""
    texts, source = _references(context)
    references = _cached(("bleu-texygen-references", context.dataset_key, _digest(texts)),
                         lambda: bleu_lib.References((bleu_lib.word_tokenize(text) for text in texts), max(ORDERS)))
    hypotheses = decode(fake[:samples], context.info)
    scores = bleu_lib.texygen_bleu(hypotheses, references, ORDERS, samples)
    return MetricResult(
        values={f"bleu{n}": scores[n] for n in ORDERS},
        protocol={"bleu_protocol": "texygen",
                  "definition": BLEU_DEFINITION,
                  "units": "nltk.word_tokenize words (NLTKWordTokenizer, one line one sentence) of the decoded samples "
                           "and of the raw reference lines",
                  "orders": list(ORDERS), "smoothing": "nltk method1",
                  "hypotheses": f"the first {len(hypotheses)} of {len(fake)} samples (RelGAN's sample_size "
                                f"{bleu_lib.TEXYGEN_SAMPLES})",
                  "references": f"{source}, as raw text", "reference_count": references.size,
                  "samples": len(hypotheses), "higher_is_better": True,
                  "comparable": "with RelGAN's and later papers' COCO BLEU when the references are their test file "
                                "(10000 lines of test_coco.txt); BLEU rises with the number of references"},
    )


def diversity(fake: torch.Tensor, context: EvalContext) -> MetricResult:
    """Self-BLEU-2..5, the share of distinct samples and the share copied from training."""
    texts = decode(fake, context.info)
    subset = [text.split() for text in texts[:SELF_BLEU_SAMPLES]]
    self_scores = bleu_lib.self_bleu(subset, ORDERS) if len(subset) >= 2 else {}
    training, training_source = _training_texts(context)
    known = _cached(("training-set", context.dataset_key, str(len(training)), _digest(training[:64])),
                    lambda: frozenset(training))
    values = {f"self_bleu{n}": score for n, score in self_scores.items()}
    values["unique"] = len(set(texts)) / len(texts)
    values["copied"] = sum(text in known for text in texts) / len(texts)
    return MetricResult(
        values=values,
        protocol={"self_bleu": f"each of the first {len(subset)} samples (Texygen's sample_size {SELF_BLEU_SAMPLES}) "
                               f"against the other {len(subset) - 1} with the BLEU definition below; lower is more "
                               f"diverse",
                  "definition": BLEU_DEFINITION, "units": UNITS, "orders": list(ORDERS),
                  "unique": "distinct decoded samples / samples (exact string equality)",
                  "copied": f"samples whose decoded text equals a training sample's, over {training_source}",
                  "samples": len(texts)},
    )


def _ngram_model(context: EvalContext) -> tuple[KneserNey, str]:
    from .io import tokenizer_from_info

    tokenizer = tokenizer_from_info(context.info)
    tensors = getattr(context.dataset, "tensors", None)
    data, source = (tensors[0], "all training samples") if tensors is not None else (
        context.real, f"{len(context.real)} real samples drawn from the training data")
    model = _cached(("ngram", context.dataset_key, _digest(data, NGRAM_ORDER)),
                    lambda: KneserNey(content_ids(data, context.info), order=NGRAM_ORDER,
                                      vocab_size=int(context.info.vocab_size), bos_id=tokenizer.bos_id,
                                      eos_id=tokenizer.eos_id))
    return model, f"{source} ({len(data)})"


def ngram_nll(fake: torch.Tensor, context: EvalContext) -> MetricResult:
    """NLL of the samples under a Kneser-Ney n-gram model of the training data."""
    model, source = _ngram_model(context)
    sequences = content_ids(fake, context.info)
    values = {"ngram_nll": sum(model.nll(s) for s in sequences) / len(sequences)}
    references = getattr(context.dataset, "reference_ids", None)
    if references is not None and len(references):
        held_out = content_ids(references, context.info)
        values["ngram_nll_reference"] = sum(model.nll(s) for s in held_out) / len(held_out)
    return MetricResult(
        values=values,
        protocol={"model": f"interpolated Kneser-Ney, order {NGRAM_ORDER}, discount {DISCOUNT}, over token ids, "
                           f"backing off to uniform over the {context.info.vocab_size}-token vocabulary",
                  "fitted_on": source,
                  "nll": "nats per token, the end token included, averaged per sample then over samples; lower is "
                         "closer to the training data's statistics",
                  "reference": (f"ngram_nll_reference scores the dataset's held-out references the same way "
                                f"({len(references)}): what data the model did not see gets")
                  if "ngram_nll_reference" in values else "no held-out references",
                  "samples": len(sequences)},
    )


def grammar(fake: torch.Tensor, context: EvalContext) -> MetricResult:
    """Share of samples the embedded grammar derives (only on the ``grammar`` dataset)."""
    if getattr(context.dataset, "source", None) != "grammar":
        return _skipped("the grammar metric checks sentences of the embedded 'grammar' dataset; this run's data is "
                        f"{getattr(context.dataset, 'source', type(context.dataset).__name__)!r}")
    from .grammar import is_valid

    texts = decode(fake, context.info)
    training, _ = _training_texts(context)
    known = frozenset(training)
    valid = [text for text in texts if is_valid(text)]
    return MetricResult(
        values={"valid": len(valid) / len(texts),
                "valid_novel": sum(text not in known for text in valid) / len(texts),
                "valid_unique": len(set(valid)) / len(texts)},
        protocol={"valid": "samples the grammar derives (Earley recognition, exact), over samples",
                  "valid_novel": "valid samples that are no training sentence, over samples",
                  "valid_unique": "distinct valid samples, over samples", "samples": len(texts)},
    )


@torch.no_grad()
def _generator_nll(generator: Any, ids: torch.Tensor, device: torch.device) -> float:
    was_training = generator.training
    generator.eval()
    try:
        values = [generator.token_nll(chunk.to(device)).double().cpu() for chunk in ids.split(256)]
    finally:
        generator.train(was_training)
    return float(torch.cat(values).mean())


def oracle(fake: torch.Tensor, context: EvalContext) -> MetricResult:
    """NLL_oracle of the samples, NLL_gen of held-out oracle samples (only on ``oracle``)."""
    model = getattr(context.dataset, "oracle", None)
    if model is None:
        return _skipped("NLL_oracle needs the embedded 'oracle' dataset; this run's data is "
                        f"{getattr(context.dataset, 'source', type(context.dataset).__name__)!r}")
    eos = int(context.info.extra["eos_id"])
    tokens, ok = from_ids(fake, model.length, model.vocab, eos)
    values: dict[str, float] = {"oracle_malformed": float((~ok).double().mean())}
    if ok.any():
        values["nll_oracle"] = float(model.nll(tokens[ok]).mean())
    held_out = getattr(context.dataset, "reference_ids", None)
    notes = {}
    if held_out is not None and len(held_out):
        real_tokens, _ = from_ids(held_out, model.length, model.vocab, eos)
        values["nll_oracle_real"] = float(model.nll(real_tokens).mean())
        generator = getattr(context, "generator", None)
        if generator is not None and hasattr(generator, "token_nll"):
            values["nll_gen"] = _generator_nll(generator, held_out, context.device)
        else:
            notes["nll_gen"] = "not computed: no generator with token_nll in this evaluation"
    return MetricResult(
        values=values,
        protocol={"oracle": model.describe(),
                  "nll_oracle": "the oracle's mean NLL per token (nats, over the oracle_length tokens; the end "
                                "token is certain) of each well-formed sample, averaged; quality, lower is better",
                  "oracle_malformed": "samples that are not oracle_length oracle tokens then the end token: "
                                      "probability 0 under the oracle, left out of nll_oracle",
                  "nll_oracle_real": "nll_oracle of the held-out oracle samples: the oracle's entropy rate, the "
                                     "floor a perfect generator reaches",
                  "nll_gen": "the generator's token_nll (temperature 1, nats per token it chooses: the oracle_length "
                             "tokens, not the end token the last position forces) of the held-out oracle samples, "
                             "averaged; diversity, lower is better (RelGAN's NLL_gen, over the same tokens)",
                  "held_out": len(held_out) if held_out is not None else 0, "samples": len(fake), **notes},
    )
