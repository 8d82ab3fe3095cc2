"""The WaveGAN loop a practitioner writes by hand for spoken digits, outside gankit, to compare with.

    OMP_NUM_THREADS=1 python benchmarks/wavegan_handwritten.py --data ../shared/data/fsdd \
        --cpu-minutes 12 --out hand.npy
    gankit evaluate --samples hand.npy --domain audio --dataset fsdd --data ../shared/data/fsdd \
        -o normalize true

Plain PyTorch after Donahue, McAuley & Puckette (2019), "Adversarial Audio Synthesis", with
the recipe of issue 4: model size d = 8 (``--width``), WGAN-GP with lambda 10, five critic
updates per generator update, Adam 1e-4 with betas (0.5, 0.9) for both networks, batch 64,
no EMA. Clips: the FSDD recordings (8 kHz) read with soundfile, each the file's first 8192
samples, zero-padded (WaveGAN's SC09 recipe), and — like gankit's ``cpu`` preset, so that
both are scored against the same reference — scaled to a peak of 0.95 (``--no-normalize``
keeps the raw levels).

At 8192 samples the paper's 16384-sample model loses one layer: G is z (100) → dense →
32 × 8d → four transposed convolutions (kernel 25, stride 4, ReLU; tanh last) → 8192;
D mirrors it with strided convolutions (kernel 25, stride 4, LeakyReLU 0.2), phase shuffle
(n = 2) after each of the first three, and a dense layer to one score. Phase shuffle is
the paper's: one random shift in -n..n for the whole batch, edges filled by reflection.

The budget is CPU time (``time.process_time``) of this one-thread process, counted from the
first step (data loading excluded): the loop stops after the step that crosses
``--cpu-minutes``. On an idle machine that equals wall-clock; on a shared one it does not
count the time other jobs take the core. It writes ``--n`` clips from the trained generator
as float32 N×8192 in [-1, 1] (``gankit sample --format npy``'s audio format) and a JSON
log (steps, CPU and wall seconds, losses) beside them.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch import nn

RATE = 8000
LENGTH = 8192
LATENT = 100
KERNEL, STRIDE, PAD = 25, 4, 11
PEAK = 0.95
FSDD_NAME = re.compile(r"^\d_[^_]+_\d+\.wav$", re.IGNORECASE)


def load_clips(folder: Path, normalize: bool = True) -> torch.Tensor:
    """Every ``{digit}_{speaker}_{take}.wav`` in ``folder`` (or its ``recordings/``) as
    float32 N×1×8192: the first 8192 samples, zero-padded, optionally peak-normalised."""
    if (folder / "recordings").is_dir():
        folder = folder / "recordings"
    files = sorted(p for p in folder.iterdir() if FSDD_NAME.match(p.name))
    if not files:
        raise SystemExit(f"no FSDD recordings (7_jackson_32.wav) in {folder}")
    clips = np.zeros((len(files), LENGTH), dtype=np.float32)
    for i, path in enumerate(files):
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
        if rate != RATE:
            raise SystemExit(f"{path} is at {rate} Hz; this loop expects FSDD's {RATE} Hz")
        audio = audio.mean(axis=1)[:LENGTH]
        peak = np.abs(audio).max(initial=0.0)
        if normalize and peak > 0:
            audio = audio * (PEAK / peak)
        clips[i, :len(audio)] = np.clip(audio, -1, 1)
    return torch.from_numpy(clips).unsqueeze(1)


class PhaseShuffle(nn.Module):
    def __init__(self, n: int = 2):
        super().__init__()
        self.n = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shift = int(torch.randint(-self.n, self.n + 1, ()))
        if shift == 0:
            return x
        length = x.shape[-1]
        if shift > 0:  # move right, fill the start with its mirror image
            return nn.functional.pad(x[..., :length - shift], (shift, 0), mode="reflect")
        return nn.functional.pad(x[..., -shift:], (0, -shift), mode="reflect")


class Generator(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.d = d
        self.fc = nn.Linear(LATENT, 32 * 8 * d)
        ups = []
        for i, (cin, cout) in enumerate([(8 * d, 4 * d), (4 * d, 2 * d), (2 * d, d), (d, 1)]):
            ups += [nn.ConvTranspose1d(cin, cout, KERNEL, STRIDE, PAD, output_padding=1),
                    nn.ReLU() if i < 3 else nn.Tanh()]
        self.net = nn.Sequential(*ups)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(torch.relu(self.fc(z)).view(-1, 8 * self.d, 32))


class Discriminator(nn.Module):
    def __init__(self, d: int, shuffle: int = 2):
        super().__init__()
        layers: list[nn.Module] = []
        for i, (cin, cout) in enumerate([(1, d), (d, 2 * d), (2 * d, 4 * d), (4 * d, 8 * d)]):
            layers += [nn.Conv1d(cin, cout, KERNEL, STRIDE, PAD), nn.LeakyReLU(0.2)]
            if i < 3:
                layers.append(PhaseShuffle(shuffle))
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(32 * 8 * d, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


def gradient_penalty(d: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    alpha = torch.rand(len(real), 1, 1)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(d(mixed).sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def train(clips: torch.Tensor, cpu_seconds: float, *, width: int = 8, batch_size: int = 64, n_critic: int = 5,
          lam: float = 10.0, seed: int = 0, max_steps: int | None = None, log_every: int = 25,
          snapshot_every: int = 0) -> tuple[Generator, dict, list[dict]]:
    """Train until the loop's CPU time passes ``cpu_seconds`` (or ``max_steps``). Returns G,
    a summary, and G's weights every ``snapshot_every`` steps (for learning curves)."""
    torch.manual_seed(seed)
    g, d = Generator(width), Discriminator(width)
    opt_g = torch.optim.Adam(g.parameters(), 1e-4, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(d.parameters(), 1e-4, betas=(0.5, 0.9))
    cpu0, wall0 = time.process_time(), time.monotonic()
    step, log, snapshots = 0, [], []
    while time.process_time() - cpu0 < cpu_seconds and (max_steps is None or step < max_steps):
        for _ in range(n_critic):
            real = clips[torch.randint(len(clips), (batch_size,))]
            with torch.no_grad():
                fake = g(torch.randn(batch_size, LATENT))
            wasserstein = d(fake).mean() - d(real).mean()
            loss_d = wasserstein + lam * gradient_penalty(d, real, fake)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
        loss_g = -d(g(torch.randn(batch_size, LATENT))).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        step += 1
        if step % log_every == 0:
            log.append({"step": step, "cpu_s": round(time.process_time() - cpu0, 1),
                        "wall_s": round(time.monotonic() - wall0, 1), "d_loss": loss_d.item(),
                        "wasserstein": -wasserstein.item(), "g_loss": loss_g.item()})
            print(json.dumps(log[-1]), flush=True)
        if snapshot_every and step % snapshot_every == 0:
            snapshots.append({"step": step, "cpu_s": time.process_time() - cpu0, "width": width,
                              "state": {k: v.clone() for k, v in g.state_dict().items()}})
    summary = {"steps": step, "cpu_s": time.process_time() - cpu0, "wall_s": time.monotonic() - wall0,
               "width": width, "batch_size": batch_size, "n_critic": n_critic, "lambda": lam, "seed": seed,
               "log": log}
    return g.eval(), summary, snapshots


@torch.no_grad()
def draw(generator: Generator, n: int, seed: int) -> np.ndarray:
    z = torch.randn(n, LATENT, generator=torch.Generator().manual_seed(seed))
    return torch.cat([generator(part) for part in z.split(256)])[:, 0].clamp(-1, 1).numpy().astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/fsdd"))
    parser.add_argument("--cpu-minutes", type=float, default=12.0, help="budget: CPU time of the training loop")
    parser.add_argument("--max-steps", type=int, default=None, help="stop earlier at this many steps")
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-normalize", dest="normalize", action="store_false")
    parser.add_argument("--n", type=int, default=2000, help="samples to write")
    parser.add_argument("--snapshot-every", type=int, default=0, help="keep G's weights every N steps "
                        "(snapshots.pt beside --out)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="the .npy file to write")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clips = load_clips(args.data, args.normalize)
    generator, summary, snapshots = train(clips, args.cpu_minutes * 60, width=args.width,
                                          batch_size=args.batch_size, seed=args.seed, max_steps=args.max_steps,
                                          snapshot_every=args.snapshot_every)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.save(args.out, draw(generator, args.n, args.seed + 1))
    torch.save(generator.state_dict(), args.out.with_suffix(".pt"))
    if snapshots:
        torch.save(snapshots, args.out.with_name("snapshots.pt"))
    args.out.with_suffix(".json").write_text(json.dumps(summary, indent=1))
    print(f"{summary['steps']} steps in {summary['cpu_s']:.0f} CPU-s ({summary['wall_s']:.0f} s wall); "
          f"wrote {args.n} clips to {args.out}")


if __name__ == "__main__":
    main()
