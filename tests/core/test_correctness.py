"""Issue 16's engine defects, each pinned by a test that failed before its fix
(benchmarks/correctness.md lists them all).

#9: ``wasserstein`` without a penalty trained an unconstrained critic. Weight clipping is an
explicit option (``--weight-clip``, the WGAN paper's 0.01, with RMSprop as an optimiser
choice), and a Lipschitz objective with neither a penalty nor clipping is refused.
"""

from __future__ import annotations

import json

import pytest
import torch

import gankit
from gankit.checkpoint import load_checkpoint
from gankit.config import config_from_dict, resolve_config
from gankit.engine.optim import build_optimizer
from gankit.errors import GankitError
from gankit.registry import build_registry

MEAN = torch.tensor([2.0, -1.0])


@pytest.fixture(scope="module")
def registry():
    return build_registry(load_entry_points=False)


def test_an_unconstrained_wasserstein_critic_is_refused(registry):
    # mlp's defaults include R1: penalty auto asks for what the objective implies (none)
    for options in ({"objective": "wasserstein", "penalty": "auto"}, {"objective": "wasserstein", "penalty": "none"},
                    {"objective": "wgan-gp", "penalty": "none"}):
        with pytest.raises(GankitError) as caught:
            resolve_config(registry, {"domain": "image", **options})
        message = str(caught.value)
        assert "Lipschitz" in message and "--weight-clip 0.01" in message and "--penalty gp" in message
        assert "\n" not in message
    for constrained in ({"penalty": "gp"}, {"penalty": "r1"}, {"weight_clip": 0.01}):
        resolved = resolve_config(registry, {"domain": "image", "objective": "wasserstein", **constrained})
        assert resolved.effective["weight_clip"] == constrained.get("weight_clip", 0.0)


def test_a_stored_unconstrained_run_still_loads(registry):
    """A run trained before the refusal existed can still be sampled, evaluated and resumed."""
    stored = resolve_config(registry, {"domain": "image", "objective": "wasserstein", "penalty": "none",
                                       "weight_clip": 0.01}).to_dict()
    del stored["weight_clip"]  # what an older gankit wrote
    assert config_from_dict(registry, stored).effective["penalty"] == "none"


def test_weight_clip_is_validated(registry):
    with pytest.raises(GankitError, match="'weight_clip' must be 0 \\(off\\) or positive"):
        resolve_config(registry, {"domain": "image", "weight_clip": -0.01})


def test_weight_clipping_holds_after_every_discriminator_update(gauss_plugin, tmp_path):
    run = gankit.train("gauss", objective="wasserstein", weight_clip=0.01, n_critic=2, steps=3, lr_d=0.1,
                       optimizer_d="rmsprop", seed=0, out=str(tmp_path / "run"), quiet=True)
    state = load_checkpoint(run.dir / "checkpoints" / "last.pt")
    weights = state["discriminator"]
    assert max(float(w.abs().max()) for w in weights.values()) == pytest.approx(0.01)  # lr 0.1 pushed them to the bound
    assert max(float(w.abs().max()) for w in state["generator"].values()) > 0.01  # G is never clipped
    assert json.loads((run.dir / "config.json").read_text())["effective"]["weight_clip"] == 0.01


def test_rmsprop_is_torchs_rmsprop_with_the_configured_rate(registry):
    resolved = resolve_config(registry, {"domain": "image", "optimizer_d": "rmsprop", "lr_d": 5e-5,
                                         "objective": "wasserstein", "weight_clip": 0.01})
    settings = resolved.effective["optimizers"]["d"]
    assert settings["type"] == "rmsprop" and settings["lr"] == 5e-5
    weights = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    optimizer = build_optimizer([weights], settings)
    assert isinstance(optimizer, torch.optim.RMSprop) and optimizer.defaults["alpha"] == 0.99
    reference = torch.nn.Parameter(weights.detach().clone())
    expected = torch.optim.RMSprop([reference], lr=5e-5)
    for opt, p in ((optimizer, weights), (expected, reference)):
        p.grad = torch.tensor([0.5, -3.0])
        opt.step()
    assert torch.equal(weights, reference)


def test_rmsprop_cannot_skip_updates_on_the_device(registry):
    with pytest.raises(GankitError, match="--on-nan skip needs adam or adamw"):
        resolve_config(registry, {"domain": "image", "optimizer_d": "rmsprop", "on_nan": "skip"})


def test_wgan_with_weight_clipping_learns_a_gaussian(gauss_plugin, tmp_path):
    """The WGAN paper's recipe (clipped critic, RMSprop, five critic updates) moves the
    samples' mean onto the data's."""
    options = dict(objective="wasserstein", weight_clip=0.05, optimizer_g="rmsprop", optimizer_d="rmsprop",
                   lr_g=2e-3, lr_d=2e-3, n_critic=5, seed=1, quiet=True, log_every=100)
    before = gankit.train("gauss", steps=1, out=str(tmp_path / "untrained"), **options).sample(2000)
    after = gankit.train("gauss", steps=400, out=str(tmp_path / "run"), **options).sample(2000)
    assert (before.mean(0) - MEAN).abs().max() > 1.0
    assert (after.mean(0) - MEAN).abs().max() < 0.3, after.mean(0).tolist()
