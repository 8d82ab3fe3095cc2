"""Write docs/cli.md from the CLI's own help, with third-party plugins off.

    python docs/gen_cli.py          # rewrite docs/cli.md
    python docs/gen_cli.py --check  # exit 1 if docs/cli.md has drifted (the tests do this)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["GANKIT_LOAD_PLUGINS"] = ""

import click  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from gankit.cli import _add_plugin_commands, cli  # noqa: E402

_add_plugin_commands()  # the built-in plugins' commands (gankit vocode) are part of the CLI

TARGET = Path(__file__).with_name("cli.md")

INTRO = """# CLI reference

Generated from `gankit --help` by `python docs/gen_cli.py` (third-party plugins off); a
test fails when this page and the CLI disagree. Option values are parsed by the same code
as config files and API keywords, so `--betas-g 0.5,0.99` is `betas_g=(0.5, 0.99)` in
Python. Model and dataset options are given as `-o KEY VALUE` and listed under each domain.
Bad input gives a one-line `error: ...` naming the option and what is allowed (exit code 2).
"""


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[list[str]]:
    """Every command under ``group``, depth first: ``train`` and its domains first, then the
    rest in the CLI's own order, so a new command (a built-in plugin's too) is documented."""
    ctx = click.Context(group, info_name="gankit")
    names = sorted(group.list_commands(ctx), key=lambda name: name != "train")
    paths = []
    for name in names:
        command = group.get_command(ctx, name)
        paths.append([*prefix, name])
        if isinstance(command, click.Group):
            paths += command_paths(command, (*prefix, name))
    return paths


def render() -> str:
    runner = CliRunner()
    commands = [[], *command_paths(cli)]
    parts = [INTRO]
    for args in commands:
        result = runner.invoke(cli, [*args, "--help"], prog_name="gankit", terminal_width=100)
        if result.exit_code != 0:
            raise SystemExit(f"gankit {' '.join(args)} --help failed: {result.output}")
        title = "gankit " + " ".join(args) if args else "gankit"
        parts.append(f"## `{title.strip()}`\n\n```text\n{result.output.rstrip()}\n```\n")
    return "\n".join(parts)


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if not TARGET.exists() or TARGET.read_text(encoding="utf-8") != text:
            print("docs/cli.md is out of date: run python docs/gen_cli.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
