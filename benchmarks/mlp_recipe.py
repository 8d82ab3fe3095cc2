"""How the seed's MLP GAN fares on MNIST under different recipes.

    python benchmarks/mlp_recipe.py --data ../shared/data/mnist --steps 3000 \
        --recipe textbook --recipe default

Each recipe trains `mlp` through gankit.train and is judged by a small MNIST classifier
(benchmarks/mnist_judge.py): the Inception-Score-style number (10 is the ceiling for ten
equally used, confidently recognised classes), classes seen, and the spread of pixels
across samples (near 0 means every sample is the same blob).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

import gankit
from mnist_judge import judge, train_judge

RECIPES: dict[str, dict] = {
    "default": dict(),  # gankit's defaults for mlp, whatever the model registers
    "textbook": dict(preset="textbook"),  # non-saturating, Adam 2e-4 / beta1 0.5, nothing else
    "seed": dict(preset="seed"),  # the blog post's settings, with its loss bugs fixed
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="../shared/data/mnist")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, action="append")
    parser.add_argument("--recipe", action="append", help="a name from RECIPES or a JSON object of options")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keep", default=None, help="folder to keep the runs in")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    net = train_judge(Path(args.data), Path(tempfile.gettempdir()) / "gankit-mnist-judge.pt")
    out_root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="mlp-recipe-"))
    for recipe in args.recipe or ["textbook", "default"]:
        options = RECIPES[recipe] if recipe in RECIPES else json.loads(recipe)
        for seed in args.seed or [0]:
            out = out_root / f"{recipe if recipe in RECIPES else 'custom'}-{seed}-{int(time.time())}"
            started = time.perf_counter()
            run = gankit.train("image", model="mlp", dataset="mnist", data=args.data, steps=args.steps,
                               batch_size=args.batch_size, seed=seed, out=str(out), quiet=True,
                               sample_every=0, **options)
            seconds = time.perf_counter() - started
            scores = judge(net, run.sample(1000, seed=1))
            print(json.dumps({"recipe": recipe, "seed": seed, "seconds": round(seconds, 1),
                              **{k: round(v, 3) for k, v in scores.items()}, "run": str(out)}), flush=True)


if __name__ == "__main__":
    main()
