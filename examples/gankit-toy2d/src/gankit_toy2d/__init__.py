"""gankit-toy2d: a third-party gankit plugin adding the ``toy2d`` domain.

2-D Gaussian mixtures (``ring8``, ``grid25``), a small MLP GAN (``mlp``), a scatter-plot
sample writer, mode metrics (``modes``, ``quality``) and a ``gankit toy2d-plot`` command.

This module is what the ``gankit`` entry point names, so gankit imports it whenever it
starts (``gankit --help`` too): it imports no torch, numpy or Pillow. The specs name their
factories with ``gankit.specs.lazy``, which imports the module on the first call.
"""

from __future__ import annotations

from typing import Any, Callable

from gankit.hookspecs import hookimpl
from gankit.specs import DatasetSpec, DomainSpec, MetricSpec, ModelSpec, Preset, lazy

from .options import GridOptions, MLPOptions, RingOptions

__version__ = "0.1.0"

# Measured in gankit's benchmarks/quality_toy2d.md: with a light R1 penalty (gamma 1) and a
# generator EMA, the non-saturating loss covered all 8 ring modes in 3000 steps of batch 256
# for each of 3 seeds (about 20 s each on one CPU thread); without R1 it covered 1 to 6.
MLP_DEFAULTS = {
    "objective": "non-saturating",
    "penalty": "r1",
    "penalty_weight": 1.0,
    "batch_size": 256,
    "lr_g": 1e-3,
    "lr_d": 1e-3,
    "betas_g": (0.5, 0.999),
    "betas_d": (0.5, 0.999),
    "ema_decay": 0.999,
    "steps": 3000,
    "sample_every": 500,
    "num_preview": 1000,  # a scatter plot needs more than 64 points
    "log_every": 100,
}


@hookimpl
def register_domains(register: Callable[[DomainSpec], None]) -> None:
    register(DomainSpec(
        name="toy2d",
        description="2-D points from Gaussian mixtures (the mode-collapse test); samples as a scatter plot",
        default_model="mlp",
        default_dataset="ring8",
        write_samples=lazy("gankit_toy2d.plot:write_samples"),
        write_preview=lazy("gankit_toy2d.plot:write_preview"),
        to_numpy=lazy("gankit_toy2d.plot:to_numpy"),
    ))


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
    register(ModelSpec(
        name="mlp",
        domain="toy2d",
        description="small fully connected G (ReLU) and D (LeakyReLU), optionally conditioned on the mode",
        build=lazy("gankit_toy2d.model:build"),
        options=MLPOptions,
        defaults=MLP_DEFAULTS,
        presets={"quick": Preset("a smoke test: 200 steps of a narrower net", {"steps": 200, "hidden": 32})},
    ))


@hookimpl
def register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    register(DatasetSpec(name="ring8", domain="toy2d", description="8 Gaussians on a circle (radius 2, std 0.02)",
                         build=lazy("gankit_toy2d.data:build_ring"), options=RingOptions))
    register(DatasetSpec(name="grid25", domain="toy2d", description="25 Gaussians on a 5×5 grid (spacing 2, std 0.05)",
                         build=lazy("gankit_toy2d.data:build_grid"), options=GridOptions))


@hookimpl
def register_metrics(register: Callable[[MetricSpec], None]) -> None:
    # The first metric with a primary value is what --eval-every tracks (best.pt).
    register(MetricSpec(name="modes", domain="toy2d", description="modes covered by >= 1/4 of their share within 3 std; "
                        "KL of the mode histogram", compute=lazy("gankit_toy2d.metrics:modes_metric"),
                        primary="covered", higher_is_better=True))
    register(MetricSpec(name="quality", domain="toy2d", description="fraction of samples within 3 std of a mode",
                        compute=lazy("gankit_toy2d.metrics:quality_metric"), primary="high_quality",
                        higher_is_better=True))


@hookimpl
def register_commands(cli: Any) -> None:
    import click

    @cli.command("toy2d-plot")
    @click.argument("run", metavar="RUN_OR_CHECKPOINT")
    @click.option("-n", "n", default=2000, show_default=True, help="samples to draw")
    @click.option("--out", default=None, metavar="PNG", help="where to write the plot [default: RUN/toy2d-plot.png]")
    @click.option("--seed", default=0, show_default=True, help="latent seed")
    def toy2d_plot(run: str, n: int, out: str | None, seed: int) -> None:
        """Scatter-plot samples of a toy2d run with the real modes marked, and print the
        mode metrics."""
        import json
        from pathlib import Path

        import gankit

        from .metrics import mode_stats
        from .plot import scatter

        loaded = gankit.load(run)
        if loaded.config.train.domain != "toy2d":
            raise gankit.GankitError(f"{run} is a {loaded.config.train.domain!r} run, not a toy2d one")
        points = loaded.sample(n, seed=seed).numpy()
        target = scatter(points, Path(out) if out else loaded.dir / "toy2d-plot.png", loaded.info)
        stats = mode_stats(points, loaded.info.extra["modes"], loaded.info.extra["std"])
        click.echo(json.dumps({"plot": str(target), "step": loaded.step, **stats}))
