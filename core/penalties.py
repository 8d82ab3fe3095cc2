"""Discriminator regularisers: the WGAN-GP gradient penalty and R1.

Both differentiate D's output with respect to its input with ``create_graph=True``, so the
returned penalty can be backpropagated into D's parameters (a double backward). Both need
per-sample gradients, which BatchNorm breaks by mixing samples: see :func:`has_batchnorm`.
Penalties are returned unweighted; the engine multiplies by the user's weight or
:attr:`Penalty.default_weight`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from .errors import GankitError

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import Tensor, nn


def gradient_penalty(
    discriminator: Callable[..., Tensor],
    real: Tensor,
    fake: Tensor,
    labels: Tensor | None = None,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs"):
    ``mean((‖∇ D(x̂)‖₂ - 1)²)`` at ``x̂ = real + α (fake - real)``, ``α ~ U[0, 1]`` per
    sample, enforcing the critic's 1-Lipschitz constraint softly along lines between real
    and fake samples."""
    import torch

    real, fake = real.detach(), fake.detach()
    if real.shape != fake.shape:
        raise ValueError(f"gradient penalty needs real and fake of one shape; got {tuple(real.shape)} and {tuple(fake.shape)}")
    _check_float(real)
    alpha_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    alpha = torch.rand(alpha_shape, generator=generator, device=real.device).to(real.dtype)
    mixed = (real + alpha * (fake - real)).requires_grad_(True)
    grad = _input_gradient(discriminator, mixed, labels)
    norm = torch.linalg.vector_norm(grad.float().reshape(grad.shape[0], -1), dim=1)
    return (norm - 1.0).pow(2).mean()


def r1_penalty(discriminator: Callable[..., Tensor], real: Tensor, labels: Tensor | None = None) -> Tensor:
    """R1 (Mescheder et al. 2018, "Which Training Methods for GANs do actually Converge?"):
    ``0.5 · mean(‖∇ D(x)‖₂²)`` on real data: D is pushed to be flat where the data is,
    which makes the game locally convergent."""
    _check_float(real)
    x = real.detach().requires_grad_(True)
    grad = _input_gradient(discriminator, x, labels)
    return 0.5 * grad.float().reshape(grad.shape[0], -1).pow(2).sum(dim=1).mean()


def _input_gradient(discriminator: Callable[..., Tensor], x: Tensor, labels: Tensor | None) -> Tensor:
    """The gradient of the sum of D's logits (every head's) with respect to its input."""
    import torch

    from .models import logit_sum

    (grad,) = torch.autograd.grad(logit_sum(discriminator(x, labels)), x, create_graph=True)
    return grad


def _check_float(x: Tensor) -> None:
    if not x.is_floating_point():
        raise ValueError(f"penalties differentiate with respect to D's input, which must be floating point; got {x.dtype}")


@dataclass(frozen=True)
class Penalty:
    """A regulariser the user picks with ``--penalty NAME``. ``needs_fake`` says whether
    ``function`` takes a fake batch (``function(D, real, fake, labels, generator=...)``) or
    only the real one (``function(D, real, labels)``)."""

    name: str
    default_weight: float
    needs_fake: bool
    function: Callable[..., Tensor]
    description: str


PENALTIES: dict[str, Penalty] = {
    "gp": Penalty("gp", 10.0, True, gradient_penalty, "WGAN-GP gradient penalty (Gulrajani 2017), weight λ"),
    "r1": Penalty("r1", 10.0, False, r1_penalty, "R1 penalty on real data (Mescheder 2018), weight γ"),
}


def get_penalty(name: str) -> Penalty:
    if name not in PENALTIES:
        raise GankitError(f"unknown penalty {name!r}; choose one of: {', '.join(sorted(PENALTIES))}")
    return PENALTIES[name]


def compute_penalty(
    name: str,
    discriminator: Callable[..., Tensor],
    real: Tensor,
    fake: Tensor | None,
    labels: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The unweighted penalty ``name`` for this batch; ``fake`` may be None for penalties
    that do not need it."""
    penalty = get_penalty(name)
    if not penalty.needs_fake:
        return penalty.function(discriminator, real, labels)
    if fake is None:
        raise ValueError(f"penalty {name!r} needs a fake batch")
    return penalty.function(discriminator, real, fake, labels, generator=generator)


def has_batchnorm(module: nn.Module) -> bool:
    """Whether any BatchNorm layer (1d/2d/3d, lazy or synchronised) is inside ``module``."""
    from torch import nn

    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())
