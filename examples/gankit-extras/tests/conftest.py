"""Only this plugin's entry point loads (with the built-ins): GANKIT_LOAD_PLUGINS is set
before gankit builds its registry."""

from __future__ import annotations

import os
import tempfile

os.environ["GANKIT_LOAD_PLUGINS"] = "extras"
os.environ["GANKIT_CACHE"] = tempfile.mkdtemp(prefix="gankit-extras-test-cache-")  # not the user's cache

import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    import torch

    torch.set_num_threads(1)
