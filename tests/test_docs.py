"""The docs stay true: the CLI reference matches the CLI, and the Python examples run."""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def test_cli_reference_matches_the_cli():
    result = subprocess.run([sys.executable, str(DOCS / "gen_cli.py"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.parametrize("page", ["api.md", "plugins.md", "quickstart.md"])
def test_python_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = _python_blocks(DOCS / page)
    assert blocks, f"{page} has no Python examples"
    module = types.ModuleType(f"docs_{page.replace('.', '_')}")
    monkeypatch.setitem(sys.modules, module.__name__, module)  # dataclasses look their module up
    for block in blocks:
        exec(compile(block, page, "exec"), module.__dict__)
