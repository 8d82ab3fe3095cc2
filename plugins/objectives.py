"""The built-in adversarial objectives, registered through the same hook a third-party
plugin implements.

Every loss takes raw logits (pre-sigmoid) of shape ``(N,)`` or ``(N, 1)`` and returns a
scalar mean to minimise, computed in float32 so mixed precision is safe. Log-sigmoid terms
use ``softplus`` (``-log σ(x) = softplus(-x)``, ``-log(1 - σ(x)) = softplus(x)``), which
stays finite for large logits. Torch is imported inside the losses, not here, so building
the registry (``gankit --help``, ``gankit list``) never loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from gankit.hookspecs import hookimpl
from gankit.specs import ObjectiveSpec

if TYPE_CHECKING:  # pragma: no cover
    from torch import Tensor


def _flat(logits: "Tensor") -> "Tensor":
    """One float32 logit per sample, shape ``(N,)``."""
    if logits.dim() > 2 or (logits.dim() == 2 and logits.shape[1] != 1):
        raise ValueError(f"expected one logit per sample, shape (N,) or (N, 1); got {tuple(logits.shape)}")
    return logits.float().reshape(-1)


def _softplus(x: "Tensor") -> "Tensor":
    import torch.nn.functional as F

    return F.softplus(x)


# Standard GAN (Goodfellow et al. 2014, "Generative Adversarial Nets") -------------------


def bce_d_loss(real_logits: "Tensor", fake_logits: "Tensor") -> "Tensor":
    """D minimises ``-[log D(x) + log(1 - D(G(z)))]``: it labels real as 1 and fake as 0."""
    real, fake = _flat(real_logits), _flat(fake_logits)
    return _softplus(-real).mean() + _softplus(fake).mean()


def minimax_g_loss(real_logits: "Tensor | None", fake_logits: "Tensor") -> "Tensor":
    """G minimises ``log(1 - D(G(z)))``, the fake term of the value D maximises.

    This is the zero-sum game of Goodfellow et al. (2014): G minimises exactly the value
    function ``V = E log D(x) + E log(1 - D(G(z)))`` that D maximises (the real term does
    not depend on G), so the two losses are opposite, not the same loss, and D is never
    told that fakes are real. It saturates: when D rejects fakes confidently the gradient
    vanishes, which is why ``non-saturating`` is the usual choice.
    """
    return -_softplus(_flat(fake_logits)).mean()


def non_saturating_g_loss(real_logits: "Tensor | None", fake_logits: "Tensor") -> "Tensor":
    """G minimises ``-log D(G(z))`` (Goodfellow et al. 2014, section 3): same fixed point as
    minimax, but strong gradients early in training when D rejects fakes easily."""
    return _softplus(-_flat(fake_logits)).mean()


# Wasserstein GAN (Arjovsky et al. 2017; with gradient penalty: Gulrajani et al. 2017) -----


def wasserstein_d_loss(real_logits: "Tensor", fake_logits: "Tensor") -> "Tensor":
    """The critic maximises ``E D(x) - E D(G(z))``, an estimate of the Wasserstein-1
    distance only while D is 1-Lipschitz (weight clipping, or a gradient penalty)."""
    return _flat(fake_logits).mean() - _flat(real_logits).mean()


def wasserstein_g_loss(real_logits: "Tensor | None", fake_logits: "Tensor") -> "Tensor":
    return -_flat(fake_logits).mean()


# Hinge loss (Lim & Ye 2017, "Geometric GAN"; Miyato et al. 2018, SN-GAN) -----------------


def hinge_d_loss(real_logits: "Tensor", fake_logits: "Tensor") -> "Tensor":
    real, fake = _flat(real_logits), _flat(fake_logits)
    return (1.0 - real).clamp_min(0).mean() + (1.0 + fake).clamp_min(0).mean()


# Least-squares GAN (Mao et al. 2017), with the 0-1 coding: fake -> 0, real -> 1 ----------


def lsgan_d_loss(real_logits: "Tensor", fake_logits: "Tensor") -> "Tensor":
    real, fake = _flat(real_logits), _flat(fake_logits)
    return 0.5 * ((real - 1.0).pow(2).mean() + fake.pow(2).mean())


def lsgan_g_loss(real_logits: "Tensor | None", fake_logits: "Tensor") -> "Tensor":
    return 0.5 * (_flat(fake_logits) - 1.0).pow(2).mean()


# Relativistic standard GAN (Jolicoeur-Martineau 2018, "The relativistic discriminator") --


def _paired(real_logits: "Tensor | None", fake_logits: "Tensor") -> tuple["Tensor", "Tensor"]:
    if real_logits is None:
        raise ValueError("rsgan compares real and fake logits; real_logits must not be None")
    real, fake = _flat(real_logits), _flat(fake_logits)
    if real.shape != fake.shape:
        raise ValueError(f"rsgan pairs real and fake samples; batch sizes differ ({real.numel()} vs {fake.numel()})")
    return real, fake


def rsgan_d_loss(real_logits: "Tensor", fake_logits: "Tensor") -> "Tensor":
    """D minimises ``-log σ(C(x_r) - C(x_f))``: real data should look more real than fake
    data, over pairs of samples."""
    real, fake = _paired(real_logits, fake_logits)
    return _softplus(fake - real).mean()


def rsgan_g_loss(real_logits: "Tensor | None", fake_logits: "Tensor") -> "Tensor":
    """G minimises ``-log σ(C(x_f) - C(x_r))``, so it also pulls the real logits down."""
    real, fake = _paired(real_logits, fake_logits)
    return _softplus(real - fake).mean()


OBJECTIVES: tuple[ObjectiveSpec, ...] = (
    ObjectiveSpec(
        "minimax",
        "Original GAN game (Goodfellow 2014), saturating G loss log(1 - D(G(z)))",
        bce_d_loss,
        minimax_g_loss,
    ),
    ObjectiveSpec(
        "non-saturating",
        "Standard GAN with the non-saturating G loss -log D(G(z)) (Goodfellow 2014)",
        bce_d_loss,
        non_saturating_g_loss,
    ),
    ObjectiveSpec(
        "wasserstein",
        "WGAN critic loss (Arjovsky 2017); needs a Lipschitz constraint: --weight-clip 0.01 (the paper's, with "
        "--optimizer-d rmsprop), --penalty gp (wgan-gp) or --penalty r1",
        wasserstein_d_loss,
        wasserstein_g_loss,
        lipschitz=True,
    ),
    ObjectiveSpec(
        "wgan-gp",
        "Wasserstein loss with a gradient penalty (Gulrajani 2017): wasserstein + --penalty gp",
        wasserstein_d_loss,
        wasserstein_g_loss,
        penalty="gp",
        lipschitz=True,
    ),
    ObjectiveSpec(
        "hinge",
        "Hinge loss (Lim & Ye 2017; SN-GAN, Miyato 2018)",
        hinge_d_loss,
        wasserstein_g_loss,
    ),
    ObjectiveSpec(
        "lsgan",
        "Least-squares GAN (Mao 2017), targets 1 for real and 0 for fake",
        lsgan_d_loss,
        lsgan_g_loss,
    ),
    ObjectiveSpec(
        "rsgan",
        "Relativistic standard GAN (Jolicoeur-Martineau 2018); real and fake batches must match in size",
        rsgan_d_loss,
        rsgan_g_loss,
        g_uses_real=True,
    ),
)


@hookimpl
def register_objectives(register: Callable[[ObjectiveSpec], None]) -> None:
    for spec in OBJECTIVES:
        register(spec)
