"""Networks: :func:`check_model` (generator and discriminator as the engine calls them),
:func:`check_aux_loss` and the checks of a discriminator's logits."""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Mapping

import torch

from ..conditions import condition_size, map_condition
from ..models import DiscriminatorOutput, logit_sum
from ..specs import DataInfo
from .base import ConformanceError, _require
from .data import _check_values, _torch_dtype


def _conditioned_on_tensors(generator: Any) -> bool:
    return bool(getattr(generator, "conditional", False)) and not getattr(generator, "num_classes", 0)


def _rows(cond: Any, n: int) -> Any:
    """The first ``n`` rows of a batched condition, repeating rows when it has fewer."""
    if cond is None:
        return None
    index = torch.arange(n) % condition_size(cond)
    return map_condition(lambda t: t[index], cond)


def _call(what: str, function: Callable[..., Any], *args: Any, hint: str = "") -> Any:
    """``function(*args)``, with an exception turned into a ConformanceError naming ``what``."""
    try:
        return function(*args)
    except ConformanceError:
        raise
    except Exception as exc:
        raise ConformanceError(f"{what} raised {type(exc).__name__}: {exc}{hint}") from exc


def check_model(
    generator: Any,
    discriminator: Any,
    info: DataInfo,
    *,
    prepare_real: Callable[[torch.Tensor, DataInfo], torch.Tensor] | None = None,
    real: torch.Tensor | None = None,
    real_cond: Any = None,
    real_labels: torch.Tensor | None = None,
    feature_matching: float = 0.0,
    aux_losses: Mapping[str, Callable[..., torch.Tensor]] | None = None,
) -> None:
    """The networks follow the contract of :mod:`gankit.models`, called as the engine calls
    them, with conditions from real items (``real_cond``, the dataset's conditions of
    ``real`` stacked; ``real_labels`` is its old name).

    The generator: ``sample_latent`` gives ``n`` rows, or None when ``latent_dim`` is 0 (and
    then ``forward``/``generate`` take ``z=None``); a conditional one (``conditional``) is
    given ``sample_condition(real_cond)``; ``generate`` matches ``info``; ``log_values()``
    and ``pretrain_loss(real)``, when defined, give finite numbers. The discriminator
    returns one logit per sample, or a :class:`~gankit.models.DiscriminatorOutput` whose
    logits and features are batch-first and finite, with the same heads and features for
    real and fake batches (of two sizes); with ``feature_matching`` above 0 it returns
    features. G gets gradients through D; each of ``aux_losses`` (name: the built loss)
    passes :func:`check_aux_loss`; state dicts hold tensors only."""
    from torch import nn

    _require(isinstance(generator, nn.Module) and isinstance(discriminator, nn.Module),
             "build() must return (generator, discriminator), both torch.nn.Module")
    real_cond = _generator_conditions(generator, info, real_cond if real_cond is not None else real_labels)
    fake_aux: tuple[torch.Tensor, torch.Tensor, Any] | None = None
    for n in (3, 5):  # two batch sizes, so a discriminator that reduces over the batch is caught
        batch, fake, cond, fake_out = _check_batch(generator, discriminator, info, n, real=real, real_cond=real_cond,
                                                   prepare_real=prepare_real, feature_matching=feature_matching)
        if n == 3:
            _check_gradient(generator, discriminator, fake_out)
            if batch is not None:
                fake_aux = (batch, fake, cond)
    for name, loss in (aux_losses or {}).items():
        _require(fake_aux is not None, "check_model needs a real batch (real=...) to check the auxiliary losses")
        assert fake_aux is not None
        check_aux_loss(name, loss, *fake_aux)
    _check_optional_methods(generator, real)
    for name, net in (("generator", generator), ("discriminator", discriminator)):
        bad = [k for k, v in net.state_dict().items() if not isinstance(v, torch.Tensor)]
        _require(not bad, f"the {name}'s state_dict holds non-tensors ({', '.join(bad)}): checkpoints load with "
                          f"weights_only=True")


def _generator_conditions(generator: Any, info: DataInfo, real_cond: Any) -> Any:
    """Check the generator's attributes and kind of conditioning; the real conditions the
    checks give a conditional generator (class labels made up when none are given)."""
    for attribute in ("latent_dim", "num_classes", "conditional", "sample_latent", "sample_condition", "generate",
                      "on_step"):
        _require(hasattr(generator, attribute), f"the generator has no {attribute!r}; subclass gankit.models.Generator")
    classes, latent_dim = int(generator.num_classes), int(generator.latent_dim)
    conditional = bool(generator.conditional)
    _require(classes == 0 or classes == info.num_classes,
             f"a conditional generator's num_classes ({classes}) must equal DataInfo.num_classes ({info.num_classes})")
    _require(latent_dim > 0 or conditional,
             "latent_dim is 0 (a deterministic generator) but the generator is not conditional: it could only make "
             "one sample; give it a latent or a condition (conditional = True)")
    if not conditional:
        return real_cond
    if real_cond is None and classes:
        real_cond = torch.arange(8) % classes
    _require(real_cond is not None, "the generator is conditional: check_model needs real_cond, the conditions "
                                    "of real items (check_domain passes the dataset's)")
    if classes:
        _require(isinstance(real_cond, torch.Tensor) and real_cond.dim() == 1 and not real_cond.is_floating_point(),
                 f"a class-conditional generator (num_classes {classes}) needs integer class conditions, but the "
                 f"dataset's items carry {type(real_cond).__name__} conditions; set num_classes = 0 and "
                 f"conditional = True for a generator conditioned on tensors")
    return real_cond


def _check_batch(generator: Any, discriminator: Any, info: DataInfo, n: int, *, real: torch.Tensor | None,
                 real_cond: Any, prepare_real: Callable[[torch.Tensor, DataInfo], torch.Tensor] | None,
                 feature_matching: float) -> tuple[torch.Tensor | None, torch.Tensor, Any, DiscriminatorOutput]:
    """One batch of ``n`` through both networks as the engine runs them: the real batch D
    saw (None without ``real``), the fake one, its conditions and D's output on it."""
    latent_dim, conditional = int(generator.latent_dim), bool(generator.conditional)
    noise = torch.Generator().manual_seed(n)
    z = _call(f"sample_latent({n})", lambda: generator.sample_latent(n, device="cpu", generator=noise))
    if latent_dim == 0:
        _require(z is None, f"latent_dim is 0, so sample_latent({n}) must return None (the engine then calls the "
                            f"generator with z=None), got {type(z).__name__}")
    else:
        _require(isinstance(z, torch.Tensor) and z.shape[0] == n, f"sample_latent({n}) must return a tensor of {n} "
                                                                 f"rows")
    cond = None
    real_n = _rows(real, n) if real is not None else None
    real_cond_n = _rows(real_cond, n) if conditional else None
    if conditional:
        cond = _call("sample_condition(real_cond)",
                     lambda: generator.sample_condition(real_cond_n, generator=torch.Generator().manual_seed(n)))
        _require(condition_size(cond) == n, f"sample_condition(real_cond) for {n} real items must return "
                                            f"conditions for {n} samples, got {condition_size(cond)}")
    given = "z=None" if z is None else f"{n} latents"
    hint = ("; latent_dim is 0, so the engine passes z=None: make the sample from the condition alone"
            if z is None else "")
    generator.eval()
    try:
        with torch.no_grad():
            sample = _call(f"generate({given}, cond)", generator.generate, z, cond, hint=hint)
    finally:
        generator.train()
    _require(isinstance(sample, torch.Tensor) and tuple(sample.shape) == (n, *info.shape),
             f"generate() returned shape {tuple(getattr(sample, 'shape', ()))} for {given}, expected "
             f"{(n, *info.shape)} (DataInfo.shape)")
    _require(sample.dtype == _torch_dtype(info.dtype),
             f"generate() returned {sample.dtype}, but DataInfo.dtype is {info.dtype!r}")
    _check_values(sample, info, "generate()'s output")
    fake = _call(f"the generator's forward({given}, cond)", generator, z, cond, hint=hint)
    _require(isinstance(fake, torch.Tensor) and fake.shape[0] == n,
             f"generator({given}) must return {n} samples, got {tuple(getattr(fake, 'shape', ()))}")
    fake_out = _check_logits(_call("the discriminator on a fake batch", discriminator, fake, cond), n, "a fake batch")
    batch = None
    if real_n is not None:
        batch = _call("prepare_real", prepare_real, real_n, info) if prepare_real is not None else real_n
        real_out = _check_logits(_call("the discriminator on a real batch", discriminator, batch, real_cond_n), n,
                                 "a real batch (after the domain's prepare_real)")
        _check_same_heads(real_out, fake_out, n)
    if feature_matching:
        _require(fake_out.features,
                 f"feature_matching is {feature_matching:g} (the model's defaults or the options set it), but the "
                 f"discriminator returns no features: return DiscriminatorOutput(logits=..., features=...) or "
                 f"set feature_matching to 0")
    return batch, fake, cond, fake_out


def _check_gradient(generator: Any, discriminator: Any, fake_out: DiscriminatorOutput) -> None:
    generator.zero_grad(set_to_none=True)
    logit_sum(fake_out).backward(retain_graph=True)
    grads = [p.grad for p in generator.parameters() if p.requires_grad]
    _require(grads and any(g is not None and bool(g.abs().sum() > 0) for g in grads),
             "the generator gets no gradient through the discriminator (is forward()'s output detached, or "
             "made by argmax? forward() returns what D consumes, generate() the canonical samples)")
    generator.zero_grad(set_to_none=True)
    discriminator.zero_grad(set_to_none=True)


def _check_optional_methods(generator: Any, real: torch.Tensor | None) -> None:
    log_values = getattr(generator, "log_values", None)
    if callable(log_values):
        values = _call("log_values()", log_values)
        _require(isinstance(values, Mapping) and all(isinstance(k, str) for k in values)
                 and all(isinstance(v, numbers.Real) and math.isfinite(v) for v in values.values()),
                 f"log_values() must return a dict of names to finite numbers (added to metrics.jsonl), got {values!r}")
    pretrain_loss = getattr(generator, "pretrain_loss", None)
    if callable(pretrain_loss) and real is not None:
        loss = _call("pretrain_loss(real)", pretrain_loss, _rows(real, 3))
        _require(isinstance(loss, torch.Tensor) and loss.dim() == 0 and loss.is_floating_point()
                 and bool(torch.isfinite(loss)) and loss.requires_grad,
                 f"pretrain_loss(real) must return a finite scalar tensor that gives the generator gradients, got "
                 f"{loss!r:.200}")
        generator.zero_grad(set_to_none=True)


def check_aux_loss(name: str, loss: Callable[..., torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                   cond: Any = None) -> None:
    """An auxiliary generator loss (:class:`~gankit.specs.AuxLossSpec`), built, called as
    the engine calls it: ``loss(real, fake, cond)`` returns a finite scalar tensor with a
    gradient for ``fake`` (the generator's output, which must require grad)."""
    what = f"the auxiliary loss {name!r}"
    value = _call(f"{what} (loss(real, fake, cond))", loss, real, fake, cond)
    _require(isinstance(value, torch.Tensor), f"{what} must return a scalar tensor, got {type(value).__name__}")
    _require(value.dim() == 0, f"{what} must return a scalar tensor (reduce it, e.g. .mean()), got shape "
                               f"{tuple(value.shape)}")
    _require(value.is_floating_point() and bool(torch.isfinite(value)),
             f"{what} must return a finite float, got {value.item()!r} for a real and a fake batch")
    grad = None
    if value.requires_grad:
        grad = torch.autograd.grad(value, fake, allow_unused=True, retain_graph=True)[0]
    _require(grad is not None, f"{what} does not depend differentiably on the fake batch (is `fake` detached or "
                               f"converted to numpy?); it must give the generator gradients")


def _check_logits(result: Any, n: int, what: str) -> DiscriminatorOutput:
    """A discriminator's return value for a batch of ``n``, checked and in structured form."""
    if isinstance(result, DiscriminatorOutput):
        logits, features = result.logits, result.features
        _require(isinstance(logits, (tuple, list)) and logits,
                 f"the discriminator's DiscriminatorOutput.logits must be a non-empty tuple of tensors, one per head, "
                 f"got {type(logits).__name__} for {what}")
        _require(isinstance(features, (tuple, list)),
                 f"the discriminator's DiscriminatorOutput.features must be a tuple of tensors, got "
                 f"{type(features).__name__} for {what}")
        for kind, tensors in (("logit", logits), ("feature", features)):
            for index, tensor in enumerate(tensors, start=1):
                label = f"the discriminator's {kind} tensor #{index} (of {len(tensors)}) for {what} of {n}"
                _require(isinstance(tensor, torch.Tensor), f"{label} is a {type(tensor).__name__}, not a tensor")
                shape = tuple(tensor.shape)
                _require(tensor.dim() >= 1 and shape[0] == n,
                         f"{label} has shape {shape}: the batch must be its first dimension ({n}, ...)")
                _require(tensor.is_floating_point() and bool(torch.isfinite(tensor).all()),
                         f"{label} must hold finite floats")
        return DiscriminatorOutput(tuple(logits), tuple(features))
    shape = tuple(getattr(result, "shape", ()))
    _require(isinstance(result, torch.Tensor) and shape in ((n,), (n, 1)),
             f"the discriminator must return one logit per sample, shape ({n},) or ({n}, 1), for {what} of {n} "
             f"(or a gankit.models.DiscriminatorOutput); got "
             f"{shape if isinstance(result, torch.Tensor) else type(result).__name__}")
    _require(result.is_floating_point() and torch.isfinite(result).all(), f"the discriminator's logits for {what} "
                                                                          f"must be finite floats")
    return DiscriminatorOutput((result,))


def _check_same_heads(real: DiscriminatorOutput, fake: DiscriminatorOutput, n: int) -> None:
    """The engine pairs real and fake heads (relativistic objectives) and feature maps
    (feature matching) one to one."""
    for kind, a, b in (("logit tensors (heads)", real.logits, fake.logits), ("feature maps", real.features,
                                                                               fake.features)):
        _require(len(a) == len(b), f"the discriminator returned {len(a)} {kind} for a real batch of {n} and {len(b)} "
                                   f"for a fake batch; it must return the same heads and features for both")
        for index, (x, y) in enumerate(zip(a, b), start=1):
            _require(x.shape == y.shape, f"the discriminator's {kind} #{index} has shape {tuple(x.shape)} for a real "
                                         f"batch of {n} and {tuple(y.shape)} for a fake one; they must match")
