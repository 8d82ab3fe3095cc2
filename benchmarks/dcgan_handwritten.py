"""The DCGAN loop a practitioner writes by hand for MNIST, outside gankit, to compare with.

    python benchmarks/dcgan_handwritten.py --data ../shared/data/mnist --steps 1500 --out hand.npy
    gankit evaluate --samples hand.npy --domain image --dataset mnist --data ../shared/data/mnist

Plain PyTorch, after the PyTorch DCGAN example, sized like gankit's 28-pixel ``dcgan``
(G: z=100 → 128×7×7 → 64×14×14 → 1×28×28 with transposed convolutions, BatchNorm, ReLU,
tanh; D: 1×28×28 → 64×14×14 → 128×7×7 → one logit with strided convolutions, BatchNorm
and LeakyReLU 0.2; weights N(0, 0.02)), BCE with the non-saturating generator loss,
Adam 2e-4 (0.5, 0.999) for both networks, batch 64, no EMA, data reshuffled each epoch.
It writes ``--n`` samples from the trained generator (eval mode) as a float32 array
N×1×28×28 in [0, 1], the format ``gankit sample --format npy`` writes and
``gankit evaluate --samples`` reads.
"""

from __future__ import annotations

import argparse
import gzip
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn


def read_idx(path: Path) -> np.ndarray:
    raw = gzip.open(path, "rb").read() if path.suffix == ".gz" else path.read_bytes()
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_images(folder: Path) -> torch.Tensor:
    name = "t10k-images-idx3-ubyte"
    path = folder / f"{name}.gz" if (folder / f"{name}.gz").exists() else folder / name
    return torch.from_numpy(read_idx(path).astype(np.float32) / 127.5 - 1).unsqueeze(1)


def init_weights(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def networks(latent: int = 100, width: int = 64) -> tuple[nn.Module, nn.Module]:
    g = nn.Sequential(
        nn.ConvTranspose2d(latent, width * 2, 7, 1, 0, bias=False), nn.BatchNorm2d(width * 2), nn.ReLU(True),
        nn.ConvTranspose2d(width * 2, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(True),
        nn.ConvTranspose2d(width, 1, 4, 2, 1, bias=False), nn.Tanh(),
    )
    d = nn.Sequential(
        nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2, True),
        nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2), nn.LeakyReLU(0.2, True),
        nn.Flatten(), nn.Linear(width * 2 * 7 * 7, 1),
    )
    g.apply(init_weights)
    d.apply(init_weights)
    return g, d


def train(images: torch.Tensor, steps: int, batch_size: int, seed: int, latent: int = 100) -> nn.Module:
    torch.manual_seed(seed)
    g, d = networks(latent)
    opt_g = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    ones, zeros = torch.ones(batch_size, 1), torch.zeros(batch_size, 1)
    step = 0
    while step < steps:
        for batch in torch.randperm(len(images)).split(batch_size):
            if len(batch) < batch_size or step == steps:
                break
            real = images[batch]
            fake = g(torch.randn(batch_size, latent, 1, 1))
            loss_d = bce(d(real), ones) + bce(d(fake.detach()), zeros)
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            loss_g = bce(d(fake), ones)
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            step += 1
    return g.eval()


@torch.no_grad()
def draw(generator: nn.Module, n: int, seed: int, latent: int = 100) -> np.ndarray:
    z = torch.randn(n, latent, 1, 1, generator=torch.Generator().manual_seed(seed))
    return ((generator(z) + 1) / 2).clamp(0, 1).numpy().astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/mnist"))
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=2000, help="samples to write")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="the .npy file to write")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images = load_images(args.data)
    started = time.monotonic()
    generator = train(images, args.steps, args.batch_size, args.seed)
    seconds = time.monotonic() - started
    np.save(args.out, draw(generator, args.n, args.seed + 1))
    print(f"{args.steps} steps of batch {args.batch_size} in {seconds:.0f} s; wrote {args.n} samples to {args.out}")


if __name__ == "__main__":
    main()
