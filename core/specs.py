"""What plugins register: frozen dataclasses describing domains, models, datasets,
objectives, metrics and presets, plus the ``DataInfo`` a dataset describes itself with.

Nothing here imports torch, so loading the registry (``gankit --help``, ``gankit list``)
stays fast. Callables in specs import what they need when called.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch
    from torch import nn
    from torch.utils.data import Dataset


@dataclass(frozen=True)
class NoOptions:
    """The options dataclass of a spec that takes none."""


@dataclass(frozen=True)
class DataInfo:
    """How a dataset describes one sample, so models adapt to the data.

    ``shape`` is one sample's shape in the domain's canonical form (image: C×H×W,
    audio: 1×T, text: (length,)). ``num_classes`` is 0 for unlabelled data.
    ``extra`` holds domain-specific plain data (a tokenizer as JSON, say); it must stay
    JSON-serialisable because it is stored in checkpoints and ``config.json``.
    """

    shape: tuple[int, ...]
    dtype: str = "float32"
    value_range: tuple[float, float] | None = (-1.0, 1.0)
    num_classes: int = 0
    sample_rate: int | None = None
    vocab_size: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["shape"] = list(self.shape)
        data["value_range"] = list(self.value_range) if self.value_range is not None else None
        data["extra"] = dict(self.extra)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "DataInfo":
        data = dict(data)
        data["shape"] = tuple(data["shape"])
        if data.get("value_range") is not None:
            data["value_range"] = tuple(data["value_range"])
        return cls(**data)


@dataclass(frozen=True)
class DomainSpec:
    """A kind of data (image, audio, text, ...) and how its samples are written.

    ``write_samples(batch, out_dir, info, start)`` writes one file per sample in the
    domain's native format (names ``sample-{start+i:05d}.{ext}``) and returns the paths.
    ``write_preview(batch, path_without_suffix, info)`` writes one preview (a PNG grid,
    a WAV, a text file) and returns its path. ``write_paired_preview(fake, real,
    conditions, path_without_suffix, info)``, optional, replaces it when the preview's
    conditions are the dataset's first items (a generator conditioned on tensors): ``real``
    holds those items' real samples and ``fake`` what the generator made from
    ``conditions``, all canonical and on the CPU, so the preview can set them side by side.
    It returns the generated samples' file; files of the other versions are named
    ``path_without_suffix.VERSION.EXT`` (``gankit report`` plays ``.original`` first,
    the generated file last, other versions between, captioned with their name).
    ``to_numpy(batch, info)`` converts samples for ``--format npy`` (images in [0, 1]); ``from_numpy(array, info)`` is its inverse, for
    scoring samples made elsewhere (``gankit evaluate --samples``), and checks the array
    fits ``info``. ``prepare_real(batch, info)`` turns a real
    batch into what the discriminator consumes (text: ids → one-hot); ``None`` means the
    batch is passed unchanged. ``make_augment(policy, info)`` returns the function
    ``augment(batch, generator)`` that ``--augment POLICY`` applies to everything the
    discriminator sees in training (DiffAugment); ``None``: the domain has none.
    ``write_run_files(run_dir, info)``, when given, writes files a run needs besides its
    checkpoints (text: the tokenizer folder); training calls it on rank 0 when a run
    starts or resumes. ``read_conditions(path, info)`` reads the conditions ``gankit sample
    --conditions PATH`` generates from, in the form the generator takes (a vocoder: a WAV
    file's mel-spectrogram); without it only ``.npy`` files (one condition per row) are read.
    ``sample_conditions(where, n, info, generator)``, for a generator conditioned on tensors,
    returns the conditions of ``n`` samples and a test ``accept(batch) -> bool tensor`` (or
    None): with ``where`` empty, the conditions plain sampling uses (``gankit sample -n N``
    without ``--conditions``); with ``(KEY, VALUE)`` pairs (``gankit sample --condition
    KEY=VALUE``), conditions that ask for them, drawing from ``generator``; sampling draws
    again until ``n`` samples pass ``accept`` (a table: conditioned on ``workclass=Private``).
    ``sample_file_writers`` maps a file suffix (``".csv"``) to ``writer(batch, path, info)``:
    ``gankit sample --out FILE`` with that suffix writes every sample into that one file.
    """

    name: str
    description: str
    default_model: str
    default_dataset: str
    write_samples: Callable[["torch.Tensor", Path, DataInfo, int], list[Path]]
    write_preview: Callable[["torch.Tensor", Path, DataInfo], Path]
    to_numpy: Callable[["torch.Tensor", DataInfo], "np.ndarray"]
    prepare_real: Callable[["torch.Tensor", DataInfo], "torch.Tensor"] | None = None
    from_numpy: Callable[["np.ndarray", DataInfo], "torch.Tensor"] | None = None
    make_augment: Callable[[str, DataInfo], Callable[["torch.Tensor", "torch.Generator"], "torch.Tensor"]] | None = None
    write_run_files: Callable[[Path, DataInfo], None] | None = None
    read_conditions: Callable[[Path, DataInfo], Any] | None = None
    sample_conditions: Callable[[Sequence[tuple[str, str]], int, DataInfo, "torch.Generator"],
                                tuple[Any, Callable[["torch.Tensor"], "torch.Tensor"] | None]] | None = None
    sample_file_writers: Mapping[str, Callable[["torch.Tensor", Path, DataInfo], Path]] = field(default_factory=dict)
    write_paired_preview: Callable[["torch.Tensor", "torch.Tensor", Any, Path, DataInfo], Path] | None = None


@dataclass(frozen=True)
class AuxLossSpec:
    """An auxiliary generator loss a model or dataset declares: a named, weighted term added
    to the generator's adversarial loss (L1 on a mel-spectrogram, L1 on pixels, a
    cross-entropy on a conditioned column).

    ``build(model_options, dataset_options, info)`` returns the function
    ``loss(real, fake, cond) -> scalar tensor`` for a run: ``real`` is the real batch,
    ``fake`` what the generator made for the condition ``cond`` (the fake batch's
    condition; for paired conditions the real batch's). A returned ``nn.Module`` is moved
    to the run's device and its state is checkpointed. ``weight`` is the default weight;
    ``--aux-weights NAME=W`` changes it (0 turns the term off). The unweighted value is
    logged as ``aux/NAME``.
    """

    name: str
    weight: float
    build: Callable[[Any, Any, DataInfo], Callable[..., "torch.Tensor"]]
    description: str = ""


@dataclass(frozen=True)
class ModelSpec:
    """A generator/discriminator pair for one domain.

    ``build(options, info)`` returns ``(generator, discriminator)``: the generator follows
    :class:`gankit.models.Generator`, the discriminator maps a batch (and labels, when
    conditional) to one logit per sample. ``options`` is the typed dataclass of the model's
    options; ``defaults`` are training options this model works best with (objective,
    learning rates, ...), applied above the engine's defaults and below a preset.
    ``presets`` are named bundles of training and model options (``--preset NAME``).
    ``aux_losses`` are the generator's auxiliary losses (:class:`AuxLossSpec`).
    ``cpu_preset`` names the preset a run on the CPU uses when no ``--preset`` is given: for
    a model whose defaults are sized for a GPU (``--preset none`` keeps the defaults).
    """

    name: str
    domain: str
    description: str
    build: Callable[[Any, DataInfo], tuple["nn.Module", "nn.Module"]]
    options: type = NoOptions
    defaults: Mapping[str, Any] = field(default_factory=dict)
    presets: Mapping[str, "Preset"] = field(default_factory=dict)
    aux_losses: tuple[AuxLossSpec, ...] = ()
    cpu_preset: str | None = None


@dataclass(frozen=True)
class Preset:
    """A named recipe: training options (``steps``, ``lr_g``, ``objective``, ...) and
    model/dataset options, with a line saying what it is for."""

    description: str
    options: Mapping[str, Any]


@dataclass(frozen=True)
class DatasetSpec:
    """A source of real samples for one domain.

    ``build(options, data_path)`` returns a ``torch.utils.data.Dataset`` of ``(x, cond)``
    pairs with an ``info`` attribute (:class:`DataInfo`); ``cond`` is an integer class (-1:
    unlabelled), a tensor or a dict of tensors (see :mod:`gankit.conditions`). A dataset that holds everything in
    memory may also expose ``tensors = (x_all, y_all)`` in canonical form; the engine then
    gathers batches by indexing instead of going through a DataLoader. One that stores
    samples compactly (images as uint8) exposes ``storage = (stored_x, y_all)`` and
    ``decode(stored_rows) -> canonical rows`` as well (see :class:`gankit.data.InMemoryDataset`):
    the engine indexes the storage and decodes each batch on the device; ``tensors`` and
    items stay canonical. A ``description`` string attribute,
    if present, is printed when training starts (which split, how many samples). ``data_path`` is ``--data`` or
    ``None``; ``needs_data`` says the dataset cannot work without it. A dataset whose
    batches are not uniform shuffles (training-by-sampling, class-balanced batches, random
    segments of long recordings) defines ``draw(batch_size, generator) -> (x, cond)``: the
    engine then asks it for each batch, with a ``torch.Generator`` seeded by the stream's
    position (so a resumed run draws the same batches) and never shuffles it itself; an
    epoch is still ``len(dataset) // batch_size`` batches. ``aux_losses`` are
    auxiliary generator losses the data implies (:class:`AuxLossSpec`).
    """

    name: str
    domain: str
    description: str
    build: Callable[[Any, Path | None], "Dataset"]
    options: type = NoOptions
    needs_data: bool = False
    aux_losses: tuple[AuxLossSpec, ...] = ()


@dataclass(frozen=True)
class ObjectiveSpec:
    """An adversarial objective. Both losses see both sides' logits, so relativistic
    objectives fit: ``d_loss(real_logits, fake_logits)`` and
    ``g_loss(real_logits, fake_logits)``, each returning a scalar tensor to minimise.
    ``g_uses_real`` says whether ``g_loss`` reads ``real_logits`` (if not, the engine
    skips the discriminator pass over real data in the generator phase and passes None).
    ``penalty`` is the penalty this objective implies when the user chose none
    (``wgan-gp`` → ``"gp"``). ``lipschitz`` says the loss means something only for a
    Lipschitz-constrained discriminator (a Wasserstein critic, unbounded otherwise): the
    engine refuses it without a penalty or ``--weight-clip``.
    """

    name: str
    description: str
    d_loss: Callable[["torch.Tensor", "torch.Tensor"], "torch.Tensor"]
    g_loss: Callable[["torch.Tensor | None", "torch.Tensor"], "torch.Tensor"]
    g_uses_real: bool = False
    penalty: str | None = None
    lipschitz: bool = False


@dataclass
class EvalContext:
    """What a metric may use besides the generated samples.

    ``real`` are ``n`` real samples drawn at random (seeded) from the dataset, in canonical
    form on the CPU, with their ``real_labels``: their conditions (class ids, -1 when
    unlabelled; or tensors / dicts of tensors). ``fake_labels`` are the conditions the fake
    samples were generated for (conditional models: for tensor conditions, the real
    subset's own), else None.
    ``dataset`` is the whole training dataset, for metrics that fit something to it (a
    feature network, an n-gram model); ``dataset_key`` identifies it stably (name, options,
    data path) so what a metric fits can be cached under ``cache_dir``. ``generator`` is
    the generator that made the fakes (in eval mode), for metrics that need more than
    samples (text: the likelihood it gives real data), or None when the samples came from
    elsewhere. ``options`` is an instance of the metric's ``MetricSpec.options`` built from
    the user's ``--metric-option`` values, or None (the metric's defaults).
    """

    real: "torch.Tensor"
    real_labels: "torch.Tensor"
    fake_labels: "torch.Tensor | None"
    info: DataInfo
    dataset: Any
    dataset_key: str
    cache_dir: Path
    device: "torch.device"
    seed: int = 0
    generator: Any = None
    options: Any = None


@dataclass(frozen=True)
class MetricResult:
    """Metric values (floats) and the protocol that produced them (feature network, sample
    counts, reference set, ...), stored beside every result so numbers can be compared."""

    values: Mapping[str, float]
    protocol: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricSpec:
    """A measure of sample quality for one domain.

    ``compute(fake, context)`` takes the generated batch (canonical form, CPU) and an
    :class:`EvalContext` and returns a :class:`MetricResult`. ``primary`` names the value
    ``--eval-every`` tracks (and keeps ``best.pt`` by); ``higher_is_better`` is its
    direction. A domain's first registered metric with a ``primary`` is its primary metric.
    A metric that does not apply to the data at hand (an Inception Score without labels)
    returns no values and says why in ``protocol["skipped"]``. ``options`` is the metric's
    options dataclass (``gankit evaluate --metric-option KEY VALUE``), or None; metrics of a
    domain that share a setting declare it under the same name.
    """

    name: str
    domain: str
    description: str
    compute: Callable[["torch.Tensor", EvalContext], MetricResult]
    primary: str = ""
    higher_is_better: bool = False
    options: type | None = None


def lazy(target: str) -> Callable[..., Any]:
    """A callable that imports ``"package.module:function"`` on its first call and then
    forwards to it, so a plugin module can name its factories without importing torch
    (registering must stay cheap: ``gankit --help`` loads every plugin)."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"lazy() expects 'package.module:function', got {target!r}")
    resolved: list[Callable[..., Any]] = []

    def call(*args: Any, **kwargs: Any) -> Any:
        if not resolved:
            import importlib

            resolved.append(getattr(importlib.import_module(module_name), attribute))
        return resolved[0](*args, **kwargs)

    call.__name__ = attribute
    call.__qualname__ = attribute
    call.__doc__ = f"Imports and calls {target}."
    return call
