"""Finds plugins, collects what they register, and reports the ones that fail.

Built-in plugins always load; third-party plugins come from the ``gankit`` entry-point
group and are filtered by ``GANKIT_LOAD_PLUGINS`` (comma-separated names; empty: none; a
name no entry point has is warned about on stderr).
A plugin that fails to import or register, or registers a name already taken, is recorded
in :attr:`Registry.failures` and skipped; the others keep working.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import pluggy

from . import hookspecs
from .callback_specs import CallbackSpec
from .errors import GankitError
from .specs import DatasetSpec, DomainSpec, MetricSpec, ModelSpec, ObjectiveSpec

BUILTIN_PLUGINS = (
    "gankit.plugins.objectives",
    "gankit.plugins.image",
    "gankit.plugins.audio",
    "gankit.plugins.text",
    "gankit.plugins.tabular",
    "gankit.tensorboard",
)

ENTRY_POINT_GROUP = "gankit"

KINDS = ("domains", "models", "datasets", "objectives", "metrics", "callbacks")


@dataclass
class PluginInfo:
    """One loaded (or failed) plugin, as ``gankit plugins`` shows it."""

    name: str
    version: str | None
    builtin: bool
    registered: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Failure:
    plugin: str
    error: str


def get_plugin_manager(load_entry_points: bool = True) -> tuple[pluggy.PluginManager, list[PluginInfo]]:
    """Build a fresh plugin manager with the built-in plugins and, unless disabled, the
    third-party entry points allowed by ``GANKIT_LOAD_PLUGINS``. Returns the manager and a
    record per plugin (failures to import included)."""
    pm = pluggy.PluginManager("gankit")
    pm.add_hookspecs(hookspecs)
    infos: list[PluginInfo] = []
    version = _gankit_version()
    for module_name in BUILTIN_PLUGINS:
        info = PluginInfo(module_name, version, builtin=True)
        infos.append(info)
        try:
            pm.register(importlib.import_module(module_name), name=module_name)
        except Exception as exc:  # reported by `gankit plugins`; the other plugins still work
            info.error = f"failed to load: {type(exc).__name__}: {exc}"

    if load_entry_points:
        allowed = _allowed_plugins()
        entry_points = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
        if allowed:
            _warn_unknown(allowed, {entry_point.name for entry_point in entry_points})
        for entry_point in entry_points:
            if allowed is not None and entry_point.name not in allowed:
                continue
            dist = getattr(entry_point, "dist", None)
            info = PluginInfo(entry_point.name, dist.version if dist else None, builtin=False)
            infos.append(info)
            try:
                pm.register(entry_point.load(), name=entry_point.name)
            except Exception as exc:  # a broken plugin must not take the others down
                info.error = f"failed to load: {type(exc).__name__}: {exc}"
    return pm, infos


def _allowed_plugins() -> set[str] | None:
    value = os.environ.get("GANKIT_LOAD_PLUGINS")
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


_warned_unknown: set[frozenset[str]] = set()


def _warn_unknown(allowed: set[str], available: set[str]) -> None:
    """One line on stderr when ``GANKIT_LOAD_PLUGINS`` names a plugin no entry point has: a
    typo there would otherwise silently leave the plugin out. Once per process and value."""
    unknown = frozenset(allowed - available)
    if not unknown or unknown in _warned_unknown:
        return
    _warned_unknown.add(unknown)
    installed = ", ".join(sorted(available)) or "(none installed)"
    print(f"warning: GANKIT_LOAD_PLUGINS names unknown plugin {', '.join(sorted(unknown))} (no entry point in "
          f"the {ENTRY_POINT_GROUP!r} group); installed third-party plugins: {installed}", file=sys.stderr)


def _gankit_version() -> str:
    from . import __version__

    return __version__


class Registry:
    """Everything the loaded plugins registered, by kind and name.

    Models and datasets are keyed by ``(domain, name)``; domains, objectives by name;
    metrics by ``(domain, name)``; callbacks (listeners on training events) by name.
    """

    def __init__(self, pm: pluggy.PluginManager, plugins: list[PluginInfo]):
        self.pm = pm
        self.plugins = plugins
        self.domains: dict[str, DomainSpec] = {}
        self.models: dict[tuple[str, str], ModelSpec] = {}
        self.datasets: dict[tuple[str, str], DatasetSpec] = {}
        self.objectives: dict[str, ObjectiveSpec] = {}
        self.metrics: dict[tuple[str, str], MetricSpec] = {}
        self.callbacks: dict[str, CallbackSpec] = {}
        self.owner: dict[tuple[str, Any], str] = {}
        self._collect()

    def _collect(self) -> None:
        infos = {info.name: info for info in self.plugins}
        for plugin_name, _plugin in self.pm.list_name_plugin():
            if plugin_name not in infos:  # registered at run time (tests, notebooks)
                infos[plugin_name] = PluginInfo(plugin_name, None, builtin=False)
                self.plugins.append(infos[plugin_name])
        order = [
            ("domains", self.pm.hook.register_domains, DomainSpec, self.domains),
            ("models", self.pm.hook.register_models, ModelSpec, self.models),
            ("datasets", self.pm.hook.register_datasets, DatasetSpec, self.datasets),
            ("objectives", self.pm.hook.register_objectives, ObjectiveSpec, self.objectives),
            ("metrics", self.pm.hook.register_metrics, MetricSpec, self.metrics),
            ("callbacks", self.pm.hook.register_callbacks, CallbackSpec, self.callbacks),
        ]
        for kind, hook, spec_type, table in order:
            # In registration order: built-ins first, so a clash is blamed on the newcomer.
            for impl in hook.get_hookimpls():
                info = infos[impl.plugin_name]
                if info.error:
                    continue
                staged: list[tuple[Any, Any]] = []
                try:
                    impl.function(register=self._stager(kind, spec_type, staged, impl.plugin_name))
                    for key, _spec in staged:
                        self._check_free(kind, key, impl.plugin_name)
                except Exception as exc:  # a broken plugin must not take the others down
                    detail = str(exc) if isinstance(exc, GankitError) else f"{type(exc).__name__}: {exc}"
                    info.error = f"{hook.name} failed: {detail}"
                    self._unregister(impl.plugin_name)
                    continue
                for key, spec in staged:
                    table[key] = spec
                    self.owner[(kind, key)] = impl.plugin_name
                    info.registered.setdefault(kind, []).append(_display(key))

    def _stager(self, kind: str, spec_type: type, staged: list, plugin_name: str) -> Callable[[Any], None]:
        def register(spec: Any) -> None:
            if not isinstance(spec, spec_type):
                raise GankitError(f"register() for {kind} expects a {spec_type.__name__}, got {type(spec).__name__}")
            key = _key(kind, spec)
            if kind in ("models", "datasets", "metrics") and spec.domain not in self.domains:
                raise GankitError(
                    f"{kind[:-1]} {spec.name!r} is for domain {spec.domain!r}, which no plugin registered"
                )
            if any(existing == key for existing, _ in staged):
                raise GankitError(f"{kind[:-1]} {_display(key)!r} registered twice by {plugin_name}")
            staged.append((key, spec))

        return register

    def _check_free(self, kind: str, key: Any, plugin_name: str) -> None:
        owner = self.owner.get((kind, key))
        if owner is not None:
            raise GankitError(
                f"{kind[:-1]} {_display(key)!r} is already registered by {owner}; {plugin_name} cannot register it again"
            )

    def _unregister(self, plugin_name: str) -> None:
        """Drop everything a failed plugin registered earlier, so a half-registered plugin
        never lingers."""
        for (kind, key), owner in list(self.owner.items()):
            if owner == plugin_name:
                getattr(self, kind).pop(key, None)
                del self.owner[(kind, key)]
        for info in self.plugins:
            if info.name == plugin_name:
                info.registered.clear()

    # Lookups with errors that list what is valid -------------------------------------

    def domain(self, name: str) -> DomainSpec:
        if name not in self.domains:
            raise GankitError(f"unknown domain {name!r}; choose one of: {_choices(self.domains)}")
        return self.domains[name]

    def model(self, domain: str, name: str) -> ModelSpec:
        self.domain(domain)
        if (domain, name) not in self.models:
            raise GankitError(
                f"unknown model {name!r} for domain {domain!r}; choose one of: {_choices(self.models_for(domain))}"
            )
        return self.models[(domain, name)]

    def dataset(self, domain: str, name: str) -> DatasetSpec:
        self.domain(domain)
        if (domain, name) not in self.datasets:
            raise GankitError(
                f"unknown dataset {name!r} for domain {domain!r}; choose one of: {_choices(self.datasets_for(domain))}"
            )
        return self.datasets[(domain, name)]

    def objective(self, name: str) -> ObjectiveSpec:
        if name not in self.objectives:
            raise GankitError(f"unknown objective {name!r}; choose one of: {_choices(self.objectives)}")
        return self.objectives[name]

    def callback(self, name: str) -> CallbackSpec:
        if name not in self.callbacks:
            raise GankitError(f"unknown callback {name!r}; choose one of: {_choices(self.callbacks)} "
                              f"(a plugin adds more through the register_callbacks hook)")
        return self.callbacks[name]

    def models_for(self, domain: str) -> dict[str, ModelSpec]:
        return {name: spec for (d, name), spec in sorted(self.models.items()) if d == domain}

    def datasets_for(self, domain: str) -> dict[str, DatasetSpec]:
        return {name: spec for (d, name), spec in sorted(self.datasets.items()) if d == domain}

    def metrics_for(self, domain: str) -> dict[str, MetricSpec]:
        """In registration order: the first with a ``primary`` is the domain's primary metric."""
        return {name: spec for (d, name), spec in self.metrics.items() if d == domain}

    def failures(self) -> list[Failure]:
        return [Failure(info.name, info.error) for info in self.plugins if info.error]

    def owner_of(self, kind: str, key: Any) -> str:
        return self.owner.get((kind, key), "?")


def _key(kind: str, spec: Any) -> Any:
    if kind in ("models", "datasets", "metrics"):
        return (spec.domain, spec.name)
    return spec.name


def _display(key: Any) -> str:
    return "/".join(key) if isinstance(key, tuple) else str(key)


def _choices(names: Iterable[str]) -> str:
    names = sorted(names)
    return ", ".join(names) if names else "(none installed)"


def build_registry(load_entry_points: bool = True) -> Registry:
    """A fresh registry from a fresh plugin manager."""
    pm, infos = get_plugin_manager(load_entry_points=load_entry_points)
    return Registry(pm, infos)


_manager: tuple[pluggy.PluginManager, list[PluginInfo]] | None = None
_registry: tuple[tuple[tuple[str, int], ...], Registry] | None = None


def plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager. Register a plugin at run time with
    ``plugin_manager().register(obj, name="...")`` and remove it with
    ``plugin_manager().unregister(name="...")``; :func:`get_registry` notices both."""
    global _manager
    if _manager is None:
        _manager = get_plugin_manager()
    return _manager[0]


def get_registry() -> Registry:
    """The registry of the process-wide plugin manager, rebuilt when its plugins change."""
    global _registry
    pm = plugin_manager()
    assert _manager is not None
    key = tuple((name, id(plugin)) for name, plugin in pm.list_name_plugin())
    if _registry is None or _registry[0] != key:
        infos = [PluginInfo(i.name, i.version, i.builtin, error=i.error) for i in _manager[1]]
        _registry = (key, Registry(pm, infos))
    return _registry[1]
