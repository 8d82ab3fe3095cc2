"""How `dcgan` trains on MNIST (28 px) under different recipes, against a hand-written loop.

    python benchmarks/dcgan_recipe.py --data ../shared/data/mnist --steps 1500 \
        --recipe handwritten --recipe default

`handwritten` is the plain-PyTorch loop of benchmarks/dcgan_handwritten.py (the one
everyone writes from the PyTorch DCGAN example: networks of the same sizes as gankit's,
BCE with the non-saturating generator loss, Adam 2e-4 (0.5, 0.999) for both, no EMA,
reshuffled data each epoch). The rows of dcgan_recipe.md were measured with an earlier
version that trained gankit's own DCGANGenerator/DCGANDiscriminator classes in the same
loop. Every other recipe goes through gankit.train. Each run is judged on 1000
samples (latent seed 1, classes cycling for conditional runs) by the small MNIST
classifier of benchmarks/mnist_judge.py; gankit runs are judged as `Run.sample` draws them
(G-EMA in eval mode when the run keeps an EMA), and also with the raw generator
(`"g_eval"`, eval mode) so the EMA's share can be seen.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

import gankit
from gankit.plugins.image.dcgan import DCGANDiscriminator, DCGANGenerator
from gankit.plugins.image.options import DCGANOptions
import dcgan_handwritten
from mnist_judge import judge, train_judge

_ADAM = {"betas_g": (0.5, 0.999), "betas_d": (0.5, 0.999)}
RECIPES: dict[str, dict] = {
    "default": dict(),  # gankit's defaults for dcgan, whatever the model registers
    "paper": dict(preset="paper"),  # at the --batch-size given here (64), not the paper's 128
    # The rows of benchmarks/dcgan_recipe.md, spelled out so they do not move with the defaults.
    "textbook": dict(d_norm="batchnorm", objective="non-saturating", penalty="none", lr_g=2e-4, lr_d=2e-4,
                     ema_decay=0.0, **_ADAM),
    "bn-lr8": dict(d_norm="batchnorm", objective="non-saturating", penalty="none", lr_g=8e-4, lr_d=8e-4,
                   ema_decay=0.999, **_ADAM),
    "r1-lr8": dict(d_norm="none", objective="non-saturating", penalty="r1", penalty_weight=10.0, lr_g=8e-4,
                   lr_d=8e-4, ema_decay=0.999, **_ADAM),
}


def handwritten(data: Path, steps: int, batch_size: int, seed: int) -> torch.Tensor:
    """1000 samples in [-1, 1] of the plain-PyTorch loop of benchmarks/dcgan_handwritten.py."""
    generator = dcgan_handwritten.train(dcgan_handwritten.load_images(data), steps, batch_size, seed)
    return torch.from_numpy(dcgan_handwritten.draw(generator, 1000, 1)) * 2 - 1


@torch.no_grad()
def draw(generator: nn.Module, n: int, seed: int) -> torch.Tensor:
    z = generator.sample_latent(n, generator=torch.Generator().manual_seed(seed))
    labels = torch.arange(n) % generator.num_classes if generator.num_classes else None
    return generator.generate(z, labels)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="../shared/data/mnist")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, action="append")
    parser.add_argument("--recipe", action="append", help="handwritten, a name from RECIPES or a JSON object of options")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--keep", default=None, help="folder to keep the runs in")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    net = train_judge(Path(args.data), Path(tempfile.gettempdir()) / "gankit-mnist-judge.pt")
    out_root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="dcgan-recipe-"))
    for recipe in args.recipe or ["handwritten", "default"]:
        for seed in args.seed or [0]:
            started = time.perf_counter()
            extra: dict[str, object] = {}
            if recipe == "handwritten":
                samples = handwritten(Path(args.data), args.steps, args.batch_size, seed)
                out = None
            else:
                options = RECIPES[recipe] if recipe in RECIPES else json.loads(recipe)
                out = out_root / f"{recipe if recipe in RECIPES else 'custom'}-{seed}-{int(time.time())}"
                options = {"steps": args.steps, "batch_size": args.batch_size, **options}
                run = gankit.train("image", model="dcgan", dataset="mnist", data=args.data, seed=seed,
                                   out=str(out), quiet=True, sample_every=0, **options)
                samples = run.sample(1000, seed=1)
                if run.uses_ema:  # the same run judged without its EMA
                    state = torch.load(run.checkpoint_path, weights_only=True, map_location="cpu")
                    raw, _ = run.registry.model("image", "dcgan").build(run.config.model_options, run.info)
                    raw.load_state_dict(state["generator"])
                    extra["g_eval"] = round(judge(net, draw(raw.eval(), 1000, 1))["inception_score"], 3)
            seconds = time.perf_counter() - started
            scores = judge(net, samples)
            print(json.dumps({"recipe": recipe, "seed": seed, "seconds": round(seconds, 1),
                              **{k: round(v, 3) for k, v in scores.items()}, **extra, "run": str(out)}), flush=True)


if __name__ == "__main__":
    main()
