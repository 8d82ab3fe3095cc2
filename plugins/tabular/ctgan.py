"""CTGAN (Xu et al. 2019, "Modeling Tabular Data using Conditional GAN"), on gankit's
contract: a conditional generator, a PacGAN discriminator and the generator's
cross-entropy on the conditioned column as an auxiliary loss. The transformer (mode-specific
normalisation) and training-by-sampling are the domain's (:mod:`.transformer`,
:mod:`.sampler`); WGAN-GP, Adam and the loop are the engine's.

Generator: ``[z, cond]`` through residual layers (Linear → BatchNorm → ReLU, concatenated
with their input) and a linear layer to one logit per encoded value; alphas through tanh,
every one-hot span through a Gumbel-softmax (temperature ``tau``). Its latent is the
Gaussian ``z`` followed by one uniform per encoded value, the Gumbel noise, so every random
number of a sample comes from the generator :meth:`sample_latent` is given (a seed gives the
same table). ``generate`` returns hard one-hots (the Gumbel-max sample).

Discriminator: each row with its condition vector, ``pac`` rows side by side (PacGAN), through
Linear → LeakyReLU(0.2) → Dropout layers to one logit per pack, which every row of the pack
carries (one logit per sample, as the contract and the engine's gradient penalty expect).
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from gankit import GankitError
from gankit.models import Generator
from gankit.specs import DataInfo

from .options import CTGANOptions
from .transformer import Layout, layout_of

EPS = 1e-10


class Residual(nn.Module):
    def __init__(self, inputs: int, outputs: int):
        super().__init__()
        self.fc = nn.Linear(inputs, outputs)
        self.bn = nn.BatchNorm1d(outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.relu(self.bn(self.fc(x))), x], dim=1)


class CTGANGenerator(Generator):
    conditional = True

    def __init__(self, options: CTGANOptions, layout: Layout):
        super().__init__()
        self.layout, self.tau = layout, options.tau
        self.embedding_dim = options.embedding_dim
        self.latent_dim = options.embedding_dim + layout.width
        layers, width = [], options.embedding_dim + layout.cond_width
        for size in options.generator_dim:
            layers.append(Residual(width, size))
            width += size
        layers.append(nn.Linear(width, layout.width))
        self.net = nn.Sequential(*layers)
        self.register_buffer("tanh_index", torch.tensor(layout.tanh, dtype=torch.long), persistent=False)

    def sample_latent(self, n: int, *, device: torch.device | str = "cpu",
                      generator: torch.Generator | None = None) -> torch.Tensor:
        z = torch.randn(n, self.embedding_dim, device=device, generator=generator)
        uniform = torch.rand(n, self.layout.width, device=device, generator=generator)
        return torch.cat([z, uniform], dim=1)

    def logits(self, z: torch.Tensor, cond: Mapping[str, torch.Tensor]) -> torch.Tensor:
        if cond["vector"].shape[1] != self.layout.cond_width:
            raise GankitError(f"ctgan was trained on conditions over {self.layout.cond_width} categories, got "
                              f"{cond['vector'].shape[1]}: the table's categories differ from the training table's; "
                              f"score held-out rows with --metric-option holdout PATH instead of --data")
        return self.net(torch.cat([z[:, :self.embedding_dim], cond["vector"].to(z.dtype)], dim=1))

    def forward(self, z: torch.Tensor, cond: Any = None) -> torch.Tensor:
        """The soft rows D reads. The pre-activation logits ride along as
        ``rows.pre_activation`` for the ``cond`` loss (CTGAN's cross-entropy reads them)."""
        logits = self.logits(z, cond)
        rows = self._activate(logits, z[:, self.embedding_dim:], hard=False)
        rows.pre_activation = logits  # type: ignore[attr-defined]
        return rows

    def generate(self, z: torch.Tensor, cond: Any = None) -> torch.Tensor:
        return self._activate(self.logits(z, cond), z[:, self.embedding_dim:], hard=True)

    def _activate(self, logits: torch.Tensor, uniform: torch.Tensor, hard: bool) -> torch.Tensor:
        gumbel = -torch.log(-torch.log(uniform.clamp(EPS, 1 - EPS)))
        parts = []
        position = 0
        for start, end in self.layout.softmax:
            if start > position:  # the alpha before a mode span
                parts.append(torch.tanh(logits[:, position:start]))
            noisy = logits[:, start:end] + gumbel[:, start:end]
            if hard:
                parts.append(F.one_hot(noisy.argmax(dim=1), end - start).to(logits.dtype))
            else:
                parts.append(torch.softmax(noisy / self.tau, dim=1))
            position = end
        return torch.cat(parts, dim=1)


class CTGANDiscriminator(nn.Module):
    def __init__(self, options: CTGANOptions, layout: Layout):
        super().__init__()
        self.pac = options.pac
        layers, width = [], (layout.width + layout.cond_width) * options.pac
        for size in options.discriminator_dim:
            layers += [nn.Linear(width, size), nn.LeakyReLU(0.2), nn.Dropout(options.dropout)]
            width = size
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, cond: Any = None) -> torch.Tensor:
        n = x.shape[0]
        if n % self.pac:
            raise GankitError(f"ctgan's discriminator judges rows in packs of pac={self.pac}, but got a batch of {n}; "
                              f"make --batch-size (per micro-batch with --accumulate) a multiple of {self.pac}, or "
                              f"change -o pac")
        packed = torch.cat([x, cond["vector"].to(x.dtype)], dim=1).reshape(n // self.pac, -1)
        return self.net(packed).reshape(-1).repeat_interleave(self.pac)


def build(options: CTGANOptions, info: DataInfo) -> tuple[CTGANGenerator, CTGANDiscriminator]:
    layout = layout_of(info.extra)
    return CTGANGenerator(options, layout), CTGANDiscriminator(options, layout)


def build_cond_loss(model_options: Any, dataset_options: Any, info: DataInfo) -> Any:
    """CTGAN's cross-entropy between the generator's logits for the conditioned column and
    the condition (``_cond_loss``): summed over the batch's rows for the column each row is
    conditioned on, divided by the batch size."""
    layout = layout_of(info.extra)

    def cond_loss(real: torch.Tensor, fake: torch.Tensor, cond: Mapping[str, torch.Tensor]) -> torch.Tensor:
        logits = getattr(fake, "pre_activation", None)
        if logits is None:
            raise GankitError("the cond loss reads the logits ctgan's generator attaches to its output "
                              "(fake.pre_activation); turn it off for another generator: --aux-weights cond=0")
        # The loss reaches the generator through the logits; the zero term records that it
        # is a function of the generator's output, as the contract defines an auxiliary loss.
        total = fake.sum() * 0.0
        if not layout.discrete:
            return total + logits.sum() * 0.0
        vector, mask = cond["vector"], cond["mask"]
        terms = []
        for (start, end), offset in zip(layout.discrete, layout.cond_offsets):
            target = vector[:, offset:offset + end - start].argmax(dim=1)
            terms.append(F.cross_entropy(logits[:, start:end].float(), target, reduction="none"))
        return total + (torch.stack(terms, dim=1) * mask).sum() / logits.shape[0]

    return cond_loss
