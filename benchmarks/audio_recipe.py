"""How `wavegan` fares on spoken digits (FSDD) under a wall-clock budget on the CPU.

    python benchmarks/audio_recipe.py --data ../shared/data/fsdd --minutes 12 \
        --recipe cpu --recipe paper-w8-8192

Each recipe trains through gankit.train with ``max_minutes`` and is judged on 500 samples
(latent seed 1) by benchmarks/audio_judge.py against 500 real clips: spectral flatness
(noise ≈ 0.56, speech ≈ 0.06), periodicity at pitch lags (noise ≈ 0.19, speech ≈ 0.5),
the share of silent frames, the distance of the average log-mel spectrum to the data's
(dB), and diversity relative to the data. Previews (WAV + spectrogram PNG) are kept.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import gankit
from audio_judge import judge

RECIPES: dict[str, dict] = {
    "cpu": dict(preset="cpu"),
    # The hand-written baseline: WaveGAN's own recipe at width 8, 1 s clips.
    "paper-w8-8192": dict(preset="paper", width=8, length=8192),
    # The same small, short model as `cpu`, but with the paper's objective.
    "wgan-gp-w16-4096": dict(preset="cpu", objective="wgan-gp", penalty="gp", penalty_weight=10.0,
                             penalty_every=1, n_critic=5, lr_g=1e-4, lr_d=1e-4, betas_g=(0.5, 0.9),
                             betas_d=(0.5, 0.9)),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="../shared/data/fsdd")
    parser.add_argument("--minutes", type=float, default=12.0)
    parser.add_argument("--steps", type=int, default=1_000_000, help="stop earlier at this many steps")
    parser.add_argument("--recipe", action="append", help="a name from RECIPES or a JSON object of options")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/audio-recipe")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for recipe in args.recipe or ["cpu"]:
        options = RECIPES[recipe] if recipe in RECIPES else json.loads(recipe)
        name = recipe if recipe in RECIPES else "custom"
        options = {"normalize": True, **options, "max_minutes": args.minutes, "steps": args.steps,
                   "sample_every": 0, "log_every": 50}
        started = time.time()
        run = gankit.train("audio", dataset="fsdd", data=args.data, seed=args.seed, quiet=True,
                           out=f"{args.out}/{name}-s{args.seed}", **options)
        seconds = time.time() - started
        fake = run.sample(500, seed=1)
        real = run.config.dataset_options
        dataset = gankit.registry.get_registry().dataset("audio", "fsdd").build(real, Path(args.data))
        x = dataset.tensors[0]
        pick = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:500]
        scores = judge(fake, x[pick], run.info.sample_rate)
        run.domain.write_preview(fake[:8], run.dir / "judged", run.info)
        print(json.dumps({"recipe": name, "options": options, "steps": run.step, "seconds": round(seconds),
                          **{k: round(v, 3) for k, v in scores.items()}}), flush=True)


if __name__ == "__main__":
    main()
