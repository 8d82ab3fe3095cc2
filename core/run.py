"""A trained (or training) run, loaded from its directory or a checkpoint file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from .checkpoint import find_checkpoint, load_checkpoint, run_dir_of
from .config import ResolvedConfig, config_from_dict
from .devices import resolve_device
from .errors import GankitError
from .evaluation import canonical_cpu
from .registry import Registry, get_registry
from .rundir import read_metrics
from .specs import DataInfo, DomainSpec

SAMPLE_CHUNK = 256


class Run:
    """A run's generator, configuration and data description.

    ``generator`` is the EMA generator when the run kept one (it samples better), else the
    trained generator; it is in eval mode on ``device``.
    """

    def __init__(self, checkpoint_path: Path, state: dict[str, Any], registry: Registry, device: torch.device):
        self.checkpoint_path = checkpoint_path
        self.dir = run_dir_of(checkpoint_path)
        self.registry = registry
        self.device = device
        self.config: ResolvedConfig = config_from_dict(registry, state["config"])
        self.info = DataInfo.from_dict(state["data_info"])
        self.step: int = int(state["step"])
        self.total_steps: int = int(state["total_steps"])
        model_spec = registry.model(self.config.train.domain, self.config.train.model)
        generator, _ = model_spec.build(self.config.model_options, self.info)
        weights = state["generator_ema"] if state.get("generator_ema") is not None else state["generator"]
        generator.load_state_dict(weights)
        self.uses_ema = state.get("generator_ema") is not None or bool(state.get("exported_with_ema"))
        self.generator: nn.Module = generator.to(device).eval()
        self.generator.requires_grad_(False)

    @property
    def domain(self) -> DomainSpec:
        return self.registry.domain(self.config.train.domain)

    @property
    def metrics(self) -> list[dict[str, Any]]:
        """The records of ``metrics.jsonl``, one per logged step."""
        return read_metrics(self.dir)

    @torch.no_grad()
    def sample(self, n: int, *, seed: int = 0, labels: torch.Tensor | int | None = None) -> torch.Tensor:
        """``n`` samples in the domain's canonical form, on the CPU. The same ``seed`` gives
        the same samples. ``labels`` (one int or a tensor of ``n``) picks classes of a
        conditional model; by default classes cycle."""
        if n < 1:
            raise GankitError(f"the number of samples must be at least 1, got {n}")
        generator = torch.Generator(device="cpu").manual_seed(seed)
        label_tensor = self._labels(n, labels)
        chunks = []
        for start in range(0, n, SAMPLE_CHUNK):
            size = min(SAMPLE_CHUNK, n - start)
            z = self.generator.sample_latent(size, device="cpu", generator=generator).to(self.device)
            chunk_labels = label_tensor[start:start + size].to(self.device) if label_tensor is not None else None
            chunks.append(canonical_cpu(self.generator.generate(z, chunk_labels)))
        return torch.cat(chunks)

    def _labels(self, n: int, labels: torch.Tensor | int | None) -> torch.Tensor | None:
        num_classes = getattr(self.generator, "num_classes", 0)
        if num_classes == 0:
            if labels is not None:
                raise GankitError("this run's model is not conditional; it cannot sample by label")
            return None
        if labels is None:
            return torch.arange(n) % num_classes
        tensor = torch.full((n,), labels) if isinstance(labels, int) else torch.as_tensor(labels)
        if tensor.shape != (n,) or tensor.min() < 0 or tensor.max() >= num_classes:
            raise GankitError(f"labels must be {n} integers in 0..{num_classes - 1}")
        return tensor.long()

    def save_samples(
        self,
        out: str | Path,
        n: int,
        *,
        format: Literal["native", "npy"] = "native",
        seed: int = 0,
        labels: torch.Tensor | int | None = None,
    ) -> list[Path]:
        """Write ``n`` samples to ``out``: one file each in the domain's native format, or
        one ``samples.npy`` (with ``samples.json`` describing it)."""
        import numpy as np

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        batch = self.sample(n, seed=seed, labels=labels)
        if format == "native":
            return self.domain.write_samples(batch, out, self.info, 0)
        if format == "npy":
            array = self.domain.to_numpy(batch, self.info)
            np.save(out / "samples.npy", array)
            meta = {"domain": self.config.train.domain, "shape": list(array.shape), "dtype": str(array.dtype),
                    "sample_rate": self.info.sample_rate, "step": self.step, "seed": seed}
            (out / "samples.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
            return [out / "samples.npy", out / "samples.json"]
        raise GankitError(f"unknown sample format {format!r}; use native or npy")

    def __repr__(self) -> str:
        cfg = self.config.train
        return f"Run({str(self.dir)!r}, domain={cfg.domain!r}, model={cfg.model!r}, step={self.step})"


def load(run_or_checkpoint: str | Path, *, device: str = "cpu", registry: Registry | None = None) -> Run:
    """Open a run directory (its last checkpoint), a checkpoint file, or a folder written by
    ``gankit export``."""
    from .export import WEIGHTS, is_export, load_export

    torch_device = resolve_device(device)
    if is_export(Path(run_or_checkpoint)):
        path = Path(run_or_checkpoint) / WEIGHTS
        state = load_export(Path(run_or_checkpoint))
    else:
        path = find_checkpoint(run_or_checkpoint)
        state = load_checkpoint(path, map_location="cpu")
    return Run(path, state, registry or get_registry(), torch_device)
