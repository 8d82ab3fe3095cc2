"""gankit-extras: a plugin that adds to what others own, without touching gankit's code.

- ``resmlp``, a model for the built-in ``image`` domain: a residual MLP generator and
  discriminator (optionally class-conditional, with a projection discriminator).
- ``rasgan`` and ``ralsgan``, relativistic *average* objectives (Jolicoeur-Martineau 2018),
  usable with any domain's models.

Like every plugin module, this one stays light: the factories and losses are named with
``gankit.specs.lazy`` and imported (with torch) on first use.
"""

from __future__ import annotations

from typing import Callable

from gankit.hookspecs import hookimpl
from gankit.specs import ModelSpec, ObjectiveSpec, Preset, lazy

from .options import ResMLPOptions

__version__ = "0.1.0"


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
    # The domain is the built-in image plugin's; this plugin only adds a model to it.
    register(ModelSpec(
        name="resmlp",
        domain="image",
        description="residual MLP: pre-activation blocks in G (LayerNorm) and D (no normalisation); optional "
                    "class conditioning with a projection discriminator",
        build=lazy("gankit_extras.resmlp:build"),
        options=ResMLPOptions,
        defaults={"objective": "rasgan", "lr_g": 2e-4, "lr_d": 2e-4, "betas_g": (0.5, 0.999),
                  "betas_d": (0.5, 0.999), "batch_size": 128, "ema_decay": 0.999},
        presets={"small": Preset("a narrow, shallow net for quick tries", {"width": 128, "blocks": 1})},
    ))


@hookimpl
def register_objectives(register: Callable[[ObjectiveSpec], None]) -> None:
    register(ObjectiveSpec(
        name="rasgan",
        description="relativistic average standard GAN (Jolicoeur-Martineau 2018): each side compared with the "
                    "other side's mean logit",
        d_loss=lazy("gankit_extras.losses:rasgan_d_loss"),
        g_loss=lazy("gankit_extras.losses:rasgan_g_loss"),
        g_uses_real=True,
    ))
    register(ObjectiveSpec(
        name="ralsgan",
        description="relativistic average least-squares GAN (Jolicoeur-Martineau 2018)",
        d_loss=lazy("gankit_extras.losses:ralsgan_d_loss"),
        g_loss=lazy("gankit_extras.losses:ralsgan_g_loss"),
        g_uses_real=True,
    ))
