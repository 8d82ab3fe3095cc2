"""Text generators that emit Gumbel-softmax tokens: ``lstm`` and ``transformer``.

Both are autoregressive language models behind one :class:`TextGenerator`, which owns
what they share: the Gumbel-softmax relaxation and its temperature schedule, hard
sampling, the canonical form of samples (``tokens…, EOS, PAD…``), the likelihood
(``token_nll``, ``pretrain_loss``) and the values logged during training. A subclass only
says how to compute next-token logits: for a whole teacher-forced sequence at once
(:meth:`TextGenerator.logits`) and one token at a time with a state (:meth:`TextGenerator.step`).

The latent of a text generator is its sampling noise: ``z`` has one standard-normal value
per position, and :meth:`TextGenerator.generate` draws the token at position ``t`` from the
categorical distribution by inverse CDF at ``u_t = Φ(z_t)``. Samples are therefore a pure
function of ``z`` (the same seed gives the same text); no other random number is drawn.
"""

from __future__ import annotations

import abc
import inspect
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from gankit.errors import GankitError
from gankit.models import Generator
from gankit.specs import DataInfo

from .layout import TokenLayout
from .options import LSTMOptions, TransformerOptions
from .schedules import endpoints, inverse_temperature


def first_eos_mask(ids: torch.Tensor, eos_id: int) -> torch.Tensor:
    """True at the positions up to and including the first EOS of each row (all positions of
    a row without EOS): the tokens a sample consists of."""
    is_eos = ids == eos_id
    return (is_eos.long().cumsum(1) - is_eos.long()) == 0


class TextGenerator(Generator, metaclass=abc.ABCMeta):
    """Autoregressive generator of ``length`` tokens with Gumbel-softmax outputs.

    ``forward(z)`` — training, what D sees: soft one-hot tokens ``(N, L, V)``, rows summing
    to 1, differentiable. At position t the relaxed token is ``softmax(β·(o_t + g_t))`` for
    logits ``o_t`` and Gumbel noise ``g_t`` (drawn from torch's global RNG, which the engine
    seeds per process under torchrun and checkpoints store), and the hard token is ``argmax(o_t + g_t)`` — by the Gumbel-max trick an exact
    sample of the model at temperature 1. The *next input is that hard token*, as in
    RelGAN, not the soft vector (Kusner & Hernández-Lobato feed the soft one): the generator
    then conditions during training on exactly the kind of prefix it conditions on when
    sampling (no train/sample mismatch), its recurrent state never sees off-simplex mixtures
    of embeddings, and it lets the forward pass run in two halves — the hard sequence
    without gradient, one token at a time, then all logits at once with gradient,
    teacher-forced on that sequence (one cuDNN LSTM call, one transformer pass), with the
    same Gumbel noise. Gradients reach every position's logits through its own relaxed
    token; what they do not carry is the effect of a token on later choices (as in RelGAN).
    After the first hard EOS the outputs are exact one-hot PAD, as in real data, so D cannot
    tell fakes by what follows EOS; the last position is always EOS (truncated samples end
    with EOS). PAD and BOS are never emitted before EOS. With ``straight_through`` D sees
    the hard one-hot tokens while G gets the relaxed gradient.

    ``generate(z)`` — samples: hard ids ``(N, L)`` in canonical form, drawn from the
    categorical distribution at ``sample_temperature`` (1.0: the model's own distribution;
    0: greedy argmax) by inverse CDF at ``Φ(z)``.

    ``on_step(step, total)`` sets β from the temperature schedule; ``log_values()`` reports
    the temperature, the mean entropy of the relaxed tokens and the duplicate rate of the
    last training batch (read only at log steps: the values stay on the device until then).
    """

    def __init__(self, layout: TokenLayout, options: LSTMOptions | TransformerOptions):
        super().__init__()
        self.layout = layout
        self.vocab_size, self.length = layout.vocab_size, layout.length
        self.latent_dim = layout.length
        self.sample_temperature = 1.0
        self.straight_through = options.straight_through
        self.schedule = options.temperature_schedule
        self.beta_start, self.beta_max = endpoints(options.temperature_schedule, options.temperature, options.beta_max)
        self.beta = self.beta_start
        # β as a device tensor too, updated in place: a compiled forward or a captured CUDA
        # graph reads the current value instead of baking in the one it was traced with.
        self.register_buffer("current_beta", torch.tensor(self.beta_start), persistent=False)
        self.register_buffer("logit_bias", _logit_bias(layout), persistent=False)
        self._last_hard: torch.Tensor | None = None
        self._last_soft: torch.Tensor | None = None  # the relaxed tokens, for the entropy log_values() reports

    # What a subclass provides ------------------------------------------------------------

    @abc.abstractmethod
    def logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """Teacher-forced next-token logits ``(N, T, V)`` for input ids ``(N, T)``."""

    @abc.abstractmethod
    def step(self, token: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        """Logits ``(N, V)`` of the next token after ``token`` ``(N,)``, and the new state
        (``state`` is None before the first token)."""

    # The engine's contract ---------------------------------------------------------------

    def on_step(self, step: int, total_steps: int) -> None:
        self.beta = inverse_temperature(self.schedule, step, total_steps, self.beta_start, self.beta_max)
        self.current_beta.fill_(self.beta)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        n, device = z.shape[0], z.device
        gumbel = _gumbel_noise((n, self.length, self.vocab_size), device)
        if torch.is_grad_enabled():
            with torch.no_grad():
                hard = self._decode(n, device, lambda t, logits: (logits + gumbel[:, t]).argmax(-1))
            logits = self.logits(self._inputs(hard)).float() + self.logit_bias
        else:  # no gradient wanted (D's phase): keep the decoding's logits instead of computing them again
            hard, logits = self._decode_keeping_logits(n, device, gumbel)
        soft = torch.softmax(gumbel.add_(logits).mul_(self.current_beta), dim=-1)
        alive = first_eos_mask(hard, self.layout.eos_id)
        self._last_soft, self._last_hard = soft.detach(), hard
        if self.straight_through:
            soft = F.one_hot(hard, self.vocab_size).to(soft.dtype) + (soft - soft.detach())  # exactly one-hot
        pad = F.one_hot(torch.tensor(self.layout.pad_id, device=device), self.vocab_size).to(soft.dtype)
        return torch.where(alive.unsqueeze(-1), soft, pad)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] < self.length:
            raise GankitError(f"a text generator of length {self.length} needs latents of shape (N, {self.length}), "
                              f"got {tuple(z.shape)}")
        temperature = float(self.sample_temperature)
        if not temperature >= 0:
            raise GankitError(f"sample_temperature must be 0 (greedy) or positive, got {temperature}")
        u = torch.special.ndtr(z[:, :self.length].float()).clamp_(1e-7, 1.0)

        def choose(t: int, logits: torch.Tensor) -> torch.Tensor:
            if temperature == 0:
                return logits.argmax(-1)
            cdf = torch.softmax(logits / temperature, dim=-1).cumsum(-1)
            picked = torch.searchsorted(cdf, u[:, t:t + 1] * cdf[:, -1:])
            return picked.squeeze(1).clamp_(max=self.vocab_size - 1)

        return self._decode(z.shape[0], z.device, choose)

    @torch.no_grad()
    def token_nll(self, ids: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood per token (nats) of each row of ``ids`` ``(N, L)``
        under the model at temperature 1, over the tokens it chooses: up to and including the
        first EOS, without the EOS the last position forces (probability 1: counting it
        would scale the mean by (L-1)/L for every full-length row)."""
        log_probs, counted = self._target_log_probs(ids)
        return -torch.where(counted, log_probs, 0.0).sum(1) / counted.sum(1).clamp(min=1)

    def pretrain_loss(self, ids: torch.Tensor) -> torch.Tensor:
        """Teacher-forced MLE loss of a real batch: the mean NLL over all counted tokens
        (those :meth:`token_nll` counts)."""
        log_probs, counted = self._target_log_probs(ids)
        return -torch.where(counted, log_probs, 0.0).sum() / counted.sum().clamp(min=1)

    def log_values(self) -> dict[str, float]:
        values = {"temperature": 1.0 / self.beta}
        if self._last_hard is not None and self._last_soft is not None:
            hard = self._last_hard
            alive = first_eos_mask(hard, self.layout.eos_id)
            entropy = torch.special.entr(self._last_soft).sum(-1)
            values["gumbel_entropy"] = float((entropy * alive).sum() / alive.sum())
            values["duplicate_rate"] = 1.0 - torch.unique(hard, dim=0).shape[0] / hard.shape[0]
        return values

    # Shared machinery --------------------------------------------------------------------

    def _inputs(self, ids: torch.Tensor) -> torch.Tensor:
        bos = torch.full((ids.shape[0], 1), self.layout.bos_id, dtype=torch.long, device=ids.device)
        return torch.cat([bos, ids[:, :-1]], dim=1)

    def _decode(self, n: int, device: torch.device, choose: Callable[[int, torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """Decode ``n`` sequences token by token; ``choose(t, logits)`` picks each token from
        the masked float32 logits. After the first EOS every token is PAD."""
        token = torch.full((n,), self.layout.bos_id, dtype=torch.long, device=device)
        ended = torch.zeros(n, dtype=torch.bool, device=device)
        pad = torch.full_like(token, self.layout.pad_id)
        state, tokens = None, []
        for t in range(self.length):
            logits, state = self.step(token, state)
            token = torch.where(ended, pad, choose(t, logits.float() + self.logit_bias[t]))
            ended = ended | (token == self.layout.eos_id)
            tokens.append(token)
        return torch.stack(tokens, dim=1)

    def _decode_keeping_logits(self, n: int, device: torch.device,
                               gumbel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The Gumbel-max hard sequence and the masked float32 logits ``(N, L, V)`` the
        decoding computed on the way."""
        kept: list[torch.Tensor] = []

        def choose(t: int, logits: torch.Tensor) -> torch.Tensor:
            kept.append(logits)
            return (logits + gumbel[:, t]).argmax(-1)

        hard = self._decode(n, device, choose)
        return hard, torch.stack(kept, dim=1)

    def _target_log_probs(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ids = ids.to(self.logit_bias.device).long()
        if ids.dim() != 2 or ids.shape[1] != self.length:
            raise GankitError(f"expected token ids of shape (N, {self.length}), got {tuple(ids.shape)}")
        log_probs = torch.log_softmax(self.logits(self._inputs(ids)).float() + self.logit_bias, dim=-1)
        chosen = torch.isfinite(self.logit_bias).sum(-1) > 1  # positions where the model has a choice
        return log_probs.gather(-1, ids.unsqueeze(-1)).squeeze(-1), first_eos_mask(ids, self.layout.eos_id) & chosen


def _gumbel_noise(shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """Standard Gumbel noise ``-log(-log U)``, written in place over one uniform draw (on a
    CPU 1.7× faster than ``-log(Exponential)`` with ``exponential_``)."""
    tiny = torch.finfo(torch.float32).tiny
    return torch.rand(shape, device=device).clamp_(min=tiny).log_().neg_().log_().neg_()


def _logit_bias(layout: TokenLayout) -> torch.Tensor:
    """``(L, V)``: -inf for tokens that may not appear at a position (PAD and BOS before EOS;
    anything but EOS at the last position), 0 elsewhere."""
    bias = torch.zeros(layout.length, layout.vocab_size)
    for banned in {layout.pad_id, layout.bos_id} - {layout.eos_id}:
        bias[:, banned] = float("-inf")
    bias[-1] = float("-inf")
    bias[-1, layout.eos_id] = 0.0
    return bias


class LSTMGenerator(TextGenerator):
    """Token embedding → LSTM → linear head over the vocabulary (RelGAN's LSTM baseline)."""

    def __init__(self, layout: TokenLayout, options: LSTMOptions = LSTMOptions()):
        super().__init__(layout, options)
        self.embed = nn.Embedding(layout.vocab_size, options.embed_dim)
        self.lstm = nn.LSTM(options.embed_dim, options.hidden_dim, options.layers, batch_first=True)
        self.head = nn.Linear(options.hidden_dim, layout.vocab_size)

    def logits(self, inputs: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.lstm(self.embed(inputs))
        return self.head(hidden)

    def step(self, token: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        hidden, state = self.lstm(self.embed(token).unsqueeze(1), state)
        return self.head(hidden[:, 0]), state


class TransformerGenerator(TextGenerator):
    """A decoder-only transformer from ``transformers``: ``GPT2LMHeadModel`` built from a
    ``GPT2Config`` sized by the options (random init), or any causal LM loaded from a local
    checkpoint folder (``pretrained``). Dropout is turned off: the two halves of the
    Gumbel-softmax forward pass must compute the same logits."""

    def __init__(self, layout: TokenLayout, options: TransformerOptions = TransformerOptions(),
                 tokenizer_json: str | None = None):
        super().__init__(layout, options)
        if options.pretrained:
            self.lm = _load_pretrained(Path(options.pretrained).expanduser(), layout, tokenizer_json)
        else:
            from transformers import GPT2Config, GPT2LMHeadModel

            config = GPT2Config(vocab_size=layout.vocab_size, n_positions=layout.length, n_embd=options.embed_dim,
                                n_layer=options.layers, n_head=options.heads, resid_pdrop=0.0, embd_pdrop=0.0,
                                attn_pdrop=0.0, bos_token_id=layout.bos_id, eos_token_id=layout.eos_id)
            self.lm = GPT2LMHeadModel(config)
        for module in self.lm.modules():
            if isinstance(module, nn.Dropout):
                module.p = 0.0
        # Inputs are never padded on the left and PAD only follows EOS, whose logits are not
        # used: no attention mask is needed, so transformers need not warn about one.
        self.lm.config.pad_token_id = None
        parameters = inspect.signature(self.lm.forward).parameters
        self._cache_keyword = "cache" if "cache" in parameters else "past_key_values"  # renamed in transformers 5.x

    def logits(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.lm(input_ids=inputs, use_cache=False).logits

    def step(self, token: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        out = self.lm(input_ids=token.unsqueeze(1), use_cache=True, **{self._cache_keyword: state})
        cache = out.get("cache")
        return out.logits[:, -1], cache if cache is not None else out.get("past_key_values")


def _load_pretrained(folder: Path, layout: TokenLayout, tokenizer_json: str | None) -> nn.Module:
    """A causal LM from a local checkpoint folder, offline, checked against the data's
    tokenizer (same vocabulary size; the same vocabulary when the folder holds a
    ``tokenizer.json``) and sample length."""
    if not (folder / "config.json").is_file():
        raise GankitError(f"-o pretrained {str(folder)!r}: no config.json there; give a local folder saved with "
                          f"save_pretrained() (config.json and the weights)")
    from transformers import AutoConfig, AutoModelForCausalLM

    from gankit.limits import check_model_size

    def build() -> nn.Module:
        return AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder, local_files_only=True))

    # Its size first, measured on the meta device: a config.json asking for 1e9 hidden units is refused unallocated.
    check_model_size(build, f"-o pretrained {str(folder)!r} (its config.json)")
    try:
        model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise GankitError(f"-o pretrained {str(folder)!r}: cannot load a causal language model from it: "
                          f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    vocab = model.get_output_embeddings().weight.shape[0]
    hint = f"train on the checkpoint's own tokenizer (-o tokenizer {str(folder)!r})"
    if vocab != layout.vocab_size:
        raise GankitError(f"-o pretrained {str(folder)!r}: the checkpoint predicts {vocab} tokens but the dataset's "
                          f"tokenizer has {layout.vocab_size}; {hint}")
    positions = getattr(model.config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions < layout.length:
        raise GankitError(f"-o pretrained {str(folder)!r}: the checkpoint handles {positions} positions, fewer than the "
                          f"sample length {layout.length}; lower the dataset's max_length")
    if tokenizer_json and (folder / "tokenizer.json").is_file():
        from tokenizers import Tokenizer

        ours = Tokenizer.from_str(tokenizer_json).get_vocab(with_added_tokens=True)
        theirs = Tokenizer.from_file(str(folder / "tokenizer.json")).get_vocab(with_added_tokens=True)
        if ours != theirs:
            raise GankitError(f"-o pretrained {str(folder)!r}: the checkpoint's tokenizer.json maps tokens to other ids "
                              f"than the dataset's tokenizer; {hint}")
    return model


def build_lstm(options: LSTMOptions, info: DataInfo) -> tuple[LSTMGenerator, nn.Module]:
    """The ``ModelSpec.build`` of ``lstm``."""
    from .discriminators import build_discriminator

    layout = TokenLayout.from_info(info, "lstm")
    return LSTMGenerator(layout, options), build_discriminator(options, layout)


def build_transformer(options: TransformerOptions, info: DataInfo) -> tuple[TransformerGenerator, nn.Module]:
    """The ``ModelSpec.build`` of ``transformer``."""
    from .discriminators import build_discriminator

    layout = TokenLayout.from_info(info, "transformer")
    generator = TransformerGenerator(layout, options, tokenizer_json=info.extra.get("tokenizer"))
    return generator, build_discriminator(options, layout)
