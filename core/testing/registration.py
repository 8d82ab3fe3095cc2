"""Registration: loading a plugin module imports nothing heavy and registers cleanly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Sequence

from .base import HEAVY_MODULES, _require

_LIGHT_PROBE = """
import importlib, json, sys
heavy = {heavy!r}
before = {{m for m in heavy if m in sys.modules}}
from gankit.registry import Registry, get_plugin_manager
pm, infos = get_plugin_manager(load_entry_points=False)
module = importlib.import_module({module!r})
if not pm.is_registered(module):
    pm.register(module, name={module!r})
registry = Registry(pm, infos)
from gankit.cli import cli
for impl in pm.hook.register_commands.get_hookimpls():
    if impl.plugin is module:
        impl.function(cli=cli)
print(json.dumps({{"heavy": sorted({{m for m in heavy if m in sys.modules}} - before),
                  "failures": [[f.plugin, f.error] for f in registry.failures()]}}))
"""


def check_registration_is_light(module: str, *, heavy: Sequence[str] = HEAVY_MODULES) -> None:
    """Import the plugin ``module`` in a fresh interpreter, register it beside the built-in
    plugins and let it add its commands; none of ``heavy`` may be imported on the way
    (``gankit --help`` loads every plugin), and registering must not fail."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    probe = _LIGHT_PROBE.format(heavy=tuple(heavy), module=module)
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    _require(result.returncode == 0, f"importing and registering plugin module {module!r} failed:\n{result.stderr[-2000:]}")
    found = json.loads(result.stdout.strip().splitlines()[-1])
    _require(not found["failures"], f"registering plugin module {module!r} failed: {found['failures']}")
    _require(not found["heavy"],
             f"loading plugin module {module!r} imports {', '.join(found['heavy'])}; every gankit command loads "
             f"every plugin, so import heavy modules inside your factories (or name them with gankit.specs.lazy)")
