"""The ``gankit`` command. It only parses and calls the Python API.

``gankit train`` is a group built from the registry: one sub-command per installed domain,
whose help lists that domain's models, datasets, their options and presets. Options are
generated from :class:`gankit.config.TrainConfig`, the single schema for the CLI, config
files and API keywords.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shlex
import sys
import typing
import warnings
from typing import Any, Iterator

import click

from .callbacks import enabled_names
from .config import ENGINE_KEYS, ResolvedConfig, TrainConfig
from .errors import GankitError
from .options import describe_type, field_types, option_help
from .registry import Registry, get_registry, plugin_manager

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class CliError(click.ClickException):
    """Printed as one line: ``error: ...``."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


# gankit train DOMAIN ------------------------------------------------------------------

def _train_options() -> list[click.Option]:
    """One click option per TrainConfig field. Values arrive as text and are converted by
    the same code that converts config files and API keywords, so errors read the same."""
    options = []
    types_by_name = field_types(TrainConfig)
    for field in dataclasses.fields(TrainConfig):
        if field.name == "domain":
            continue
        flag = "--" + field.name.replace("_", "-")
        help_text = field.metadata.get("help", "")
        if types_by_name[field.name] is bool:
            options.append(click.Option([flag, field.name], is_flag=True, default=None, help=help_text))
            continue
        default = field.default if field.default is not dataclasses.MISSING else None
        metavar = describe_type(types_by_name[field.name]).upper().replace(" (OR NONE)", "")
        if typing.get_origin(types_by_name[field.name]) is typing.Literal:
            metavar = "[" + describe_type(types_by_name[field.name]) + "]"
        elif typing.get_args(types_by_name[field.name])[-1:] == (Ellipsis,):
            metavar = "NAME,..."
        shown = f" [default: {_show_default(default)}]" if default not in (None, "", ()) else ""
        options.append(click.Option([flag, field.name], default=None, metavar=metavar, help=help_text + shown))
    # The defaults shown are the engine's; a model's own defaults (listed above) take precedence.
    options.append(click.Option(["--config", "config_file"], default=None, metavar="FILE",
                                help="TOML or JSON file of options (a run's config.json works too)"))
    options.append(click.Option(["-o", "--option", "extra"], nargs=2, multiple=True, metavar="KEY VALUE",
                                help="a model or dataset option (listed above); repeatable"))
    options.append(click.Option(["--dry-run"], is_flag=True, default=False,
                                help="print the resolved configuration as JSON (config.json's format) and exit"))
    return options


def _show_default(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _as_option(key: str, value: Any) -> str:
    """How a default is given on the command line: an engine flag, or ``-o`` for the rest."""
    if key in ENGINE_KEYS:
        return f"--{key.replace('_', '-')} {_show_default(value)}"
    return f"-o {key} {_show_default(value)}"


def _domain_help(registry: Registry, domain_name: str) -> str:
    domain = registry.domain(domain_name)
    lines = [domain.description, "", "\b", "Models:"]
    for name, spec in registry.models_for(domain_name).items():
        mark = " (default)" if name == domain.default_model else ""
        lines.append(f"  {name}{mark}: {spec.description}")
        lines += [f"      -o {row[0]} {row[1].upper()}: {row[2]}" for row in option_help(spec.options)]
        if spec.defaults:
            lines.append("      its defaults: " + ", ".join(_as_option(k, v) for k, v in spec.defaults.items()))
        lines += [f"      --preset {preset}{' (the default on a CPU)' if preset == spec.cpu_preset else ''}: "
                  f"{p.description}" for preset, p in spec.presets.items()]
    lines += ["", "\b", "Datasets:"]
    for name, spec in registry.datasets_for(domain_name).items():
        mark = " (default)" if name == domain.default_dataset else ""
        lines.append(f"  {name}{mark}: {spec.description}")
        lines += [f"      -o {row[0]} {row[1].upper()}: {row[2]}" for row in option_help(spec.options)]
    lines += ["", "\b", "Objectives: " + ", ".join(sorted(registry.objectives))]
    lines += ["", "\b", "Callbacks (--callbacks NAME): " + (", ".join(sorted(registry.callbacks)) or "(none)")]
    return "\n".join(lines)


def _make_train_command(registry: Registry, domain_name: str) -> click.Command:
    def callback(config_file: str | None, extra: tuple[tuple[str, str], ...], dry_run: bool, **values: Any) -> None:
        options = {key: value for key, value in values.items() if value is not None}
        for key, value in extra:
            options[key.replace("-", "_")] = value
        from .api import train

        root = click.get_current_context().find_root()
        state = root.obj if isinstance(root.obj, dict) else {}
        quiet, log_format = _console_settings(options, config_file)
        state["log_format"] = log_format  # main() reports an error as JSON too
        if dry_run:
            resolved = resolve_only(get_registry(), domain_name, config_file, options)
            click.echo(json.dumps(resolved.to_dict(), indent=2))
            return
        command_line = "gankit " + shlex.join(state.get("argv", sys.argv[1:]))
        with _console_warnings(quiet, log_format):
            run = train(domain_name, config=config_file, command_line=command_line, **options)
        # The result, not a log line: --quiet keeps it for scripts. Under torchrun, rank 0 says it once.
        if run.config.train.log_format == "text" and os.environ.get("RANK", "0") == "0":
            click.echo(f"run saved to {run.dir} (step {run.step})")

    return click.Command(
        domain_name,
        callback=callback,
        params=_train_options(),
        help=_domain_help(registry, domain_name),
        short_help=registry.domain(domain_name).description,
        context_settings=CONTEXT,
    )


def resolve_only(registry: Registry, domain_name: str, config_file: str | None,
                 options: dict[str, Any]) -> ResolvedConfig:
    """What ``gankit train`` would run with (``--dry-run``): the layers merged and every
    name checked, without creating the run directory or building anything."""
    from .config import resolve_config

    options = {**options, "domain": domain_name}
    if options.get("resume"):
        from pathlib import Path

        from .api import _resumed_config
        from .checkpoint import load_checkpoint

        if not options.get("out"):
            raise GankitError("--resume needs --out RUN_DIR: the run to continue")
        resolved = _resumed_config(registry, load_checkpoint(Path(options["out"]) / "checkpoints" / "last.pt"), options)
    else:
        resolved = resolve_config(registry, options, config_file)
    cfg = resolved.train
    registry.objective(cfg.objective)
    for name in enabled_names(cfg):
        registry.callback(name)
    dataset = registry.dataset(cfg.domain, cfg.dataset)
    if dataset.needs_data and not cfg.data:
        raise GankitError(f"dataset {dataset.name!r} needs --data PATH ({dataset.description})")
    return resolved


def _console_settings(options: dict[str, Any], config_file: str | None) -> tuple[bool, str]:
    """``quiet`` and ``log_format`` as given on the command line or in the config file, for
    what the CLI prints itself (warnings, errors) around the run."""
    from .config import read_config_file
    from .options import coerce

    layers = [read_config_file(config_file) if config_file else {}, options]
    quiet, log_format = False, "text"
    for layer in layers:
        if layer.get("quiet") is not None:
            quiet = coerce("quiet", bool, layer["quiet"])
        if layer.get("log_format") is not None:
            log_format = coerce("log_format", field_types(TrainConfig)["log_format"], layer["log_format"])
    return quiet, log_format


@contextlib.contextmanager
def _console_warnings(quiet: bool, log_format: str) -> Iterator[None]:
    """Python warnings and the ``gankit`` logger's warnings (records a dataset skipped, an
    unusable cache) during a run: none with --quiet, JSON lines with --log-format json,
    plain lines on stderr otherwise. Errors are never silenced."""
    from .progress import emit_json

    logger = logging.getLogger("gankit")
    handler: logging.Handler | None = None
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore")
            handler = logging.StreamHandler(sys.stderr)
            handler.setLevel(logging.ERROR)
        elif log_format == "json":
            def show(message: Any, category: type, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
                emit_json("warning", {"message": str(message), "category": category.__name__,
                                      "source": f"{filename}:{lineno}"})

            warnings.showwarning = show
            handler = _JsonLogHandler(logging.WARNING)
        propagate = logger.propagate
        if handler is not None:
            logger.addHandler(handler)
            logger.propagate = False
        try:
            yield
        finally:
            if handler is not None:
                logger.removeHandler(handler)
                logger.propagate = propagate


class _JsonLogHandler(logging.Handler):
    """A ``gankit`` log record as a ``warning`` event, as --log-format json prints Python
    warnings (``category``: the record's level)."""

    def emit(self, record: logging.LogRecord) -> None:
        from .progress import emit_json

        emit_json("warning", {"message": record.getMessage(), "category": record.levelname,
                              "source": f"{record.pathname}:{record.lineno}"})


class TrainGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(get_registry().domains)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        registry = get_registry()
        if name not in registry.domains:
            return None
        return _make_train_command(registry, name)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            raise CliError(f"unknown domain {name!r}; choose one of: {', '.join(self.list_commands(ctx))}")
        return super().resolve_command(ctx, args)


# The other commands -------------------------------------------------------------------

json_flag = click.option("--json", "as_json", is_flag=True, help="machine-readable output")

@click.group(context_settings=CONTEXT)
@click.version_option(package_name="gankit", prog_name="gankit")
def cli() -> None:
    """gankit: train GANs on images, audio and text, and extend it with plugins."""


@cli.group(cls=TrainGroup, context_settings=CONTEXT)
def train() -> None:
    """Train a GAN: gankit train DOMAIN [OPTIONS]. Run `gankit train DOMAIN --help` for the
    domain's models, datasets and their options."""


@cli.command("sample", context_settings=CONTEXT)
@click.argument("run", metavar="RUN_OR_CHECKPOINT")
@click.option("-n", "n", default=None, metavar="N", help="number of samples [default: 16, or one per --conditions row]")
@click.option("--out", default=None, metavar="DIR",
              help="output folder [default: RUN/generated], or a file the domain writes every sample into "
                   "(tabular: .csv, .parquet)")
@click.option("--format", "fmt", default="native", metavar="[native|npy]",
              help="native files (PNG/WAV/TXT) or one samples.npy [default: native]")
@click.option("--seed", default="0", metavar="S", help="latent seed [default: 0]")
@click.option("--device", default="cpu", metavar="DEV", help="auto|cpu|cuda|cuda:N|mps [default: cpu]")
@click.option("--label", default=None, metavar="K", help="class to sample (conditional models)")
@click.option("--conditions", default=None, metavar="FILE",
              help="generate one sample per condition in FILE (.npy rows, .npz named arrays, or what the domain "
                   "reads); -n defaults to their count")
@click.option("--condition", "condition", multiple=True, metavar="KEY=VALUE",
              help="only samples where KEY is VALUE, for domains that sample by condition (tabular: a categorical "
                   "column and one of its values); repeatable, a KEY given twice allows either value")
def sample_command(run: str, n: str | None, out: str | None, fmt: str, seed: str, device: str, label: str | None,
                   conditions: str | None, condition: tuple[str, ...]) -> None:
    """Write samples from a trained run."""
    from pathlib import Path

    from .conditions import condition_size
    from .options import coerce
    from .outputs import terminate_as_interrupt
    from .run import load

    count = coerce("n", int, n) if n is not None else (None if conditions else 16)
    if count is not None and count < 1:
        raise GankitError(f"option 'n' must be at least 1; got {count}")
    fmt = coerce("format", typing.Literal["native", "npy"], fmt)
    loaded = load(run, device=device)
    target = Path(out) if out else loaded.dir / "generated"
    label_value = coerce("label", int, label) if label is not None else None
    cond = loaded.read_conditions(conditions) if conditions else None
    if cond is not None and count is None:
        count = condition_size(cond)
    pairs = []
    for entry in condition:
        key, sep, value = entry.partition("=")
        if not sep or not key.strip():
            raise GankitError(f"--condition expects KEY=VALUE (--condition workclass=Private), got {entry!r}")
        pairs.append((key.strip(), value))
    with terminate_as_interrupt():  # Ctrl-C or SIGTERM: no partial file is left (save_samples cleans up)
        paths = loaded.save_samples(target, count, format=fmt, seed=coerce("seed", int, seed), labels=label_value,
                                    conditions=cond, where=pairs)
    where = paths[0] if len(paths) == 1 else target
    click.echo(f"wrote {count} samples to {where}")


@cli.command("evaluate", context_settings=CONTEXT)
@click.argument("run", metavar="[RUN_OR_CHECKPOINT]", required=False)
@click.option("-n", "n", default="2000", metavar="N", help="real and generated samples to compare [default: 2000]")
@click.option("--data", default=None, metavar="PATH", help="read the dataset from here (instead of the run's --data)")
@click.option("--metric", "metric_names", multiple=True, metavar="NAME", help="only this metric; repeatable")
@click.option("--seed", default="0", metavar="S", help="seed of the real subset and the latents [default: 0]")
@click.option("--device", default="cpu", metavar="DEV", help="auto|cpu|cuda|cuda:N|mps [default: cpu]")
@click.option("--samples", default=None, metavar="FILE.npy",
              help="score these samples (made anywhere, in `gankit sample --format npy`'s format) instead of a "
                   "run's generator, against RUN's dataset or --domain/--dataset")
@click.option("--domain", default=None, metavar="NAME", help="with --samples and no RUN: the domain")
@click.option("--dataset", default=None, metavar="NAME", help="with --samples and no RUN: the reference dataset")
@click.option("-o", "extra", multiple=True, type=(str, str), metavar="KEY VALUE",
              help="with --samples and no RUN: a dataset option; repeatable")
@click.option("--metric-option", "metric_extra", multiple=True, type=(str, str), metavar="KEY VALUE",
              help="a metric option, given to every metric that takes it (`gankit list DOMAIN` shows them); "
                   "repeatable")
def evaluate_command(run: str | None, n: str, data: str | None, metric_names: tuple[str, ...], seed: str,
                     device: str, samples: str | None, domain: str | None, dataset: str | None,
                     extra: tuple[tuple[str, str], ...], metric_extra: tuple[tuple[str, str], ...]) -> None:
    """Score a run, or samples made elsewhere, with the domain's metrics; prints JSON (values
    and the protocol used)."""
    from .evaluation import evaluate, evaluate_samples
    from .options import coerce

    common = dict(n=coerce("n", int, n), data=data, metrics=metric_names or None, seed=coerce("seed", int, seed),
                  device=device, metric_options=dict(metric_extra))
    if samples is not None:
        result = evaluate_samples(samples, run=run, domain=domain, dataset=dataset, options=dict(extra), **common)
    elif run is None:
        raise click.UsageError("give a RUN_OR_CHECKPOINT to score, or --samples FILE.npy with --domain/--dataset")
    else:
        if domain or dataset or extra:
            raise click.UsageError("--domain, --dataset and -o only apply with --samples")
        result = evaluate(run, **common)
    click.echo(json.dumps(result, indent=2))


@cli.command("export", context_settings=CONTEXT)
@click.argument("run", metavar="RUN_OR_CHECKPOINT")
@click.option("--out", default=None, metavar="DIR", help="output folder [default: RUN/export]")
@click.option("--format", "fmt", default="safetensors", metavar="[safetensors]", help="[default: safetensors]")
def export_command(run: str, out: str | None, fmt: str) -> None:
    """Write the generator as safetensors with its configuration as JSON (no pickle);
    `gankit sample` and `gankit.load` open the folder."""
    from pathlib import Path

    from .checkpoint import find_checkpoint, run_dir_of
    from .export import export

    from .outputs import terminate_as_interrupt

    target = Path(out) if out else run_dir_of(find_checkpoint(run)) / "export"
    with terminate_as_interrupt():
        paths = export(run, target, format=fmt)
    click.echo(f"wrote {', '.join(str(p) for p in paths)}")


@cli.command("report", context_settings=CONTEXT)
@click.argument("run", metavar="RUN")
@click.option("--out", default=None, metavar="FILE", help="where to write it [default: RUN/report.html]")
@click.option("--overwrite", is_flag=True, default=False, help="replace the file --out names if it exists")
def report_command(run: str, out: str | None, overwrite: bool) -> None:
    """Write a self-contained HTML report of a run: loss curves, metrics over time, the
    latest preview (images, audio players, text) and the configuration. RUN/report.html is
    replaced; another existing file only with --overwrite."""
    from .report import write_report

    click.echo(f"wrote {write_report(run, out, overwrite=overwrite)}")


@cli.command("list", context_settings=CONTEXT)
@click.argument("domain", required=False)
@json_flag
def list_command(domain: str | None, as_json: bool) -> None:
    """Domains, models, datasets, objectives, metrics and presets, with the plugin that gave each."""
    registry = get_registry()
    domains = [registry.domain(domain).name] if domain else sorted(registry.domains)
    data: dict[str, Any] = {"domains": {}, "objectives": {}}
    for name in domains:
        spec = registry.domains[name]
        data["domains"][name] = {
            "description": spec.description,
            "plugin": registry.owner_of("domains", name),
            "models": {m: {"description": s.description, "plugin": registry.owner_of("models", (name, m)),
                           "default": m == spec.default_model,
                           "presets": {p: v.description for p, v in s.presets.items()}}
                       for m, s in registry.models_for(name).items()},
            "datasets": {d: {"description": s.description, "plugin": registry.owner_of("datasets", (name, d)),
                             "default": d == spec.default_dataset}
                         for d, s in registry.datasets_for(name).items()},
            "metrics": {m: {"description": s.description, "plugin": registry.owner_of("metrics", (name, m)),
                            "options": {o: f"{kind}: {text}" for o, kind, text in option_help(s.options)}
                            if s.options else {}}
                        for m, s in registry.metrics_for(name).items()},
        }
    for name, spec in sorted(registry.objectives.items()):
        data["objectives"][name] = {"description": spec.description, "plugin": registry.owner_of("objectives", name)}
    data["callbacks"] = {name: {"description": spec.description, "plugin": registry.owner_of("callbacks", name)}
                         for name, spec in sorted(registry.callbacks.items())}
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for name, entry in data["domains"].items():
        click.echo(f"{name}: {entry['description']}  [{entry['plugin']}]")
        for kind in ("models", "datasets", "metrics"):
            for item, detail in entry[kind].items():
                default = " (default)" if detail.get("default") else ""
                click.echo(f"  {kind[:-1]:8} {item}{default}: {detail['description']}  [{detail['plugin']}]")
                for preset, text in detail.get("presets", {}).items():
                    click.echo(f"           --preset {preset}: {text}")
                for key, text in detail.get("options", {}).items():
                    click.echo(f"           --metric-option {key} {text}")
    click.echo("objectives:")
    for name, detail in data["objectives"].items():
        click.echo(f"  {name}: {detail['description']}  [{detail['plugin']}]")
    click.echo("callbacks (gankit train DOMAIN --callbacks NAME):")
    for name, detail in data["callbacks"].items():
        click.echo(f"  {name}: {detail['description']}  [{detail['plugin']}]")


@cli.command("plugins", context_settings=CONTEXT)
@json_flag
def plugins_command(as_json: bool) -> None:
    """Installed plugins, their versions, what each registers, and failures."""
    registry = get_registry()
    rows = [
        {"name": p.name, "version": p.version, "builtin": p.builtin, "registered": p.registered, "error": p.error}
        for p in registry.plugins
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        for row in rows:
            kind = "built-in" if row["builtin"] else "third-party"
            click.echo(f"{row['name']} {row['version'] or '(unknown version)'} ({kind})")
            if row["error"]:
                click.echo(f"  FAILED: {row['error']}")
            for what, names in row["registered"].items():
                click.echo(f"  {what}: {', '.join(names)}")
    failed = [row["name"] for row in rows if row["error"]]
    if failed:
        which = f"plugin {failed[0]}" if len(failed) == 1 else f"{len(failed)} plugins ({', '.join(failed)})"
        click.echo(f"error: {which} failed to load; fix or uninstall it, or keep a third-party "
                   f"plugin out with GANKIT_LOAD_PLUGINS", err=True)
        sys.exit(1)  # not ctx.exit: main() runs click with standalone_mode=False, which returns its code unused


@cli.command("devices", context_settings=CONTEXT)
@json_flag
def devices_command(as_json: bool) -> None:
    """The devices torch sees here."""
    import torch

    from .devices import describe_devices, resolve_device

    rows = describe_devices()
    if as_json:
        click.echo(json.dumps({"torch": torch.__version__, "auto": str(resolve_device("auto")), "devices": rows}, indent=2))
        return
    click.echo(f"torch {torch.__version__}; --device auto picks {resolve_device('auto')}")
    for row in rows:
        details = ", ".join(f"{k}={v}" for k, v in row.items() if k not in ("device", "name"))
        click.echo(f"  {row['device']}: {row['name']}" + (f" ({details})" if details else ""))


_commands_added = False


def _add_plugin_commands() -> None:
    global _commands_added
    if _commands_added:
        return
    _commands_added = True
    for impl in plugin_manager().hook.register_commands.get_hookimpls():
        try:
            impl.function(cli=cli)
        except Exception as exc:  # a plugin's broken command must not break the CLI
            click.echo(f"warning: plugin {impl.plugin_name} failed to add its commands: {exc}", err=True)


def main(argv: list[str] | None = None) -> None:
    """The console script: one-line errors, never a traceback for a user mistake."""
    _add_plugin_commands()
    args = list(argv) if argv is not None else sys.argv[1:]
    state: dict[str, Any] = {"argv": args}
    try:
        cli.main(args=args, prog_name="gankit", standalone_mode=False, obj=state)
    except GankitError as exc:
        _report_error(f"error: {exc}", state, str(exc))
        sys.exit(2)
    except click.exceptions.Abort as exc:  # click's form of a KeyboardInterrupt (a RunInterrupted says more)
        _report_interrupt(exc.__cause__ or exc.__context__, state)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt as exc:
        _report_interrupt(exc, state)


def _report_interrupt(exc: BaseException | None, state: dict[str, Any]) -> None:
    message = f"interrupted: {exc}" if isinstance(exc, KeyboardInterrupt) and str(exc) else "interrupted"
    _report_error(message, state, message)
    sys.exit(130)


def _report_error(text: str, state: dict[str, Any], message: str) -> None:
    """One line on stderr: ``text``, or ``{"event": "error", "message": ...}`` under --log-format json."""
    if state.get("log_format") == "json":
        from .progress import emit_json

        emit_json("error", {"message": message}, stream=sys.stderr)
    else:
        click.echo(text, err=True)
