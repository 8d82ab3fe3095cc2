"""The hooks a gankit plugin can implement. Every hook takes a ``register`` callback.

Built-in plugins (``gankit.plugins.*`` and ``gankit.tensorboard``) implement exactly these
hooks, no more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    import click

    from .callback_specs import CallbackSpec
    from .specs import DatasetSpec, DomainSpec, MetricSpec, ModelSpec, ObjectiveSpec

hookspec = pluggy.HookspecMarker("gankit")
hookimpl = pluggy.HookimplMarker("gankit")


@hookspec
def register_domains(register: Callable[["DomainSpec"], None]) -> None:
    """Called once when the registry is built. Call ``register(DomainSpec(...))`` for each
    domain (kind of data) the plugin adds."""


@hookspec
def register_models(register: Callable[["ModelSpec"], None]) -> None:
    """Called once when the registry is built, after domains. Call
    ``register(ModelSpec(...))`` for each generator/discriminator pair; a model may belong
    to a domain another plugin owns."""


@hookspec
def register_datasets(register: Callable[["DatasetSpec"], None]) -> None:
    """Called once when the registry is built, after domains. Call
    ``register(DatasetSpec(...))`` for each dataset; a dataset may belong to a domain
    another plugin owns."""


@hookspec
def register_objectives(register: Callable[["ObjectiveSpec"], None]) -> None:
    """Called once when the registry is built. Call ``register(ObjectiveSpec(...))`` for
    each adversarial objective (the pair of discriminator and generator losses)."""


@hookspec
def register_metrics(register: Callable[["MetricSpec"], None]) -> None:
    """Called once when the registry is built. Call ``register(MetricSpec(...))`` for each
    sample-quality metric of a domain."""


@hookspec
def register_commands(cli: "click.Group") -> None:
    """Called when the CLI is built. Add commands with ``@cli.command()`` or
    ``cli.add_command(...)``."""


@hookspec
def register_callbacks(register: Callable[["CallbackSpec"], None]) -> None:
    """Called once when the registry is built. Call ``register(CallbackSpec(...))`` for each
    listener on training events (a logger, an experiment tracker) the plugin offers; a run
    turns it on by name with ``--callbacks NAME``."""
