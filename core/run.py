"""A trained (or training) run, loaded from its directory or a checkpoint file."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Mapping, Sequence

import torch
from torch import nn

from .checkpoint import check_sampling_state, find_checkpoint, load_checkpoint, run_dir_of
from .conditions import condition_size, condition_tensors, map_condition
from .config import ResolvedConfig, config_from_dict
from .devices import resolve_device
from .errors import GankitError
from .limits import available_memory, check_model_size
from .outputs import StagedFolder, check_free_space, format_bytes
from .registry import Registry, get_registry
from .rundir import read_metrics
from .samples import canonical_cpu
from .specs import DataInfo, DomainSpec

SAMPLE_CHUNK = 256
CHUNK_BYTES = 256 * 2**20  # the most one chunk of samples holds in memory (a chunk is smaller for huge samples)
MAX_SAMPLE_ELEMENTS = 2**28  # one sample of more values (1 GiB as float32) is not a real run's

# A condition for samples start..start+size (a slice of the labels or conditions, made lazily
# so a count of 1e11 never allocates a label per sample).
ChunkCondition = Callable[[int, int], Any]
# What samples must meet, for domains that make their conditions: {KEY: VALUE} or (KEY, VALUE) pairs.
Where = Mapping[str, str] | Sequence[tuple[str, str]] | None
MAX_DRAWS_PER_SAMPLE = 100  # sampling with conditions gives up after this many draws per sample asked for


class Run:
    """A run's generator, configuration and data description.

    ``generator`` is the EMA generator when the run kept one (it samples better), else the
    trained generator; it is in eval mode on ``device``.
    """

    def __init__(self, checkpoint_path: Path, state: dict[str, Any], registry: Registry, device: torch.device):
        from .export import CONFIG, WEIGHTS

        self.checkpoint_path = checkpoint_path
        self.dir = run_dir_of(checkpoint_path)
        self.registry = registry
        self.device = device
        # Everything read from the file is checked before a byte is allocated for it.
        where = checkpoint_path.with_name(CONFIG) if checkpoint_path.name == WEIGHTS else checkpoint_path
        check_sampling_state(state, where)
        self.config: ResolvedConfig = _stored_config(registry, state["config"], where)
        self.info = _stored_info(state["data_info"], where)
        self.step: int = state["step"]
        self.total_steps: int = state["total_steps"]
        model_spec = registry.model(self.config.train.domain, self.config.train.model)

        def build() -> tuple[nn.Module, nn.Module]:
            return model_spec.build(self.config.model_options, self.info)

        check_model_size(build, f"the configuration in {str(where)!r}")
        try:
            generator, _ = build()
            weights = state["generator_ema"] if state.get("generator_ema") is not None else state["generator"]
            generator.load_state_dict(weights)
        except GankitError:
            raise
        except Exception as exc:  # a damaged or foreign file: say so instead of a plugin's traceback
            raise GankitError(f"cannot rebuild the generator of {str(where)!r} from its configuration and weights "
                              f"({type(exc).__name__}: {_first_line(exc)}); the file is damaged or from another "
                              f"version of the model") from None
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
               conditions: Any = None, where: Where = None) -> torch.Tensor:
        """``n`` samples in the domain's canonical form, on the CPU. The same ``seed`` gives
        the same samples. ``labels`` (one int or a tensor of ``n``) picks classes of a
        class-conditional model; by default classes cycle. A model conditioned on tensors
        needs ``conditions``: one per sample (a tensor with a row each, a dict of such
        tensors, or a file :meth:`read_conditions` reads); ``n`` defaults to their count.
        A count whose samples would not fit in memory is refused: :meth:`save_samples`
        streams any count to disk. When the domain makes the conditions of a model conditioned
        on tensors (``DomainSpec.sample_conditions``), plain ``sample(n)`` works, and ``where``
        (``{"workclass": "Private"}``, or ``(KEY, VALUE)`` pairs with a key repeated for
        several values) keeps only samples that meet it."""
        n, batches = self._sample_batches(n, seed, labels, conditions, where)
        samples: torch.Tensor | None = None
        for start, batch in batches:
            if samples is None:
                needed = batch[:1].numel() * batch.element_size() * n
                available = available_memory()
                if available is not None and needed > available:
                    raise GankitError(f"{n:,} samples take about {format_bytes(needed)} in memory, more than the "
                                      f"{format_bytes(available)} available; write them to disk in chunks instead: "
                                      f"run.save_samples(out, n) or `gankit sample RUN -n {n} --out DIR`")
                samples = torch.empty((n, *batch.shape[1:]), dtype=batch.dtype)
            samples[start:start + len(batch)] = batch
        assert samples is not None  # n >= 1
        return samples

    def _batches(self, n: int, seed: int, condition: ChunkCondition) -> Iterator[tuple[int, torch.Tensor]]:
        """The samples in chunks, each with the index of its first sample: the same samples
        for a seed however they are consumed (the latents come from one seeded stream)."""
        generator = torch.Generator(device="cpu").manual_seed(seed)
        per_sample = math.prod(self.info.shape) * (8 if "int64" in self.info.dtype else 4)
        chunk = max(1, min(SAMPLE_CHUNK, CHUNK_BYTES // max(per_sample, 1)))
        for start in range(0, n, chunk):
            size = min(chunk, n - start)
            z = self.generator.sample_latent(size, device="cpu", generator=generator)
            z = z.to(self.device) if z is not None else None
            chunk_cond = map_condition(lambda t: t.to(self.device), condition(start, size))
            yield start, canonical_cpu(self.generator.generate(z, chunk_cond))

    def _sample_batches(self, n: int | None, seed: int, labels: Any, conditions: Any,
                        where: Where) -> tuple[int, Iterator[tuple[int, torch.Tensor]]]:
        if where or (conditions is None and labels is None and self._domain_conditions()):
            if n is None or isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise GankitError(f"the number of samples must be an integer of at least 1, got {n!r}")
            pairs = [(str(k), str(v)) for k, v in (where.items() if isinstance(where, Mapping) else where or ())]
            return n, self._domain_batches(n, seed, pairs)
        n, condition = self._conditions(n, labels, conditions)
        return n, self._batches(n, seed, condition)

    def _domain_conditions(self) -> bool:
        """Whether the domain makes the conditions of this generator conditioned on tensors."""
        return bool(self.generator.conditional and self.generator.num_classes == 0
                    and self.domain.sample_conditions is not None)

    def _domain_batches(self, n: int, seed: int, pairs: list[tuple[str, str]]) -> Iterator[tuple[int, torch.Tensor]]:
        """Samples from conditions the domain makes for ``pairs``, drawn again until ``n``
        pass its test (the same samples for a seed: latents and conditions share one stream)."""
        if not self._domain_conditions():
            raise GankitError(f"domain {self.config.train.domain!r} with model {self.config.train.model!r} cannot "
                              f"sample by KEY=VALUE conditions (--condition)")
        generator = torch.Generator(device="cpu").manual_seed(seed)
        made = drawn = 0
        while made < n:
            if drawn >= MAX_DRAWS_PER_SAMPLE * n:
                shown = ", ".join(f"{k}={v}" for k, v in pairs)
                raise GankitError(f"only {made} of {drawn} samples met {shown}; the model rarely makes them: ask for "
                                  f"fewer samples or fewer conditions")
            size = SAMPLE_CHUNK if pairs else min(SAMPLE_CHUNK, n - made)
            cond, accept = self.domain.sample_conditions(pairs, size, self.info, generator)
            z = self.generator.sample_latent(size, device="cpu", generator=generator)
            z = z.to(self.device) if z is not None else None
            batch = canonical_cpu(self.generator.generate(z, map_condition(lambda t: t.to(self.device), cond)))
            drawn += size
            if accept is not None:
                batch = batch[accept(batch)][:n - made]
            if len(batch):
                yield made, batch
                made += len(batch)

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

    def _conditions(self, n: int | None, labels: torch.Tensor | int | None,
                    conditions: Any) -> tuple[int, ChunkCondition]:
        """The sample count and the condition of each chunk of samples."""
        if isinstance(conditions, (str, Path)):
            conditions = self.read_conditions(conditions)
        if conditions is None:
            if n is None:
                raise GankitError("give the number of samples (or conditions to sample from)")
            if isinstance(n, bool) or not isinstance(n, int):
                raise GankitError(f"the number of samples must be an integer, got {n!r}")
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
        return count, lambda start, size: map_condition(lambda t: t[start:start + size], floating)

    def _labels(self, n: int, labels: torch.Tensor | int | None) -> ChunkCondition:
        num_classes = getattr(self.generator, "num_classes", 0)
        if num_classes == 0:
            if labels is not None:
                raise GankitError("this run's model is not conditional; it cannot sample by label")
            return lambda start, size: None
        if labels is None:
            return lambda start, size: torch.arange(start, start + size) % num_classes
        if isinstance(labels, int) and not isinstance(labels, bool):
            if not 0 <= labels < num_classes:
                raise GankitError(f"labels must be integers in 0..{num_classes - 1}, got {labels}")
            return lambda start, size: torch.full((size,), labels, dtype=torch.long)
        tensor = torch.as_tensor(labels)
        if tensor.shape != (n,) or tensor.min() < 0 or tensor.max() >= num_classes:
            raise GankitError(f"labels must be {n} integers in 0..{num_classes - 1}")
        tensor = tensor.long()
        return lambda start, size: tensor[start:start + size]

    def save_samples(
        self,
        out: str | Path,
        n: int | None = None,
        *,
        format: Literal["native", "npy"] = "native",
        seed: int = 0,
        labels: torch.Tensor | int | None = None,
        conditions: Any = None,
        where: Where = None,
    ) -> list[Path]:
        """Write ``n`` samples to the folder ``out``: one file each in the domain's native
        format, or one ``samples.npy`` (with ``samples.json`` describing it). ``labels``,
        ``conditions`` and ``where`` are :meth:`sample`'s. ``out`` may instead be a file whose
        suffix the domain writes every sample into (``DomainSpec.sample_file_writers``: a
        table's ``synth.csv``), made in memory, as :meth:`sample` makes them.

        Samples are generated and written a chunk at a time, so any count fits in memory;
        a count whose files would not fit on the disk is refused with the estimate after
        the first chunk. The files appear in ``out`` only once all are complete: a full
        disk, a read-only folder or Ctrl-C leaves no partial file (see
        :class:`gankit.outputs.StagedFolder`)."""
        if format not in ("native", "npy"):
            raise GankitError(f"unknown sample format {format!r}; use native or npy")
        writer = self.domain.sample_file_writers.get(Path(out).suffix.lower()) if format == "native" else None
        if writer is not None and not Path(out).is_dir():
            return [writer(self.sample(n, seed=seed, labels=labels, conditions=conditions, where=where), Path(out),
                           self.info)]
        n, batches = self._sample_batches(n, seed, labels, conditions, where)
        with StagedFolder(out, "samples") as folder:
            if format == "npy":
                staged = self._write_npy(folder, n, batches, seed)
            else:
                staged = self._write_native(folder, n, batches)
            folder.commit()
            return [folder.final(path) for path in staged]

    def _write_native(self, folder: StagedFolder, n: int, batches: Iterator[tuple[int, torch.Tensor]]) -> list[Path]:
        written: dict[Path, None] = {}  # ordered and without repeats: a domain may add to one file (text)
        for start, batch in batches:
            try:
                paths = self.domain.write_samples(batch, folder.staging, self.info, start)
            except (OSError, GankitError):
                raise
            except Exception as exc:  # a writer library's own error for a failed write (soundfile's, say)
                raise GankitError(f"cannot write the samples to {str(folder.target)!r}: domain "
                                  f"{self.config.train.domain!r} could not write them ({type(exc).__name__}: "
                                  f"{_first_line(exc)}); partial files were removed") from None
            written.update(dict.fromkeys(Path(p) for p in paths))
            if start == 0 and len(batch) < n:
                per_sample = sum(path.stat().st_size for path in written) / len(batch)
                files = round(len(written) / len(batch) * (n - len(batch))) if len(written) > 1 else 0
                check_free_space(folder.target, int(per_sample * (n - len(batch))), f"{n:,} samples", files=files)
        return list(written)

    def _write_npy(self, folder: StagedFolder, n: int, batches: Iterator[tuple[int, torch.Tensor]],
                   seed: int) -> list[Path]:
        """``samples.npy`` written as it is generated: the header, then each chunk's rows.
        (Plain writes, not a memory map: a full disk fails a write with an error, where it
        would kill a process writing through a memory map with SIGBUS.)"""
        import numpy as np

        path = folder.staging / "samples.npy"
        shape: tuple[int, ...] = ()
        dtype = None
        with open(path, "wb") as handle:
            for start, batch in batches:
                array = np.ascontiguousarray(self.domain.to_numpy(batch, self.info))
                if start == 0:
                    shape, dtype = (n, *array.shape[1:]), array.dtype
                    check_free_space(folder.target, array[:1].nbytes * n, f"{n:,} samples")
                    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
                    np.lib.format.write_array_header_1_0(handle, header)
                elif array.dtype != dtype or array.shape[1:] != shape[1:]:
                    raise GankitError(f"domain {self.config.train.domain!r}: to_numpy gave {array.dtype} rows of shape "
                                      f"{array.shape[1:]} after {dtype} rows of shape {shape[1:]}")
                handle.write(array.data)
            handle.flush()
            os.fsync(handle.fileno())
        meta = {"domain": self.config.train.domain, "shape": list(shape), "dtype": str(dtype),
                "sample_rate": self.info.sample_rate, "step": self.step, "seed": seed}
        (folder.staging / "samples.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return [path, folder.staging / "samples.json"]

    def __repr__(self) -> str:
        cfg = self.config.train
        return f"Run({str(self.dir)!r}, domain={cfg.domain!r}, model={cfg.model!r}, step={self.step})"


def _stored_config(registry: Registry, data: Mapping[str, Any], where: str | Path) -> ResolvedConfig:
    """A configuration read from a checkpoint or export, every value checked."""
    for key in ("domain", "model", "dataset"):
        if not isinstance(data.get(key), str):
            raise GankitError(f"{str(where)!r} is damaged or not gankit's: its configuration's {key!r} must be a "
                              f"name, found {data.get(key)!r}")
    for key in ("model_options", "dataset_options"):
        if not isinstance(data.get(key, {}), dict):
            raise GankitError(f"{str(where)!r} is damaged or not gankit's: its configuration's {key!r} must be a table")
    try:
        return config_from_dict(registry, data)
    except GankitError as exc:
        raise GankitError(f"{str(where)!r}: {exc}") from None
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise GankitError(f"{str(where)!r} is damaged or not gankit's: its configuration is not valid "
                          f"({type(exc).__name__}: {_first_line(exc)})") from None


def _stored_info(data: Mapping[str, Any], where: str | Path) -> DataInfo:
    """A data description read from a checkpoint or export, checked: the sizes a model and
    its samples are built from."""
    def bad(what: str) -> GankitError:
        return GankitError(f"{str(where)!r} is damaged or not gankit's: its data_info {what}")

    shape = data.get("shape")
    if not (isinstance(shape, (list, tuple)) and 1 <= len(shape) <= 8
            and all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in shape)):
        raise bad(f"shape must be a list of positive integers, found {shape!r}")
    if math.prod(shape) > MAX_SAMPLE_ELEMENTS:
        raise bad(f"shape {list(shape)} makes samples of {math.prod(shape):,} values, more than gankit handles "
                  f"({MAX_SAMPLE_ELEMENTS:,})")
    for key in ("num_classes", "sample_rate", "vocab_size"):
        value = data.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise bad(f"{key!r} must be a non-negative integer, found {value!r}")
    if not isinstance(data.get("dtype", ""), str) or not isinstance(data.get("extra", {}), dict):
        raise bad("'dtype' must be a name and 'extra' a table")
    try:
        return DataInfo.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise bad(f"is not valid ({type(exc).__name__}: {_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


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
