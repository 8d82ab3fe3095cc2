"""One training step: ``n_critic`` discriminator phases, then one generator phase, then
the generator's EMA (stylegan2-ada's phase split).

Each phase is zero_grad → for each micro-batch (``--accumulate``): forward passes and loss
→ backward (through a GradScaler for fp16) → gradient all-reduce across processes →
optional clipping → optimiser step. ``*_forward`` is what ``--compile`` compiles;
``*_update`` is what ``--cuda-graphs`` captures. Nothing here reads a tensor on the host:
the losses go to the run's :class:`~gankit.engine.losslog.LossLog` on the device.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ..conditions import split_condition
from ..fastpath import PhaseGraph, channels_last_batch, compile_function
from ..models import as_output
from ..penalties import compute_penalty
from .losses import adversarial_loss, feature_matching_loss

if TYPE_CHECKING:  # pragma: no cover
    from .session import Session


class TrainingStep:
    """The phases of one run, built once; calling it runs one step."""

    def __init__(self, session: "Session"):
        self.s = session
        cfg, effective = session.cfg, session.config.effective
        self.conditional = session.generator.conditional
        self.penalty = effective["penalty"]
        self.penalty_scale = effective["penalty_weight"] * cfg.penalty_every  # lazy regularisation
        self.feature_matching = float(effective["feature_matching"])
        self.g_terms = ["g_loss"] + (["fm_loss"] if self.feature_matching else []) + \
            [f"aux/{term.name}" for term in session.aux_terms]
        # The G phase freezes exactly what D trains: parameters a plugin froze stay frozen.
        self.trainable_d = [p for p in session.discriminator.parameters() if p.requires_grad]
        self.weight_clip = float(cfg.weight_clip)
        self.autocast_cache = not session.fast_path.cuda_graphs
        self.no_penalty = torch.zeros((), device=session.device)
        self.skipped_updates = torch.zeros((), device=session.device)  # --on-nan skip, since the last log
        self.d_forward, self.g_forward = self._d_forward, self._g_forward
        if session.fast_path.compile:
            self.d_forward, self.g_forward = compile_function(self._d_forward), compile_function(self._g_forward)
        self.d_runners: dict[bool, Any] = {flag: functools.partial(self.d_update, with_penalty=flag)
                                           for flag in (False, True)}
        self.g_runner: Any = self.g_update
        self.graphs: list[PhaseGraph] = []
        if session.fast_path.cuda_graphs:
            self.d_runners = {flag: PhaseGraph(run, session.device, [session.noise])
                              for flag, run in self.d_runners.items()}
            self.g_runner = PhaseGraph(self.g_update, session.device, [session.noise])
            self.graphs = [*self.d_runners.values(), self.g_runner]

    def __call__(self, step: int) -> None:
        s = self.s
        for _ in range(s.cfg.n_critic):
            real, real_cond = self.next_batch()
            z, fake_cond = self.fake_inputs(real, real_cond)
            with_penalty = self.penalty != "none" and s.d_steps % s.cfg.penalty_every == 0
            d_loss, penalty = self.d_runners[with_penalty](real, real_cond, z, fake_cond)
            s.d_steps += 1
            s.losses.add("d_loss", d_loss)
            if with_penalty:
                s.losses.add("penalty", penalty)
        z, fake_cond = self.fake_inputs(real, real_cond)
        for name, value in zip(self.g_terms, self.g_runner(real, real_cond, z, fake_cond)):
            s.losses.add(name, value)
        if s.generator_ema is not None:
            update_ema(s.generator_ema, s.generator, min(s.cfg.ema_decay, (1 + step) / (10 + step)))

    def next_batch(self) -> tuple[torch.Tensor, Any]:
        s = self.s
        real, cond = s.stream.next()
        real = s.prepare_real(real, s.info)
        if s.fast_path.channels_last:
            real = channels_last_batch(real)
        return real, (cond if self.conditional else None)

    def fake_inputs(self, real: torch.Tensor, real_cond: Any) -> tuple[torch.Tensor | None, Any]:
        s = self.s
        z = s.generator.sample_latent(real.shape[0], device=s.device, generator=s.noise)
        fake_cond = s.generator.sample_condition(real_cond, generator=s.noise) if self.conditional else None
        return z, fake_cond

    # Forward passes and losses -------------------------------------------------------------

    def _d_forward(self, real: torch.Tensor, real_cond: Any, z: torch.Tensor | None,
                   fake_cond: Any) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.s
        with s.precision.autocast(s.device, cache=self.autocast_cache):
            with torch.no_grad():
                fake = s.generator(z, fake_cond)
            real_out = as_output(s.discriminator(real, real_cond))
            fake_out = as_output(s.discriminator(fake, fake_cond))
            loss = adversarial_loss(s.objective.d_loss, real_out, fake_out)
        return loss, fake

    def _g_forward(self, real: torch.Tensor, real_cond: Any, z: torch.Tensor | None,
                   fake_cond: Any) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        s = self.s
        with s.precision.autocast(s.device, cache=self.autocast_cache):
            fake = s.generator(z, fake_cond)
            fake_out = as_output(s.discriminator(fake, fake_cond))
            real_out = None
            if s.objective.g_uses_real or self.feature_matching:
                with torch.no_grad():
                    real_out = as_output(s.discriminator(real, real_cond))
            loss = adversarial_loss(s.objective.g_loss, real_out if s.objective.g_uses_real else None, fake_out)
            terms = [loss]
            if self.feature_matching:
                assert real_out is not None
                matching = feature_matching_loss(real_out, fake_out)
                loss = loss + self.feature_matching * matching
                terms.append(matching)
            for term in s.aux_terms:
                value = term.function(real, fake, fake_cond)
                loss = loss + term.weight * value
                terms.append(value)
        return loss, tuple(terms)

    # Updates --------------------------------------------------------------------------------

    def d_update(self, real: torch.Tensor, real_cond: Any, z: torch.Tensor | None, fake_cond: Any,
                 with_penalty: bool) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.s
        s.opt_d.zero_grad(set_to_none=True)
        losses, penalties, totals = [], [], []
        for real_part, real_cond_part, z_part, fake_cond_part in self.micro_batches(real, real_cond, z, fake_cond):
            loss, fake = self.d_forward(real_part, real_cond_part, z_part, fake_cond_part)
            penalty = self.no_penalty
            if with_penalty:  # eager even with --compile: the double backward does not compile
                penalty = compute_penalty(self.penalty, s.discriminator, real_part, fake, real_cond_part,
                                          generator=s.noise)
            total = loss + penalty * self.penalty_scale if with_penalty else loss
            self.backward(total, s.scaler_d)
            losses.append(loss.detach())
            penalties.append(penalty.detach())
            totals.append(total.detach())
        self.apply(_mean(totals), s.opt_d, s.scaler_d, s.discriminator)
        if self.weight_clip:
            clip_weights(self.trainable_d, self.weight_clip)
        return _mean(losses), _mean(penalties)

    def g_update(self, real: torch.Tensor, real_cond: Any, z: torch.Tensor | None,
                 fake_cond: Any) -> tuple[torch.Tensor, ...]:
        s = self.s
        s.opt_g.zero_grad(set_to_none=True)
        parts, totals = [], []
        for real_part, real_cond_part, z_part, fake_cond_part in self.micro_batches(real, real_cond, z, fake_cond):
            for parameter in self.trainable_d:
                parameter.requires_grad_(False)
            try:
                total, terms = self.g_forward(real_part, real_cond_part, z_part, fake_cond_part)
            finally:
                for parameter in self.trainable_d:
                    parameter.requires_grad_(True)
            self.backward(total, s.scaler_g)
            parts.append([term.detach() for term in terms])
            totals.append(total.detach())
        self.apply(_mean(totals), s.opt_g, s.scaler_g, s.generator)
        return tuple(_mean(list(values)) for values in zip(*parts))

    def micro_batches(self, real: torch.Tensor, real_cond: Any, z: torch.Tensor | None,
                      fake_cond: Any) -> list[tuple[Any, Any, Any, Any]]:
        """The batch cut into ``--accumulate`` equal parts (the batch itself for 1)."""
        n = self.s.cfg.accumulate
        if n == 1:
            return [(real, real_cond, z, fake_cond)]
        zs = z.chunk(n) if z is not None else [None] * n
        return list(zip(real.chunk(n), split_condition(real_cond, n), zs, split_condition(fake_cond, n)))

    def backward(self, loss: torch.Tensor, scaler: torch.amp.GradScaler) -> None:
        n = self.s.cfg.accumulate
        scaler.scale(loss / n if n > 1 else loss).backward()

    def apply(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
              module: nn.Module) -> None:
        """All-reduce, clip and step once the micro-batches' gradients are summed."""
        s = self.s
        s.world.all_reduce_gradients(module)
        if s.cfg.grad_clip > 0:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(module.parameters(), s.cfg.grad_clip)
        if s.cfg.on_nan != "skip":
            scaler.step(optimizer)
        else:
            # Skipped on the device: fused Adam leaves weights and moments alone where
            # found_inf is 1 (GradScaler's mechanism, with a non-finite loss as the flag).
            bad = (~torch.isfinite(loss)).float()
            if s.world.active:  # every process skips together
                bad = (s.world.mean(bad) > 0).float()
            self.skipped_updates.add_(bad)  # in place: a captured graph updates this very tensor
            if scaler.is_enabled():  # fp16: the scaler's own found_inf (non-finite gradients) covers it
                scaler.step(optimizer)
            else:
                optimizer.found_inf = bad  # type: ignore[attr-defined]
                try:
                    optimizer.step()
                finally:
                    del optimizer.found_inf  # type: ignore[attr-defined]
        scaler.update()

    def reset_graphs(self) -> None:
        """The optimisers' state tensors were replaced (resume, rollback): capture again."""
        for graph in self.graphs:
            graph.reset()


def _mean(values: list[torch.Tensor]) -> torch.Tensor:
    return values[0] if len(values) == 1 else torch.stack(values).mean()


@torch.no_grad()
def clip_weights(parameters: list[nn.Parameter], bound: float) -> None:
    """WGAN's weight clipping: every weight into ``[-bound, bound]``, in place."""
    if parameters:
        torch._foreach_clamp_min_(parameters, -bound)
        torch._foreach_clamp_max_(parameters, bound)


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    ema_params = list(ema.parameters())
    torch._foreach_lerp_(ema_params, [p.detach() for p in model.parameters()], 1.0 - decay)
    for ema_buffer, buffer in zip(ema.buffers(), model.buffers()):
        ema_buffer.copy_(buffer)
