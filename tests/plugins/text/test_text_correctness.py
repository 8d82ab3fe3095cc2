"""Issue 16's text defects, each pinned by a test that failed before its fix
(benchmarks/correctness.md lists them all):

- #3 a resumed run given more ``--steps`` keeps the Gumbel temperature schedule of the
  horizon it was started with (no jump back at the resume point);
- #4 NLL_gen (``token_nll``) leaves out the end token the generator is forced to emit at the
  last position, which scored 0 and diluted the mean by (L-1)/L;
- #5 the CNN discriminator is RelGAN's: separate highway gate and transform, and one logit
  per representation, each scored by the objective (not their mean);
- #6 BLEU compares like with like: references are encoded and decoded as the samples are.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import gankit
from gankit.checkpoint import load_checkpoint
from gankit.engine.losses import adversarial_loss
from gankit.models import DiscriminatorOutput
from gankit.plugins.objectives import rsgan_d_loss
from gankit.plugins.text import metrics
from gankit.plugins.text.data_options import LinesOptions
from gankit.plugins.text.datasets import build_lines
from gankit.plugins.text.discriminators import CNNDiscriminator
from gankit.plugins.text.generators import LSTMGenerator
from gankit.plugins.text.layout import TokenLayout
from gankit.plugins.text.options import LSTMOptions
from gankit.specs import EvalContext

PAD, EOS, BOS, VOCAB, LENGTH = 0, 1, 2, 9, 6
LAYOUT = TokenLayout(vocab_size=VOCAB, length=LENGTH, pad_id=PAD, eos_id=EOS, bos_id=BOS)
TINY = dict(embed_dim=8, hidden_dim=16, d_embed_dim=8, d_representations=4, d_filters=6, d_filter_sizes=(2, 3))
RUN = dict(count=64, reference_count=8, batch_size=8, pretrain_steps=0, sample_every=0, quiet=True, **TINY)


# #3: the temperature schedule's horizon survives a resume with more steps ------------------------

def test_resuming_with_more_steps_keeps_the_temperature_schedule(tmp_path):
    options = dict(log_every=1, seed=0, temperature_schedule="exp", beta_max=100.0, out=str(tmp_path / "run"), **RUN)
    gankit.train("text", steps=4, **options)
    gankit.train("text", steps=8, resume=True, **options)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    temperature = {r["step"]: r["temperature"] for r in records if "temperature" in r}
    # record k reports the temperature step k-1 trained at: beta = 100 ** ((k-1)/4), capped at the horizon
    expected = {k: 1.0 / 100.0 ** min((k - 1) / 4, 1.0) for k in range(1, 9)}
    assert temperature == pytest.approx(expected)
    assert temperature[5] <= temperature[4]  # no jump back to 100 ** (4/8) = 10 at the resume point


# #4: NLL_gen leaves the forced end token out ---------------------------------------------------

def test_token_nll_leaves_out_the_forced_final_end_token():
    torch.manual_seed(0)
    generator = LSTMGenerator(LAYOUT, LSTMOptions(**TINY)).eval()
    full = torch.tensor([[3, 4, 5, 6, 7, EOS]])  # the oracle's form: L-1 tokens, then the end token the model must emit
    short = torch.tensor([[3, 4, EOS, PAD, PAD, PAD]])  # an end token the model chose
    ids = torch.cat([full, short])
    with torch.no_grad():
        log_probs = torch.log_softmax(generator.logits(generator._inputs(ids)).float() + generator.logit_bias, -1)
    chosen = log_probs.gather(-1, ids.unsqueeze(-1)).squeeze(-1)
    assert chosen[0, -1] == 0.0  # forced: probability 1, nothing to learn or score
    expected = torch.stack([-chosen[0, :LENGTH - 1].mean(), -chosen[1, :3].mean()])
    assert torch.allclose(generator.token_nll(ids), expected, atol=1e-6)
    loss = float(generator.pretrain_loss(ids).detach())
    assert loss == pytest.approx(float(-(chosen[0, :LENGTH - 1].sum() + chosen[1, :3].sum()) / (LENGTH - 1 + 3)), abs=1e-6)


# #5: RelGAN's CNN discriminator --------------------------------------------------------------------

def _critic(**options) -> CNNDiscriminator:
    torch.manual_seed(0)
    return CNNDiscriminator(LAYOUT, LSTMOptions(**{**TINY, "d_dropout": 0.0, **options})).eval()


def _tokens(n: int, seed: int) -> torch.Tensor:
    ids = torch.randint(3, VOCAB, (n, LENGTH), generator=torch.Generator().manual_seed(seed))
    return F.one_hot(ids, VOCAB).float()


def _pooled(critic: CNNDiscriminator, x: torch.Tensor) -> torch.Tensor:
    """The max-pooled convolution features, N × representations × features (RelGAN's h_pool)."""
    slices = critic.input(x).view(len(x), LENGTH, critic.representations, critic.width).transpose(1, 2)
    pooled = []
    for size, linear in zip(critic.sizes, critic.filters):
        windows = slices.unfold(2, size, 1).reshape(len(x), critic.representations, LENGTH - size + 1, -1)
        pooled.append(torch.relu(linear(windows)).max(dim=2).values)
    return torch.cat(pooled, -1)


def test_the_highway_has_its_own_gate_and_transform():
    critic = _critic()
    assert critic.highway_gate is not critic.highway_transform
    assert not torch.equal(critic.highway_gate.weight, critic.highway_transform.weight)
    x = _tokens(5, 1)
    h = _pooled(critic, x)
    gate = torch.sigmoid(critic.highway_gate(h))
    highway = gate * torch.relu(critic.highway_transform(h)) + (1 - gate) * h  # Srivastava et al., RelGAN's ops.highway
    out = critic(x)
    assert isinstance(out, DiscriminatorOutput)
    assert torch.allclose(torch.stack(list(out.logits), -1), critic.out(highway).squeeze(-1), atol=1e-6)


def test_the_objective_scores_each_representation():
    critic = _critic().requires_grad_(False)
    with torch.no_grad():
        critic.out.weight.mul_(30.0)  # representations that disagree, so a mean of logits is visibly another loss
    real, fake = critic(_tokens(8, 2)), critic(_tokens(8, 3))
    assert len(real.logits) == critic.representations and all(head.shape == (8,) for head in real.logits)
    per_rep_real, per_rep_fake = torch.stack(list(real.logits), 1), torch.stack(list(fake.logits), 1)
    # RelGAN: the loss over every (sample, representation) pair; Engine 2 sums the heads' means
    expected = F.softplus(per_rep_fake - per_rep_real).mean(0).sum()
    assert float(adversarial_loss(rsgan_d_loss, real, fake)) == pytest.approx(float(expected), rel=1e-6)
    averaged = rsgan_d_loss(per_rep_real.mean(1), per_rep_fake.mean(1)) * critic.representations
    assert float(averaged) < float(expected) - 0.05  # the old mean of logits: a smaller loss (softplus is convex)


def test_a_checkpoint_with_the_shared_highway_still_loads():
    """Before the fix one Linear (``highway``) was both gate and transform: loading its weights
    into both keeps the function the old discriminator computed."""
    critic = _critic()
    old = {k: v for k, v in critic.state_dict().items() if not k.startswith("highway_")}
    old["highway.weight"], old["highway.bias"] = critic.highway_gate.weight.clone(), critic.highway_gate.bias.clone()
    loaded = _critic()
    loaded.load_state_dict(old)
    assert torch.equal(loaded.highway_transform.weight, old["highway.weight"])
    assert torch.equal(loaded.highway_gate.bias, old["highway.bias"])
    x = _tokens(4, 4)
    h = _pooled(loaded, x)
    shared = torch.nn.functional.linear(h, old["highway.weight"], old["highway.bias"])
    gate = torch.sigmoid(shared)
    reference = loaded.out(gate * torch.relu(shared) + (1 - gate) * h).squeeze(-1)
    assert torch.allclose(torch.stack(list(loaded(x).logits), -1), reference, atol=1e-6)


def test_the_text_model_trains_with_per_representation_heads(tmp_path):
    run = gankit.train("text", steps=3, log_every=1, out=str(tmp_path / "run"), **RUN)
    records = [json.loads(line) for line in (run.dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3] and all(math.isfinite(r["d_loss"]) for r in records)
    weights = load_checkpoint(run.dir / "checkpoints" / "last.pt")["discriminator"]
    assert "highway_gate.weight" in weights and "highway_transform.weight" in weights


# #6: BLEU references as the samples are seen ----------------------------------------------------

def test_bleu_references_are_encoded_and_decoded_like_the_samples(tmp_path):
    train = ["the cat sat on the mat", "the dog sat on the rug", "a cat and a dog", "the mat is red"] * 5
    held = ["the zebra sat on the mat",  # "zebra" is not in the training vocabulary: <unk> in any sample
            "the cat sat on the mat and the dog sat on the rug"]  # longer than max_length: truncated in any sample
    (tmp_path / "train.txt").write_text("\n".join(train) + "\n")
    (tmp_path / "refs.txt").write_text("\n".join(held) + "\n")
    data = build_lines(LinesOptions(reference=str(tmp_path / "refs.txt"), max_length=8), tmp_path / "train.txt")
    ctx = EvalContext(real=data.tensors[0][:8], real_labels=torch.full((8,), -1), fake_labels=None, info=data.info,
                      dataset=data, dataset_key="bleu-like-with-like", cache_dir=Path("."), device=torch.device("cpu"))
    # a generator that reproduced the references exactly as its vocabulary and length allow
    result = metrics.bleu(data.reference_ids, ctx)
    assert result.values == {f"bleu{n}": pytest.approx(1.0) for n in (2, 3, 4, 5)}
    assert "encoded with the run's tokenizer" in result.protocol["reference_form"]
