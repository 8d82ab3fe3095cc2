"""Training throughput (samples/s) of each built-in model, through gankit and through the
plain PyTorch loop a user would write for the same networks, batch and optimiser.

    python benchmarks/throughput.py --quick                  # CPU: mlp and dcgan-32, a few minutes
    python benchmarks/throughput.py                          # CPU: every model, longer runs
    python benchmarks/throughput.py --device cuda --quick    # GPU: adds gankit's opt-in fast path

Both sides do the same work: networks from the model's own factory (same seed), batches of
the same size drawn from the embedded dataset held in memory, Adam 2e-4 (0.5, 0.999) for
both networks, the non-saturating loss, one D step per G step, no penalty, no EMA, fp32.
The plain loop is what most people write: the data as a float tensor on the device,
``torch.optim.Adam`` with torch's default implementation, D's weights still requiring
gradients in the G phase, losses read with ``.item()`` once per log interval. gankit runs
with its defaults (fused Adam, uint8 data decoded on the device, D frozen in the G phase,
channels-last for convolutions on CUDA); on CUDA a third column adds the opt-in fast path:
bf16 autocast and CUDA graphs (``--compile`` adds a column with bf16 + torch.compile).

The variants run alternately in one process, their order rotated each repeat, with a fixed
thread count; each is timed over its training loop after a first log interval of warm-up
(where compilation and graph capture happen). The table gives the median samples/s and the
median over repeats of each repeat's paired ratio to the plain loop. On the CPU the clock
is the process's CPU time (``time.process_time``): on a shared machine the wall clock
drifts by a factor of two or more with the load of other processes, CPU time far less
(``--wall-clock`` times by the wall clock instead). On CUDA it is the wall clock, read
after a synchronisation (the loss read at each log).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

import gankit
from gankit.config import ENGINE_KEYS
from gankit.options import build_options
from gankit.registry import get_registry
from gankit.rundir import MetricsLog

LR, BETAS = 2e-4, (0.5, 0.999)
CLOCK = {"now": time.perf_counter}  # set in main(): process CPU time on the CPU, wall clock on CUDA
SAME_WORK = dict(objective="non-saturating", penalty="none", ema_decay=0.0, lr_g=LR, lr_d=LR, betas_g=BETAS,
                 betas_d=BETAS, n_critic=1, grad_clip=0.0, precision="32")


@dataclass(frozen=True)
class Bench:
    """One row: a model on a dataset, with the steps each run takes (quick, full) per device;
    ``cpu_options`` replace some options on the CPU, where the full size would take hours."""

    name: str
    domain: str
    model: str
    dataset: str
    options: dict[str, Any]
    batch: int
    cpu_steps: tuple[int, int]
    cuda_steps: tuple[int, int] = (300, 1000)
    log_every: dict[str, int] = field(default_factory=lambda: {"cpu": 25, "cuda": 50})
    cpu_options: dict[str, Any] = field(default_factory=dict)

    def on(self, device: torch.device) -> "Bench":
        if device.type == "cuda" or not self.cpu_options:
            return self
        return dataclasses.replace(self, options={**self.options, **self.cpu_options}, cpu_options={})


BENCHES = [
    Bench("mlp", "image", "mlp", "shapes", {"size": 28, "channels": 1, "count": 4096}, 128, (300, 1000)),
    Bench("dcgan-32", "image", "dcgan", "shapes", {"size": 32, "channels": 3, "count": 2048}, 64, (40, 100),
          log_every={"cpu": 10, "cuda": 50}),
    Bench("dcgan-64", "image", "dcgan", "shapes", {"size": 64, "channels": 3, "count": 2048}, 64, (12, 24),
          log_every={"cpu": 4, "cuda": 50}),
    Bench("wavegan", "audio", "wavegan", "tones", {"length": 16384, "count": 512}, 32, (12, 24),
          log_every={"cpu": 4, "cuda": 50}, cpu_options={"length": 4096, "sample_rate": 8000, "width": 16}),
]
QUICK_CPU = ("mlp", "dcgan-32")


def text_benches() -> list[Bench]:
    """A row per model of the ``text`` domain, when a plugin registers it."""
    registry = get_registry()
    if "text" not in registry.domains:
        return []
    domain = registry.domain("text")
    return [Bench(f"text-{name}", "text", name, domain.default_dataset, {}, 64, (60, 200),
                  log_every={"cpu": 15, "cuda": 50})
            for name in registry.models_for("text")]


def _build(bench: Bench, seed: int, device: torch.device) -> tuple[Any, Any, torch.nn.Module, torch.nn.Module, Any]:
    registry = get_registry()
    model_spec = registry.model(bench.domain, bench.model)
    dataset_spec = registry.dataset(bench.domain, bench.dataset)
    fields = lambda cls: {f for f in getattr(cls, "__dataclass_fields__", {})}
    model_options = build_options(model_spec.options, {k: v for k, v in bench.options.items()
                                                       if k in fields(model_spec.options)}, what=bench.model)
    dataset_options = build_options(dataset_spec.options, {k: v for k, v in bench.options.items()
                                                           if k in fields(dataset_spec.options)}, what=bench.dataset)
    torch.manual_seed(seed)
    dataset = dataset_spec.build(dataset_options, None)
    generator, discriminator = model_spec.build(model_options, dataset.info)
    return registry.domain(bench.domain), dataset, generator.to(device), discriminator.to(device), dataset.info


def heads(output: Any) -> list[torch.Tensor]:
    """A discriminator's logit tensors: one, or one per head of a multi-head discriminator
    (RelGAN's representations), whose losses a hand-written loop sums as gankit does."""
    return list(output.logits) if hasattr(output, "logits") else [output]


def plain_loop(bench: Bench, steps: int, log_every: int, seed: int, device: torch.device) -> float:
    """Samples/s of the hand-written loop over its steps after the first log interval."""
    domain, dataset, generator, discriminator, info = _build(bench, seed, device)
    prepare = domain.prepare_real or (lambda batch, _info: batch)
    x_all = dataset.tensors[0].to(device)  # canonical form: float images/audio, token ids for text
    opt_g = torch.optim.Adam(generator.parameters(), lr=LR, betas=BETAS)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=LR, betas=BETAS)
    batch = bench.batch
    order, position = torch.randperm(len(x_all), device=device), 0
    warm = CLOCK["now"]()
    for step in range(steps):
        generator.on_step(step, steps)
        if position + batch > len(x_all):
            order, position = torch.randperm(len(x_all), device=device), 0
        real = prepare(x_all[order[position:position + batch]], info)
        position += batch

        z = generator.sample_latent(batch, device=device)
        with torch.no_grad():
            fake = generator(z)
        d_loss = sum(F.softplus(-r).mean() + F.softplus(f).mean()
                     for r, f in zip(heads(discriminator(real)), heads(discriminator(fake))))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()

        z = generator.sample_latent(batch, device=device)
        g_loss = sum(F.softplus(-f).mean() for f in heads(discriminator(generator(z))))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        if (step + 1) % log_every == 0:
            _ = (d_loss.item(), g_loss.item())
            if step + 1 == log_every:
                warm = CLOCK["now"]()
    return batch * (steps - log_every) / (CLOCK["now"]() - warm)


def gankit_loop(bench: Bench, steps: int, log_every: int, seed: int, device: torch.device, out: Path,
                **engine: Any) -> float:
    """Samples/s of ``gankit.train`` between its first and last log (the clock is read as
    each log record is written, right after the losses were read)."""
    extra = {"pretrain_steps": 0} if "pretrain_steps" in ENGINE_KEYS else {}
    options = {**SAME_WORK, **extra, **engine}
    times: dict[int, float] = {}
    write = MetricsLog.write

    def timed_write(log: MetricsLog, record: dict[str, Any]) -> None:
        if "d_loss" in record:
            times[record["step"]] = CLOCK["now"]()
        write(log, record)

    MetricsLog.write = timed_write  # type: ignore[method-assign]
    try:
        gankit.train(bench.domain, model=bench.model, dataset=bench.dataset, steps=steps, batch_size=bench.batch,
                     seed=seed, log_every=log_every, sample_every=0, checkpoint_every=steps, num_preview=4,
                     device=str(device), out=str(out), quiet=True, **options, **bench.options)
    finally:
        MetricsLog.write = write  # type: ignore[method-assign]
    return bench.batch * (steps - log_every) / (times[steps] - times[log_every])


def variants(bench: Bench, device: torch.device, with_compile: bool) -> dict[str, dict[str, Any] | None]:
    """Variant name → gankit engine options (None: the plain loop)."""
    found: dict[str, dict[str, Any] | None] = {"plain": None, "gankit": {}}
    if device.type != "cuda":
        return found
    from gankit.models import Generator

    _, _, generator, _, _ = _build(bench, 0, torch.device("cpu"))
    graphs_ok = type(generator).on_step is Generator.on_step  # a schedule cannot be captured
    found["gankit fast"] = {"precision": "bf16", "cuda_graphs": graphs_ok}
    if with_compile:
        found["gankit compile"] = {"precision": "bf16", "compile": True}
    return found


def measure(bench: Bench, device: torch.device, steps: int, repeats: int, with_compile: bool,
            tmp: Path) -> dict[str, Any]:
    kinds = variants(bench, device, with_compile)
    names = list(kinds)
    log_every = min(bench.log_every[device.type if device.type == "cuda" else "cpu"], steps // 4)
    speeds: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(repeats):
        order = names[repeat % len(names):] + names[:repeat % len(names)]
        for name in order:
            engine = kinds[name]
            if engine is None:
                speeds[name].append(plain_loop(bench, steps, log_every, repeat, device))
            else:
                folder = tmp / f"{bench.name}-{name.replace(' ', '-')}-{repeat}"
                speeds[name].append(gankit_loop(bench, steps, log_every, repeat, device, folder, **engine))
    row: dict[str, Any] = {"model": bench.name, "options": " ".join(f"{k}={v}" for k, v in bench.options.items()),
                           "batch": bench.batch, "steps": steps}
    for name in names:
        row[f"{name} samples/s"] = round(statistics.median(speeds[name]), 1)
        if name != "plain":
            ratios = [v / p for v, p in zip(speeds[name], speeds["plain"])]
            row[f"{name} / plain"] = round(statistics.median(ratios), 3)
    row["raw"] = speeds
    return row


def machine(device: torch.device, threads: int) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, Python {sys.version.split()[0]}, "
            f"{threads} torch thread(s)")
    if device.type == "cuda":
        text += f", GPU {torch.cuda.get_device_name(device)}"
    return text


def table(rows: list[dict[str, Any]], header: str) -> str:
    columns = [key for key in rows[0] if key != "raw"]
    for row in rows[1:]:
        columns += [key for key in row if key not in columns and key != "raw"]
    lines = [header, "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(key, "")) for key in columns) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats (CPU: mlp and dcgan-32 only)")
    parser.add_argument("--models", default=None, help="comma-separated rows (default: all; --quick on CPU: "
                                                       f"{','.join(QUICK_CPU)})")
    parser.add_argument("--repeats", type=int, default=None, help="default: 3 with --quick, else 5")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--compile", action="store_true", help="add a bf16 + torch.compile column (CUDA)")
    parser.add_argument("--wall-clock", action="store_true", help="time CPU runs by the wall clock, not CPU time")
    parser.add_argument("--out", default=None, help="also write the table (Markdown) to this file")
    parser.add_argument("--json", default=None, help="write every measurement to this JSON file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("GANKIT_LOAD_PLUGINS", "")
    device = torch.device(args.device)
    by_cpu_time = device.type == "cpu" and not args.wall_clock
    CLOCK["now"] = time.process_time if by_cpu_time else time.perf_counter
    benches = BENCHES + text_benches()
    if args.models:
        wanted = args.models.split(",")
        unknown = set(wanted) - {b.name for b in benches}
        if unknown:
            parser.error(f"unknown model rows {sorted(unknown)}; choose from {[b.name for b in benches]}")
        benches = [next(b for b in benches if b.name == name) for name in wanted]  # in the order asked
    elif args.quick and device.type != "cuda":
        benches = [b for b in benches if b.name in QUICK_CPU]
    repeats = args.repeats or (3 if args.quick else 5)
    command = "python " + " ".join(shlex.quote(a) for a in ["benchmarks/throughput.py", *sys.argv[1:]])
    clock = "process CPU time" if by_cpu_time else "wall clock"
    header = (f"`{command}` — {machine(device, args.threads)}; timed by {clock}; median of {repeats} alternating "
              f"repeats (ratios: median of paired per-repeat ratios)")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for bench in benches:
            bench = bench.on(device)
            steps = (bench.cuda_steps if device.type == "cuda" else bench.cpu_steps)[0 if args.quick else 1]
            started = time.monotonic()
            row = measure(bench, device, steps, repeats, args.compile, Path(tmp))
            row["seconds"] = round(time.monotonic() - started, 1)
            rows.append(row)
            print(f"{bench.name}: " + ", ".join(f"{k}={v}" for k, v in row.items() if k != "raw"), file=sys.stderr,
                  flush=True)
            write_results(args, header, command, machine(device, args.threads), rows)  # each row as it comes
    print(table(rows, header))


def write_results(args: argparse.Namespace, header: str, command: str, machine_text: str,
                  rows: list[dict[str, Any]]) -> None:
    if args.out:
        Path(args.out).write_text(table(rows, header), encoding="utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps({"command": command, "machine": machine_text, "rows": rows}, indent=2),
                                   encoding="utf-8")

if __name__ == "__main__":
    main()
