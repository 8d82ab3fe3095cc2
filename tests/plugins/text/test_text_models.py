"""The text models: Gumbel-softmax generators (lstm, transformer), their discriminators,
the canonical form of samples, likelihoods, a local pretrained checkpoint, and the text
domain's conformance with gankit.testing."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from gankit.errors import GankitError
from gankit.models import as_output
from gankit.plugins.text.generators import (
    TransformerGenerator,
    build_lstm,
    build_transformer,
    first_eos_mask,
)
from gankit.plugins.text.options import LSTMOptions, TransformerOptions
from gankit.specs import DataInfo

PAD, EOS, BOS, VOCAB, LENGTH = 0, 1, 2, 12, 7
INFO = DataInfo(shape=(LENGTH,), dtype="int64", value_range=None, vocab_size=VOCAB,
                extra={"pad_id": PAD, "eos_id": EOS, "bos_id": BOS})
SMALL_D = dict(d_embed_dim=16, d_representations=4, d_filters=8)


def _lstm(**options):
    return build_lstm(LSTMOptions(embed_dim=16, hidden_dim=32, **SMALL_D, **options), INFO)


def _transformer(**options):
    return build_transformer(TransformerOptions(embed_dim=16, layers=1, heads=2, **SMALL_D, **options), INFO)


BUILDERS = {"lstm": _lstm, "transformer": _transformer}


def _heads(result) -> torch.Tensor:
    """A discriminator's logits as N × heads (the cnn D has one head per representation)."""
    return torch.stack(list(as_output(result).logits), -1)


def _latents(generator, n, seed=0):
    return generator.sample_latent(n, generator=torch.Generator().manual_seed(seed))


def _assert_canonical(ids):
    """tokens (never PAD or BOS), EOS by the last position, PAD after the first EOS."""
    assert ids.dtype == torch.long and ids.shape[1] == LENGTH
    assert (ids == EOS).any(dim=1).all()
    alive = first_eos_mask(ids, EOS)
    assert not ((ids == PAD) | (ids == BOS))[alive].any()
    assert (ids[~alive] == PAD).all()


@pytest.mark.parametrize("model", BUILDERS)
@pytest.mark.parametrize("discriminator", ["cnn", "transformer"])
def test_shapes_soft_one_hot_and_gradients(model, discriminator):
    torch.manual_seed(0)
    generator, critic = BUILDERS[model](discriminator=discriminator, d_heads=2)
    assert generator.latent_dim == LENGTH and generator.num_classes == 0
    z = _latents(generator, 6)
    soft = generator(z)
    assert soft.shape == (6, LENGTH, VOCAB) and soft.dtype == torch.float32
    assert torch.allclose(soft.sum(-1), torch.ones(6, LENGTH), atol=1e-5) and (soft >= 0).all()
    hard = generator._last_hard
    _assert_canonical(hard)
    alive = first_eos_mask(hard, EOS)
    assert torch.equal(soft.argmax(-1)[alive], hard[alive])  # the relaxed tokens follow the hard sample
    assert torch.equal(soft[~alive], F.one_hot(torch.full(((~alive).sum(),), PAD), VOCAB).float())  # exact PAD after EOS

    logits = _heads(critic(soft))
    assert logits.shape == (6, SMALL_D["d_representations"] if discriminator == "cnn" else 1)
    logits.sum().backward()
    grads = [p.grad for p in generator.parameters() if p.grad is not None]
    assert grads and sum(float(g.abs().sum()) for g in grads) > 0
    real = F.one_hot(hard, VOCAB).float()
    assert _heads(critic(real)).shape == logits.shape
    assert torch.allclose(_heads(critic.eval()(real)), _heads(critic(hard)))  # ids are one-hot encoded
    with pytest.raises(GankitError, match="soft one-hot tokens of shape"):
        critic(torch.zeros(2, LENGTH + 1, VOCAB))


@pytest.mark.parametrize("model", BUILDERS)
def test_generate_is_canonical_seeded_and_honours_the_sample_temperature(model):
    torch.manual_seed(0)
    generator, _ = BUILDERS[model]()
    generator.eval()
    z = _latents(generator, 200)
    ids = generator.generate(z)
    _assert_canonical(ids)
    assert torch.equal(ids, generator.generate(z))  # a function of the latents alone
    assert not torch.equal(ids, generator.generate(_latents(generator, 200, seed=1)))
    generator.sample_temperature = 0.0
    greedy = generator.generate(z)
    assert (greedy == greedy[0]).all()  # argmax: every latent gives the same sequence
    generator.sample_temperature = 0.05
    cold = generator.generate(z)
    assert len(torch.unique(cold, dim=0)) < len(torch.unique(ids, dim=0))
    generator.sample_temperature = -1.0
    with pytest.raises(GankitError, match="sample_temperature"):
        generator.generate(z)


def test_samples_follow_the_model_distribution():
    """Inverse-CDF sampling at temperature 1 draws the first token with the model's own
    probabilities (and the Gumbel-max hard tokens of forward() do too)."""
    torch.manual_seed(0)
    generator, _ = _lstm()
    with torch.no_grad():
        probs = torch.softmax(generator.step(torch.full((1,), BOS), None)[0].float() + generator.logit_bias[0], -1)[0]
        n = 20000
        first = generator.generate(_latents(generator, n))[:, 0]
        relaxed = generator(_latents(generator, n))
    for tokens in (first, generator._last_hard[:, 0]):
        frequencies = torch.bincount(tokens, minlength=VOCAB).float() / n
        assert (frequencies - probs).abs().max() < 0.02
    assert relaxed.shape[0] == n


@pytest.mark.parametrize("model", BUILDERS)
def test_token_nll_matches_step_by_step_probabilities(model):
    torch.manual_seed(0)
    generator, _ = BUILDERS[model]()
    generator.eval()
    ids = torch.tensor([[5, 6, 7, EOS, PAD, PAD, PAD], [3, 4, 5, 6, 7, 8, EOS], [9, EOS, PAD, PAD, PAD, PAD, PAD]])
    expected = []
    with torch.no_grad():
        for row in ids:
            token, state, total, count = torch.tensor([BOS]), None, 0.0, 0
            for t, target in enumerate(row.tolist()):
                logits, state = generator.step(token, state)
                total -= float(torch.log_softmax(logits.float() + generator.logit_bias[t], -1)[0, target])
                count += t < LENGTH - 1  # the end token the last position forces is no choice: not counted
                if target == EOS:
                    break
                token = torch.tensor([target])
            expected.append(total / count)
    assert torch.allclose(generator.token_nll(ids), torch.tensor(expected), atol=1e-4)
    loss = generator.pretrain_loss(ids)
    counted = (first_eos_mask(ids, EOS) & (torch.arange(LENGTH) < LENGTH - 1)).sum(1).float()
    assert torch.allclose(loss, (torch.tensor(expected) * counted).sum() / counted.sum(), atol=1e-4)


def test_pretrain_loss_learns_a_language():
    torch.manual_seed(0)
    generator, _ = _lstm()
    data = torch.tensor([[3, 4, 5, EOS, PAD, PAD, PAD], [6, 7, EOS, PAD, PAD, PAD, PAD]]).repeat(16, 1)
    before = float(generator.token_nll(data).mean())
    optimizer = torch.optim.Adam(generator.parameters(), lr=1e-2)
    for _ in range(60):
        optimizer.zero_grad()
        generator.pretrain_loss(data).backward()
        optimizer.step()
    after = float(generator.token_nll(data).mean())
    assert before > 2.0 and after < 0.5  # from near-uniform (log 10 = 2.3) to near the data's log 2 / 4 per token


@pytest.mark.parametrize("model", BUILDERS)
def test_forward_without_gradient_matches_forward_with_gradient(model):
    """D's phase runs G without gradient, keeping the decoding's own logits instead of the
    teacher-forced pass: for the same noise the relaxed tokens are the same."""
    torch.manual_seed(0)
    generator, _ = BUILDERS[model]()
    generator.on_step(1, 4)
    z = _latents(generator, 16)
    torch.manual_seed(1)
    with_gradient = generator(z)
    torch.manual_seed(1)
    with torch.no_grad():
        without = generator(z)
    assert with_gradient.requires_grad and not without.requires_grad
    assert torch.allclose(with_gradient.detach(), without, atol=1e-5)
    assert (without.amax(-1) < 1.0).any()  # relaxed, not one-hot: the logits matter to the comparison


def test_straight_through_gives_hard_one_hot_with_gradients():
    torch.manual_seed(0)
    generator, critic = _lstm(straight_through=True)
    out = generator(_latents(generator, 4))
    assert torch.equal(out.detach(), F.one_hot(generator._last_hard, VOCAB).float())
    _heads(critic(out)).sum().backward()
    assert generator.head.weight.grad.abs().sum() > 0


def test_schedule_sets_the_temperature_and_log_values():
    generator, _ = _lstm(temperature_schedule="exp", beta_max=100.0)
    assert generator.log_values() == {"temperature": 1.0}
    generator.on_step(50, 100)
    generator(_latents(generator, 16))
    values = generator.log_values()
    assert values["temperature"] == pytest.approx(0.1)
    assert set(values) == {"temperature", "gumbel_entropy", "duplicate_rate"}
    assert 0.0 <= values["duplicate_rate"] <= 1.0 and 0.0 <= values["gumbel_entropy"] < float(torch.log(torch.tensor(VOCAB)))
    generator.on_step(100, 100)
    generator(_latents(generator, 16))
    colder = generator.log_values()
    assert colder["temperature"] == pytest.approx(0.01) and colder["gumbel_entropy"] < values["gumbel_entropy"]


def test_one_id_for_pad_bos_and_eos_works():
    """A GPT-2 tokenizer folder has one special token (<|endoftext|>) for all three."""
    shared = DataInfo(shape=(LENGTH,), dtype="int64", value_range=None, vocab_size=VOCAB,
                      extra={"pad_id": EOS, "eos_id": EOS, "bos_id": EOS})
    torch.manual_seed(0)
    generator, critic = build_lstm(LSTMOptions(embed_dim=8, hidden_dim=8, **SMALL_D), shared)
    ids = generator.generate(_latents(generator, 50))
    alive = first_eos_mask(ids, EOS)
    assert (ids == EOS).any(dim=1).all() and (ids[~alive] == EOS).all()
    assert _heads(critic(generator(_latents(generator, 4)))).shape == (4, SMALL_D["d_representations"])
    assert torch.isfinite(generator.token_nll(ids)).all()


def test_bad_data_and_options_are_clear_errors():
    image_like = DataInfo(shape=(1, 8, 8))
    with pytest.raises(GankitError, match="needs token ids"):
        build_lstm(LSTMOptions(), image_like)
    no_ids = DataInfo(shape=(LENGTH,), dtype="int64", value_range=None, vocab_size=VOCAB, extra={"pad_id": 0})
    with pytest.raises(GankitError, match="eos_id"):
        build_lstm(LSTMOptions(), no_ids)
    with pytest.raises(ValueError, match="d_representations"):
        LSTMOptions(d_embed_dim=30, d_representations=4)
    with pytest.raises(ValueError, match="temperature"):
        LSTMOptions(temperature=0.0)
    with pytest.raises(ValueError, match="heads"):
        TransformerOptions(embed_dim=30, heads=4)


def _save_tiny_gpt2(folder, vocab):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=vocab, n_positions=16, n_embd=16, n_layer=1, n_head=2)).save_pretrained(folder)


def _word_tokenizer_json(words):
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel

    return Tokenizer(WordLevel({w: i for i, w in enumerate(words)}, unk_token=words[3])).to_str()


def test_transformer_starts_from_a_local_pretrained_checkpoint(tmp_path):
    words = ["<pad>", "<eos>", "<bos>", "<unk>"] + [f"w{i}" for i in range(VOCAB - 4)]
    folder = tmp_path / "gpt2"
    _save_tiny_gpt2(folder, VOCAB)
    from tokenizers import Tokenizer

    Tokenizer.from_str(_word_tokenizer_json(words)).save(str(folder / "tokenizer.json"))
    info = DataInfo(shape=(LENGTH,), dtype="int64", value_range=None, vocab_size=VOCAB,
                    extra={"pad_id": PAD, "eos_id": EOS, "bos_id": BOS, "tokenizer": _word_tokenizer_json(words)})
    generator, _ = build_transformer(TransformerOptions(pretrained=str(folder), **SMALL_D), info)
    assert isinstance(generator, TransformerGenerator)
    from transformers import GPT2LMHeadModel

    stored = GPT2LMHeadModel.from_pretrained(folder)
    assert torch.equal(generator.lm.transformer.wte.weight, stored.transformer.wte.weight)  # the weights, not random
    _assert_canonical(generator.generate(_latents(generator, 8)))

    other = {**info.extra, "tokenizer": _word_tokenizer_json(list(reversed(words)))}
    with pytest.raises(GankitError, match="maps tokens to other ids"):
        build_transformer(TransformerOptions(pretrained=str(folder)), dataclasses.replace(info, extra=other))
    bigger = DataInfo(shape=(LENGTH,), dtype="int64", value_range=None, vocab_size=VOCAB + 1, extra=INFO.extra)
    with pytest.raises(GankitError, match=f"predicts {VOCAB} tokens but the dataset's tokenizer has {VOCAB + 1}"):
        build_transformer(TransformerOptions(pretrained=str(folder)), bigger)
    with pytest.raises(GankitError, match="no config.json"):
        build_transformer(TransformerOptions(pretrained=str(tmp_path / "missing")), INFO)


def test_the_text_domain_conforms(tmp_path):
    """gankit.testing on the text domain (grammar data, pre-training on): every check,
    including samples (one samples.txt, a line each) and metrics (the oracle metric says
    it is skipped on grammar data)."""
    from gankit.testing import check_domain

    tiny = dict(count=64, reference_count=16, pretrain_steps=2, d_embed_dim=16, d_representations=4, d_filters=8)
    report = check_domain("text", tmp_path=tmp_path, embed_dim=16, hidden_dim=16, **tiny)
    assert report.passed == ["registration", "options", "dataset", "model", "train", "checkpoint", "resume",
                             "samples", "metrics"]
    report = check_domain("text", "transformer", tmp_path=tmp_path, embed_dim=16, heads=2, discriminator="transformer",
                          d_heads=2, skip=("registration",), **tiny)
    assert report.passed == ["options", "dataset", "model", "train", "checkpoint", "resume", "samples", "metrics"]
