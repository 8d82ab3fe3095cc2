"""Shared fixtures. Third-party plugins installed in the environment never leak into the
tests (GANKIT_LOAD_PLUGINS is empty unless a test sets it), and no test downloads anything
(GANKIT_OFFLINE=1)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ["GANKIT_LOAD_PLUGINS"] = ""
os.environ["GANKIT_OFFLINE"] = "1"  # tests never touch the network; downloader tests serve 127.0.0.1 and lift it
os.environ["GANKIT_CACHE"] = tempfile.mkdtemp(prefix="gankit-test-cache-")  # nor the user's cache

import pytest  # noqa: E402

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    import torch

    torch.set_num_threads(1)


@pytest.fixture
def gauss_plugin():
    """The 2-D Gaussian test plugin, registered for one test and removed afterwards."""
    import gauss_plugin as plugin

    from gankit.registry import plugin_manager

    pm = plugin_manager()
    pm.register(plugin, name="gauss-test-plugin")
    try:
        yield plugin
    finally:
        pm.unregister(name="gauss-test-plugin")


@pytest.fixture
def paired_plugin():
    """The paired, tensor-conditioned test plugin (Engine 2's contract), for one test."""
    import paired_plugin as plugin

    from gankit.registry import plugin_manager

    pm = plugin_manager()
    pm.register(plugin, name="paired-test-plugin")
    try:
        yield plugin
    finally:
        pm.unregister(name="paired-test-plugin")
