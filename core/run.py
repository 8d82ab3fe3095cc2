"""A trained (or training) run, loaded from its directory or a checkpoint file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from .checkpoint import find_checkpoint, load_checkpoint, run_dir_of
from .conditions import condition_size, condition_tensors, map_condition
from .config import ResolvedConfig, config_from_dict
from .devices import resolve_device
from .errors import GankitError
from .registry import Registry, get_registry
from .rundir import read_metrics
from .samples import canonical_cpu
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
    def sample(self, n: int | None = None, *, seed: int = 0, labels: torch.Tensor | int | None = None,
               conditions: Any = None) -> torch.Tensor:
        """``n`` samples in the domain's canonical form, on the CPU. The same ``seed`` gives
        the same samples. ``labels`` (one int or a tensor of ``n``) picks classes of a
        class-conditional model; by default classes cycle. A model conditioned on tensors
        needs ``conditions``: one per sample (a tensor with a row each, a dict of such
        tensors, or a file :meth:`read_conditions` reads); ``n`` defaults to their count."""
        n, cond = self._conditions(n, labels, conditions)
        generator = torch.Generator(device="cpu").manual_seed(seed)
        chunks = []
        for start in range(0, n, SAMPLE_CHUNK):
            size = min(SAMPLE_CHUNK, n - start)
            z = self.generator.sample_latent(size, device="cpu", generator=generator)
            z = z.to(self.device) if z is not None else None
            chunk_cond = map_condition(lambda t: t[start:start + size].to(self.device), cond)
            chunks.append(canonical_cpu(self.generator.generate(z, chunk_cond)))
        return torch.cat(chunks)

    def read_conditions(self, path: str | Path) -> Any:
        """Conditions from a file: what the domain reads (``DomainSpec.read_conditions``: a
        vocoder reads audio), else a ``.npy`` array with one condition per row or a ``.npz``
        of named arrays (a dict condition)."""
        import numpy as np

        path = Path(path)
        if not path.is_file():
            raise GankitError(f"conditions file {str(path)!r} does not exist")
        if self.domain.read_conditions is not None:
            return self.domain.read_conditions(path, self.info)
        try:
            if path.suffix.lower() == ".npz":
                with np.load(path, allow_pickle=False) as arrays:
                    return {name: torch.from_numpy(arrays[name].copy()) for name in arrays.files}
            if path.suffix.lower() == ".npy":
                return torch.from_numpy(np.load(path, allow_pickle=False))
        except (OSError, ValueError) as exc:
            raise GankitError(f"cannot read conditions from {str(path)!r}: {exc}") from None
        raise GankitError(f"conditions file {str(path)!r}: domain {self.config.train.domain!r} reads conditions "
                          f"from .npy (one row per sample) or .npz (named arrays) files")

    def _conditions(self, n: int | None, labels: torch.Tensor | int | None, conditions: Any) -> tuple[int, Any]:
        """The sample count and the batched condition to generate from."""
        if isinstance(conditions, (str, Path)):
            conditions = self.read_conditions(conditions)
        if conditions is None:
            if n is None:
                raise GankitError("give the number of samples (or conditions to sample from)")
            if n < 1:
                raise GankitError(f"the number of samples must be at least 1, got {n}")
            if self.generator.conditional and self.generator.num_classes == 0:
                raise GankitError("this run's model generates from conditions: pass conditions "
                                  "(`gankit sample --conditions FILE`, or conditions=... in Python)")
            return n, self._labels(n, labels)
        if labels is not None:
            raise GankitError("give labels or conditions, not both")
        if not self.generator.conditional:
            raise GankitError("this run's model is not conditional; it cannot sample from conditions")
        count = condition_size(conditions)
        if count is None or any(not isinstance(t, torch.Tensor) for t in condition_tensors(conditions)):
            raise GankitError("conditions must be a tensor (one row per sample) or a dict of such tensors")
        if n is not None and n != count:
            raise GankitError(f"{count} conditions were given for {n} samples; give one condition per sample")
        if any(t.shape[0] != count for t in condition_tensors(conditions)):
            raise GankitError("every tensor of the conditions needs one row per sample")
        floating = map_condition(lambda t: t.float() if t.is_floating_point() else t, conditions)
        if self.generator.num_classes > 0:
            return count, self._labels(count, floating)
        return count, floating

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
        n: int | None = None,
        *,
        format: Literal["native", "npy"] = "native",
        seed: int = 0,
        labels: torch.Tensor | int | None = None,
        conditions: Any = None,
    ) -> list[Path]:
        """Write ``n`` samples to ``out``: one file each in the domain's native format, or
        one ``samples.npy`` (with ``samples.json`` describing it). ``labels`` and
        ``conditions`` are :meth:`sample`'s."""
        import numpy as np

        batch = self.sample(n, seed=seed, labels=labels, conditions=conditions)
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
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
