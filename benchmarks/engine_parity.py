"""Does a refactored engine train exactly as the one before it? Trains each built-in model
for a few steps with the gankit importable from the current directory, then with another
(an older checkout on PYTHONPATH), and compares every tensor of the final checkpoints.

    python benchmarks/engine_parity.py --other /path/to/old/site   # a folder holding the old `gankit` package

The other gankit runs in a subprocess with ``PYTHONPATH=OTHER`` (a folder whose ``gankit``
is the old ``core/`` with the old ``plugins/`` linked in as ``gankit/plugins``), so both
versions train in the same environment with the same seeds and one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

CASES = {
    "mlp": ("image", dict(model="mlp", count=512, batch_size=32, steps=30)),
    "mlp-conditional": ("image", dict(model="mlp", conditional=True, count=512, batch_size=32, steps=20)),
    "dcgan": ("image", dict(model="dcgan", size=32, channels=3, count=256, batch_size=16, steps=6)),
    "dcgan-wgan-gp": ("image", dict(model="dcgan", size=32, channels=1, count=256, batch_size=16, steps=4,
                                    objective="wgan-gp", penalty="gp", n_critic=2, d_norm="none")),
    "wavegan": ("audio", dict(model="wavegan", length=4096, sample_rate=8000, width=8, count=64, batch_size=8, steps=3)),
    "text-lstm": ("text", dict(model="lstm", batch_size=16, steps=6, pretrain_steps=4)),
}
COMMON = dict(sample_every=0, log_every=1, quiet=True, seed=3)

TRAIN = """
import json, sys, torch
torch.set_num_threads(1)
import gankit
domain, options = json.loads(sys.argv[1])
gankit.train(domain, **options)
"""


def train(domain: str, options: dict, out: Path, pythonpath: str | None) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GANKIT_LOAD_PLUGINS": ""}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    subprocess.run([sys.executable, "-c", TRAIN, json.dumps([domain, {**COMMON, **options, "out": str(out)}])],
                   env=env, check=True)
    return torch.load(out / "checkpoints" / "last.pt", weights_only=True)


def tensors(state: dict) -> dict[str, torch.Tensor]:
    found = {}
    for part in ("generator", "discriminator", "generator_ema"):
        for name, value in (state.get(part) or {}).items():
            found[f"{part}.{name}"] = value
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--other", required=True, help="folder holding the other version's `gankit` package")
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.cases.split(","):
            domain, options = CASES[name]
            new = tensors(train(domain, options, Path(tmp) / f"{name}-new", None))
            old = tensors(train(domain, options, Path(tmp) / f"{name}-old", args.other))
            assert new.keys() == old.keys(), (name, new.keys() ^ old.keys())
            diff = max(float((new[k].float() - old[k].float()).abs().max()) for k in new)
            rows.append((name, domain, options["steps"], len(new), diff))
            print(f"{name}: {len(new)} tensors, max |new - old| = {diff:.3g}", flush=True)
    print("\n| case | domain | steps | tensors | max abs difference |\n|---|---|---|---|---|")
    for name, domain, steps, count, diff in rows:
        print(f"| {name} | {domain} | {steps} | {count} | {diff:.3g} |")


if __name__ == "__main__":
    main()
