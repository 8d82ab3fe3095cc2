"""The Python API: the same power as the CLI, with the same option names."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from .checkpoint import load_checkpoint
from .config import RESUMABLE_KEYS, ResolvedConfig, config_from_dict, resolve_config
from .errors import GankitError
from .registry import Registry, get_registry
from .run import Run, load


def train(
    domain: str | None = None,
    *,
    config: str | Path | None = None,
    registry: Registry | None = None,
    command_line: str | None = None,
    **options: Any,
) -> Run:
    """Train a GAN and return the finished :class:`Run`.

    ``options`` are the CLI's options with underscores (``batch_size=64``, ``lr_g=1e-4``)
    plus the model's and dataset's options (the CLI's ``-o KEY VALUE``). ``config`` is a
    TOML/JSON file of the same keys. With ``resume=True`` and ``out=RUN_DIR`` the run
    continues from its last checkpoint; only options that change how it runs (``steps``,
    ``max_minutes``, ``device``, intervals) may differ.

    >>> run = gankit.train("image", model="mlp", steps=300, out="runs/mlp")  # doctest: +SKIP
    >>> run.sample(16).shape                                                # doctest: +SKIP
    torch.Size([16, 1, 28, 28])
    """
    from .engine import train_run

    registry = registry or get_registry()
    if domain is not None:
        options["domain"] = domain
    resume_state = None
    if options.get("resume"):
        if not options.get("out"):
            raise GankitError("--resume needs --out RUN_DIR: the run to continue")
        if options.get("overwrite"):
            raise GankitError("--resume continues the run in --out and --overwrite replaces it; pass only one of them")
        resume_state = load_checkpoint(Path(options["out"]) / "checkpoints" / "last.pt")
        resolved = _resumed_config(registry, resume_state, options)
    else:
        resolved = resolve_config(registry, options, config)
    result = train_run(resolved, registry, resume_state=resume_state, command_line=command_line)
    return load(result.run_dir, device=resolved.train.device if resolved.train.device != "auto" else "cpu",
                registry=registry)


def _resumed_config(registry: Registry, state: dict[str, Any], options: dict[str, Any]) -> ResolvedConfig:
    """The stored configuration with the options given now applied; options that would
    change what is trained (anything outside RESUMABLE_KEYS) must keep their value."""
    stored = config_from_dict(registry, state["config"])
    data = stored.to_dict()
    out = options.get("out")
    if options.get("domain") not in (None, data["domain"]):
        raise GankitError(f"the run in {out} trains domain {data['domain']!r}, not {options['domain']!r}; continue "
                          f"it with `gankit train {data['domain']} --out {out} --resume`, or start a new run with "
                          f"another --out")
    for key in ("model", "dataset"):  # before the options, which are the stored model's and dataset's
        if options.get(key) not in (None, data[key]):
            raise GankitError(f"the {key} cannot change when resuming: the run in {out} trains {key} {data[key]!r}, "
                              f"not {options[key]!r}; drop --{key} to continue it, or start a new run with another "
                              f"--out")
    for key, value in options.items():
        key = key.replace("-", "_")
        section = next((name for name in ("model_options", "dataset_options") if key in data[name]), None)
        if section is not None:
            data[section][key] = value
        else:
            data[key] = value
    data["resume"] = True
    data["overwrite"] = False  # the stored value is the start's; a resumed run never replaces anything
    resumed = config_from_dict(registry, data)
    before, after = _flat(stored), _flat(resumed)
    for key in after:
        if key not in RESUMABLE_KEYS and after[key] != before[key]:
            raise GankitError(
                f"option {key!r} cannot change when resuming (the run has {before[key]!r}, got {after[key]!r}); "
                f"options that may change: {', '.join(sorted(RESUMABLE_KEYS - {'resume', 'out'}))}"
            )
    return resumed


def _flat(config: ResolvedConfig) -> dict[str, Any]:
    data = config.to_dict()
    return {**{k: v for k, v in data.items() if not k.endswith("_options") and k != "effective"},
            **data["model_options"], **data["dataset_options"]}


def sample(
    run: str | Path | Run,
    n: int | None = None,
    *,
    out: str | Path | None = None,
    format: Literal["native", "npy"] = "native",
    seed: int = 0,
    device: str = "cpu",
    labels: Any = None,
    conditions: Any = None,
) -> Any:
    """Sample from a run: returns the batch (canonical form) when ``out`` is None, else
    writes the files and returns their paths. ``n`` defaults to 16, or to one sample per
    condition; ``labels`` and ``conditions`` are :meth:`Run.sample`'s."""
    loaded = run if isinstance(run, Run) else load(run, device=device)
    if n is None and conditions is None:
        n = 16
    if out is None:
        return loaded.sample(n, seed=seed, labels=labels, conditions=conditions)
    return loaded.save_samples(out, n, format=format, seed=seed, labels=labels, conditions=conditions)


__all__ = ["train", "load", "sample", "Run"]
