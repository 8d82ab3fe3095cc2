"""The docs stay true: the CLI reference matches the CLI, every page's examples run, and the
site builds with ``mkdocs build --strict`` (no broken link, anchor or nav entry).

How a page's examples are executed (this file is the runner):

- Every ```python block of every page in docs/ runs, in page order, in one namespace per
  page, with an empty temporary folder as the working directory.
- A ```bash block preceded by ``<!-- test: run; creates: GLOB ... -->`` runs in that same
  folder, in page order with the Python blocks (so a Python block can read what a command
  wrote), under ``bash -euo pipefail``; afterwards every GLOB must match a non-empty file.
  Other bash blocks are illustrations (they need data or hardware the test lacks).
- Test-only step override: every ``gankit train`` line of a run block gets ``--steps 2``
  appended (click keeps an option's last value, so it beats the page's ``--steps`` and a
  preset's), plus the block's optional ``train-args: ARGS``. Pages show real step counts;
  the test checks that the commands work and write what the page says, in seconds.
- ``<!-- test: covered -->`` before a ```bash block says each of its commands is run, word
  for word, by a run block elsewhere in docs/ (the home page repeats the quickstarts'
  commands); the test checks that instead of running them twice.
- ``<!-- test: skip -->`` before a block leaves it out (a snippet that needs a GPU, say).

Third-party plugins are off and nothing is downloaded (tests/conftest.py).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
TEST_STEPS = "2"
COMMAND_TIMEOUT_S = 600  # generous: the shared CI machines are slow; a block takes seconds alone

BLOCK = re.compile(
    r"(?:<!--[ \t]*test:(?P<marker>[^>]*?)-->[ \t]*\n)?^```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^```[ \t]*$",
    re.M | re.S,
)


@dataclass
class Example:
    """One block of a page that the tests run (python, bash) or check (covered)."""

    lang: str  # "python", "bash", or "covered" (a bash block whose commands run elsewhere)
    code: str
    line: int
    creates: list[str] = field(default_factory=list)
    train_args: list[str] = field(default_factory=list)


def parse_blocks(text: str, page: str = "<page>") -> list[Example]:
    """The blocks of a page that the tests run or check, in page order."""
    examples = []
    for match in BLOCK.finditer(text):
        lang, body, marker = match["lang"], match["body"], (match["marker"] or "").strip()
        line = text.count("\n", 0, match.start("body"))
        directive, _, rest = marker.partition(";")
        directive = directive.strip()
        if directive == "skip":
            continue
        if directive not in ("", "run", "covered"):
            raise ValueError(f"{page}:{line}: unknown test marker {marker!r}; use 'run; creates: ...', "
                             f"'covered' or 'skip'")
        if directive and lang != "bash":
            raise ValueError(f"{page}:{line}: 'test: {directive}' marks a ```{lang} block; only ```bash blocks take it")
        if lang == "python" and not directive:
            examples.append(Example("python", body, line))
        elif directive == "covered":
            examples.append(Example("covered", body, line))
        elif directive == "run":
            settings = _settings(rest, page, line)
            if not settings.get("creates"):
                raise ValueError(f"{page}:{line}: a run block must name the files it creates ('creates: GLOB ...')")
            examples.append(Example("bash", body, line, settings["creates"], settings.get("train-args", [])))
    return examples


def parse_examples(text: str, page: str = "<page>") -> list[Example]:
    """The blocks of a page that the tests run, in page order."""
    return [example for example in parse_blocks(text, page) if example.lang != "covered"]


def commands(code: str) -> list[str]:
    """A bash block's command lines, comments and extra spaces dropped."""
    return [shlex.join(shlex.split(line, comments=True)) for line in code.replace("\\\n", " ").splitlines()
            if shlex.split(line, comments=True)]


def _settings(text: str, page: str, line: int) -> dict[str, list[str]]:
    settings = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        key, colon, value = part.partition(":")
        if not colon or key.strip() not in ("creates", "train-args"):
            raise ValueError(f"{page}:{line}: unknown run setting {part!r}; use creates: or train-args:")
        settings[key.strip()] = shlex.split(value)
    return settings


def fast_script(code: str, train_args: list[str]) -> str:
    """The block with ``--steps 2`` and ``train_args`` appended to each ``gankit train`` line."""
    lines = []
    for line in code.replace("\\\n", " ").splitlines():
        if line.split()[:2] == ["gankit", "train"]:
            words = shlex.split(line, comments=True)
            if any(word in ("&&", "||", "|", ";", ">", "<") for word in words):
                raise ValueError(f"put one gankit train command per line in a run block: {line!r}")
            line = shlex.join([*words, "--steps", TEST_STEPS, *train_args])
        lines.append(line)
    return "\n".join(lines) + "\n"


def run_examples(examples: list[Example], workdir: Path, module_name: str) -> None:
    """Run a page's blocks in order in ``workdir`` (which must be the working directory)."""
    module = types.ModuleType(module_name)
    sys.modules[module.__name__] = module  # dataclasses defined in a block look their module up
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "OMP_NUM_THREADS": "1"}
    try:
        for example in examples:
            where = f"{module_name} (block at line {example.line})"
            if example.lang == "python":
                exec(compile(example.code, where, "exec"), module.__dict__)
                continue
            result = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", fast_script(example.code, example.train_args)],
                cwd=workdir, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S,
            )
            assert result.returncode == 0, f"{where} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            for pattern in example.creates:
                found = [p for p in workdir.glob(pattern) if p.is_file() and p.stat().st_size > 0]
                assert found, f"{where} did not create {pattern}; it wrote: {sorted(map(str, workdir.rglob('*')))}"
    finally:
        sys.modules.pop(module.__name__, None)


def test_cli_reference_matches_the_cli():
    result = subprocess.run([sys.executable, str(DOCS / "gen_cli.py"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


PAGES_WITH_EXAMPLES = [page.name for page in PAGES if parse_examples(page.read_text(encoding="utf-8"), page.name)]


@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES)
def test_page_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    examples = parse_examples((DOCS / page).read_text(encoding="utf-8"), page)
    run_examples(examples, tmp_path, f"docs_{page.replace('.', '_').replace('-', '_')}")


def test_every_quickstart_runs_its_commands():
    quickstarts = [page for page in PAGES if page.name.startswith("quickstart")] + [DOCS / "index.md"]
    assert len(quickstarts) >= 3
    for page in quickstarts:
        blocks = parse_blocks(page.read_text(encoding="utf-8"), page.name)
        assert any(b.lang in ("bash", "covered") for b in blocks), f"{page.name} has no tested command block"


def test_covered_commands_are_run_by_a_run_block():
    run_lines, covered = set(), []
    for page in PAGES:
        for block in parse_blocks(page.read_text(encoding="utf-8"), page.name):
            if block.lang == "bash":
                run_lines.update(commands(block.code))
            elif block.lang == "covered":
                covered += [(page.name, block.line, line) for line in commands(block.code)]
    assert covered, "no page has a '<!-- test: covered -->' block: drop this test or the marker"
    missing = [f"{page}:{line}: {command}" for page, line, command in covered if command not in run_lines]
    assert not missing, "commands that no run block executes:\n" + "\n".join(missing)


def test_runner_runs_marked_blocks_in_order_and_checks_their_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    page = (
        "```bash\nexit 1\n```\n"  # an illustration: not run
        "<!-- test: run; creates: out/a.txt -->\n```bash\nmkdir out\necho hi > out/a.txt\n```\n"
        "```python\nwith open('out/a.txt') as f:\n    assert f.read() == 'hi\\n'\nopen('out/b.txt', 'w').write('b')\n```\n"
        "<!-- test: skip -->\n```python\nraise SystemExit('skipped blocks do not run')\n```\n"
        "<!-- test: run; creates: out/b.txt out/missing.txt -->\n```bash\ntrue\n```\n"
    )
    examples = parse_examples(page)
    assert [e.lang for e in examples] == ["bash", "python", "bash"]
    with pytest.raises(AssertionError, match="did not create out/missing.txt"):
        run_examples(examples, tmp_path, "docs_runner_check")
    assert (tmp_path / "out" / "b.txt").read_text() == "b"


def test_runner_reports_a_failing_command_and_a_bad_marker(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    failing = parse_examples("<!-- test: run; creates: x -->\n```bash\nfalse\ntouch x\n```\n")
    with pytest.raises(AssertionError, match="failed"):
        run_examples(failing, tmp_path, "docs_runner_fail")
    assert not (tmp_path / "x").exists()
    with pytest.raises(ValueError, match="must name the files"):
        parse_examples("<!-- test: run -->\n```bash\ntrue\n```\n")
    with pytest.raises(ValueError, match="unknown test marker"):
        parse_examples("<!-- test: rnu -->\n```bash\ntrue\n```\n")


def test_run_blocks_train_for_two_steps():
    script = fast_script("gankit train image --steps 3000 \\\n  --out runs/a   # a comment\nls runs/a\n",
                         ["--pretrain-steps", "2"])
    first, second = script.splitlines()
    words = shlex.split(first)
    assert words[words.index("--steps", words.index("--steps") + 1) + 1] == "2"  # the last --steps wins
    assert words[-2:] == ["--pretrain-steps", "2"] and "comment" not in first
    assert second == "ls runs/a"
    with pytest.raises(ValueError, match="one gankit train command per line"):
        fast_script("gankit train image && gankit sample runs/x\n", [])


def test_site_builds_strict(tmp_path):
    """The same check as CI: broken links and anchors, and pages missing from the nav, fail."""
    pytest.importorskip("mkdocs", reason="mkdocs is not installed: pip install -e '.[docs]'")
    pytest.importorskip("material", reason="mkdocs-material is not installed: pip install -e '.[docs]'")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
         "--site-dir", str(tmp_path / "site")],
        capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, timeout=COMMAND_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "architecture" / "index.html").is_file()
