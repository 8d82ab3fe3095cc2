"""The GPU fast path: what the engine does to keep an accelerator busy, each part switchable.

On by default because the numbers stay the same (up to the order of floating-point
operations): fused Adam, the channels-last memory format for convolutional image models on
CUDA (``--channels-last auto``), pinned memory, asynchronous copies and prefetching (see
:mod:`gankit.data`), and a training step that never waits on the device.

Opt-in because they change numerics or have limits: ``--precision bf16``,
``--compile`` (torch.compile of both phases' forward passes and losses; a penalty's double
backward stays eager, which AOTAutograd does not support) and ``--cuda-graphs`` (each
phase — forward, backward, optimiser step — captured once and replayed; see
:class:`PhaseGraph` for what that rules out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import nn

from .errors import GankitError

GRAPH_WARMUP_CALLS = 3  # eager calls of a phase (on a side stream) before it is captured


@dataclass(frozen=True)
class FastPath:
    """The resolved switches of one run."""

    channels_last: bool
    compile: bool
    cuda_graphs: bool

    def describe(self) -> str:
        parts = [name for name, on in (("channels-last", self.channels_last), ("compile", self.compile),
                                       ("cuda-graphs", self.cuda_graphs)) if on]
        return ", ".join(parts) or "none"


def resolve_fast_path(cfg: Any, device: torch.device, generator: nn.Module, discriminator: nn.Module, *,
                      uses_scaler: bool, distributed: bool) -> FastPath:
    """The switches for this run from ``--channels-last``, ``--compile`` and ``--cuda-graphs``;
    a combination that cannot work is a :class:`GankitError` saying what to change."""
    convolutional = uses_conv2d(generator) or uses_conv2d(discriminator)
    channels_last = cfg.channels_last == "on" or (cfg.channels_last == "auto" and device.type == "cuda" and convolutional)
    if cfg.cuda_graphs:
        problem = None
        if device.type != "cuda":
            problem = f"it needs a CUDA device (this run is on {device.type})"
        elif uses_scaler:
            problem = "fp16's GradScaler decides on the host whether to step; use --precision bf16 or 32"
        elif distributed:
            problem = "it does not capture the gradient all-reduce of a multi-process run"
        elif cfg.compile:
            problem = "--compile and --cuda-graphs are alternatives; choose one"
        elif type(generator).on_step is not _base_on_step():
            problem = (f"the generator {type(generator).__name__} changes itself before each step (on_step), "
                       f"which a captured graph would not see")
        if problem:
            raise GankitError(f"--cuda-graphs cannot be used here: {problem}")
    return FastPath(channels_last=channels_last, compile=cfg.compile, cuda_graphs=cfg.cuda_graphs)


def _base_on_step() -> Callable[..., None]:
    from .models import Generator

    return Generator.on_step


def uses_conv2d(module: nn.Module) -> bool:
    """Whether ``module`` holds a 2-D (transposed) convolution, which channels-last speeds up."""
    return any(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in module.modules())


def to_channels_last(*modules: nn.Module) -> None:
    """Convert the 4-D parameters and buffers of ``modules`` (convolution weights) in place."""
    for module in modules:
        module.to(memory_format=torch.channels_last)


def channels_last_batch(x: torch.Tensor) -> torch.Tensor:
    """A 4-D batch (N×C×H×W) in channels-last memory format; other tensors unchanged."""
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


def compile_function(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``torch.compile`` of one phase's forward-and-loss function (shapes are fixed: the
    batch size never changes during a run)."""
    return torch.compile(fn, dynamic=False)


class PhaseGraph:
    """One training phase run eagerly for its first :data:`GRAPH_WARMUP_CALLS` calls (on a
    side stream, as CUDA graph capture requires), then captured once in a CUDA graph and
    replayed: the inputs are copied into the captured input tensors, the graph replays every
    kernel of the forward pass, the backward pass and the optimiser step in one launch, and
    clones of its outputs are returned.

    What ``fn`` must respect (the engine's phases do): tensor inputs of a fixed shape (None
    stays None); no host synchronisation; Python-side effects only at capture (counters stay
    outside, device counters are updated in place); the optimiser built with
    ``capturable=True``; autocast without its weight cache; random numbers only from the
    default CUDA generator or from ``generators`` registered here. Learning rates and other
    Python numbers are fixed at capture.
    """

    def __init__(self, fn: Callable[..., tuple[torch.Tensor, ...]], device: torch.device,
                 generators: Sequence[torch.Generator] = ()):
        self.fn = fn
        self.device = device
        self.generators = tuple(generators)
        self.calls = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static_inputs: list[torch.Tensor | None] = []
        self.static_outputs: tuple[torch.Tensor, ...] = ()
        self.side_stream: torch.cuda.Stream | None = None

    def reset(self) -> None:
        """Forget the capture (after the optimiser's state was loaded anew, say): the next
        calls warm up and capture again."""
        self.calls = 0
        self.graph = None
        self.static_inputs, self.static_outputs = [], ()

    def __call__(self, *inputs: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
        if self.graph is None:
            if self.calls < GRAPH_WARMUP_CALLS:
                self.calls += 1
                return self._warmup(inputs)
            self._capture(inputs)
        for static, value in zip(self.static_inputs, inputs):
            if static is not None:
                static.copy_(value)
        assert self.graph is not None
        self.graph.replay()
        return tuple(out.clone() for out in self.static_outputs)

    def _warmup(self, inputs: Sequence[torch.Tensor | None]) -> tuple[torch.Tensor, ...]:
        if self.side_stream is None:
            self.side_stream = torch.cuda.Stream(self.device)
        current = torch.cuda.current_stream(self.device)
        self.side_stream.wait_stream(current)
        with torch.cuda.stream(self.side_stream):
            outputs = self.fn(*inputs)
        current.wait_stream(self.side_stream)
        return outputs

    def _capture(self, inputs: Sequence[torch.Tensor | None]) -> None:
        self.static_inputs = [value.clone() if value is not None else None for value in inputs]
        graph = torch.cuda.CUDAGraph()
        for generator in self.generators:
            graph.register_generator_state(generator)
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            self.static_outputs = tuple(self.fn(*self.static_inputs))
        self.graph = graph
