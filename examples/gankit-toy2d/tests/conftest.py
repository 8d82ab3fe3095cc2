"""Test the plugin the way users get it: through its installed entry point, with every
other third-party plugin filtered out (GANKIT_LOAD_PLUGINS must be set before gankit
builds its registry)."""

from __future__ import annotations

import os
import tempfile

os.environ["GANKIT_LOAD_PLUGINS"] = "toy2d"
os.environ["GANKIT_CACHE"] = tempfile.mkdtemp(prefix="gankit-toy2d-test-cache-")  # not the user's cache

import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    import torch

    torch.set_num_threads(1)
