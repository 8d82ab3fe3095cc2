"""Are gankit's metrics the field's? gankit's FID Inception-v3 against pytorch-fid and
torch-fidelity on identical weights and inputs, the effect of the three resize conventions,
and text BLEU under gankit's protocol and the Texygen/RelGAN one. Prints the tables of
benchmarks/metrics_parity.md.

    pip install -e '.[parity]' nltk         # pytorch-fid, torch-fidelity (+ torchvision, scipy)
    OMP_NUM_THREADS=1 python benchmarks/metrics_parity.py image --mnist ../shared/data/mnist --out runs/parity
    OMP_NUM_THREADS=1 python benchmarks/metrics_parity.py text --data ../shared/data/text/image_coco_train.txt \\
        --out runs/parity [--train]        # --train: train `lstm --preset cpu` (about 5 CPU-minutes) and score it

**Image.** The real FID weights cannot be downloaded here, so one seeded random state dict
(``inception.random_state_dict``: the real keys and shapes, scaled so features neither
vanish nor explode) goes into all three networks; every download is refused. Two disjoint
seeded sets of ``--n`` MNIST test digits are written as 8-bit PNGs, and each tool scores the
files its own way: pytorch-fid's ``get_activations`` (PIL → ToTensor → its InceptionV3) and
``calculate_frechet_distance``; torch-fidelity's ``ImagesPathDataset`` →
``FeatureExtractorInceptionV3`` → ``fid_statistics_to_metric`` (what ``calculate_metrics``
runs); gankit's ``evaluate_samples`` (the ``folder`` dataset on set A as the reference, set
B as the samples), as ``gankit evaluate --samples`` does, in each resize mode.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ORDERS = (2, 3, 4, 5)
RELGAN_COCO = {2: 0.849, 3: 0.687, 4: 0.502}  # RelGAN (Nie et al. 2019), COCO, BLEU-2..4 as the issue quotes them
CPU_DATA = {"tokenizer": "word", "max_length": 21, "vocab_size": 3000}  # the lstm `cpu` preset's data options


def table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(value: Any) -> str:
        return f"{value:.6g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows])


# Image ---------------------------------------------------------------------------------------

def _refuse_downloads(state: dict[str, torch.Tensor]) -> None:
    """pytorch-fid's weights 'download' returns ``state``; anything else that downloads fails."""
    import pytorch_fid.inception as pfi
    import torch_fidelity.feature_extractor_inceptionv3 as tfi

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"download refused: {args[:1]}")

    pfi.load_state_dict_from_url = lambda url, **kwargs: state
    tfi.load_state_dict_from_url = refuse
    torch.hub.load_state_dict_from_url = refuse
    torch.hub.download_url_to_file = refuse


def _write_pngs(x: torch.Tensor, folder: Path) -> None:
    from PIL import Image

    from gankit.plugins.image.io import to_uint8

    folder.mkdir(parents=True, exist_ok=True)
    for i, pixels in enumerate(to_uint8(x)):
        Image.fromarray(pixels[:, :, 0]).save(folder / f"{i:05d}.png")


def image(args: argparse.Namespace) -> None:
    import pytorch_fid.fid_score as pfid
    import pytorch_fid.inception as pfi
    from torch_fidelity.datasets import ImagesPathDataset
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    from torch_fidelity.metric_fid import fid_featuresdict_to_statistics, fid_statistics_to_metric
    from torch_fidelity.utils import get_featuresdict_from_dataset

    import gankit
    from gankit.featurestats import frechet_distance, gaussian
    from gankit.plugins.image import inception
    from gankit.plugins.image.datasets import build_mnist
    from gankit.plugins.image.options import MNISTOptions

    out = Path(args.out)
    state = inception.random_state_dict(0)
    _refuse_downloads(state)
    weights = out / "random-fid-weights.pth"
    out.mkdir(parents=True, exist_ok=True)
    torch.save(state, weights)
    os.environ[inception.WEIGHTS_ENV] = str(weights)

    digits = build_mnist(MNISTOptions(split="test"), Path(args.mnist)).tensors[0]
    order = torch.randperm(len(digits), generator=torch.Generator().manual_seed(0))
    sets = {"a": digits[order[:args.n]].float(), "b": digits[order[args.n:2 * args.n]].float()}
    for name, x in sets.items():
        _write_pngs(x, out / name)
    np.save(out / "b.npy", (sets["b"].numpy() + 1) / 2)
    files = {name: sorted(str(p) for p in (out / name).glob("*.png")) for name in sets}
    clock: dict[str, float] = {}

    start = time.process_time()
    pfid_net = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
    pfid_features = {name: torch.from_numpy(pfid.get_activations(files[name], pfid_net, batch_size=25, dims=2048,
                                                                 device="cpu", num_workers=0)).double()
                     for name in sets}
    stats = {name: (f.numpy().mean(0), np.cov(f.numpy(), rowvar=False)) for name, f in pfid_features.items()}
    pfid_value = float(pfid.calculate_frechet_distance(*stats["a"], *stats["b"]))
    clock["pytorch-fid"] = time.process_time() - start

    start = time.process_time()
    tf_net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased", "logits"],
                                         feature_extractor_weights_path=str(weights))
    tf_features = {name: get_featuresdict_from_dataset(ImagesPathDataset(files[name]), tf_net, 25, False, True, False)
                   for name in sets}
    tf_value = fid_statistics_to_metric(fid_featuresdict_to_statistics(tf_features["a"], "2048"),
                                        fid_featuresdict_to_statistics(tf_features["b"], "2048"),
                                        False)["frechet_inception_distance"]
    clock["torch-fidelity"] = time.process_time() - start

    gankit_fid, gankit_features = {}, {}
    for mode in inception.RESIZE_MODES:
        start = time.process_time()
        result = gankit.evaluate_samples(out / "b.npy", domain="image", dataset="folder", data=str(out / "a"),
                                         options={"size": 28, "channels": 1}, n=args.n, metrics=["fid"],
                                         metric_options={"resize": mode})
        gankit_fid[mode] = result["metrics"]["fid"]["values"]["fid"]
        clock[f"gankit {mode}"] = time.process_time() - start
        if mode != "clean":
            net = inception.load_fid_inception(weights, mode)
            with torch.no_grad():
                gankit_features[mode] = {name: net(x) for name, x in sets.items()}

    ours = gankit_features["pytorch-fid"]
    rows = [
        ["pytorch-fid 0.3.0 (files)", "pool3 (2048)",
         max(float((ours[n][0].double() - pfid_features[n]).abs().max()) for n in sets)],
        ["torch-fidelity 0.4.0 (files)", "pool3 (2048)",
         max(float((gankit_features["torch-fidelity"][n][0] - tf_features[n]["2048"]).abs().max()) for n in sets)],
        ["torch-fidelity 0.4.0 (files)", "logits with fc bias (1008)",
         max(float((gankit_features["torch-fidelity"][n][1] - tf_features[n]["logits"]).abs().max()) for n in sets)],
        ["torch-fidelity 0.4.0 (files)", "logits without bias (1008)",
         max(float((gankit_features["torch-fidelity"][n][0] @ state["fc.weight"].T
                    - tf_features[n]["logits_unbiased"]).abs().max()) for n in sets)],
    ]
    scale = max(float(ours[n][0].abs().max()) for n in sets)
    print(f"## Features ({2 * args.n} MNIST digits, random weights; largest |feature| {scale:.3g})\n")
    print(table(["against", "output", "max abs difference"], rows))
    same = frechet_distance(*gaussian(pfid_features["a"]), *gaussian(pfid_features["b"]))
    print(f"\n## FID of set A against set B (n = {args.n} each)\n")
    print(table(["scored by", "resize", "FID", "CPU s"], [
        ["pytorch-fid: get_activations + calculate_frechet_distance (scipy sqrtm)", "its bilinear", pfid_value,
         round(clock["pytorch-fid"], 1)],
        ["torch-fidelity: ImagesPathDataset + fid_statistics_to_metric (eigvals)", "TF1 bilinear", tf_value,
         round(clock["torch-fidelity"], 1)],
        *[[f"gankit evaluate_samples --metric-option resize {mode}", mode, gankit_fid[mode],
           round(clock[f"gankit {mode}"], 1)] for mode in inception.RESIZE_MODES],
        ["gankit frechet_distance on pytorch-fid's own features", "its bilinear", same, "-"],
    ]))
    (out / "image.json").write_text(json.dumps({"n": args.n, "feature_diffs": rows,
                                                "pytorch_fid": pfid_value, "torch_fidelity": tf_value,
                                                "gankit": gankit_fid, "gankit_on_pytorch_fid_features": same,
                                                "cpu_seconds": clock}, indent=2))


# Text ----------------------------------------------------------------------------------------

def _coco(path: str) -> tuple[Any, list[str], list[str]]:
    """The `lines` dataset with the cpu preset's data options (quality_text.py's split), its
    1000 held-out lines and the 9000 raw training lines."""
    from collections import Counter

    from gankit.plugins.text.data_options import LinesOptions
    from gankit.plugins.text.datasets import build_lines

    dataset = build_lines(LinesOptions(**CPU_DATA), Path(path))
    held = list(dataset.reference_texts)
    remaining = Counter(held)
    train = []
    for line in (line for line in Path(path).read_text().splitlines() if line.strip()):
        if remaining[line] > 0:
            remaining[line] -= 1
        else:
            train.append(line)
    return dataset, held, train


def _leave_one_out(texts: list[str], tokenize: Any, count: int) -> dict[int, float]:
    """Mean BLEU of the first ``count`` texts, each against all the others."""
    from gankit.plugins.text import bleu

    words = [tokenize(text) for text in texts]
    references = bleu.References(words, max(ORDERS))
    totals = dict.fromkeys(ORDERS, 0.0)
    for index in range(count):
        for n, value in bleu.sentence_bleu(words[index], references, ORDERS, exclude=index).items():
            totals[n] += value
    return {n: total / count for n, total in totals.items()}


def _bleu_row(label: str, scores: dict[int, float], extra: str = "") -> list[Any]:
    return [label, *(round(scores[n], 3) for n in ORDERS), extra]


def text(args: argparse.Namespace) -> None:
    import gankit
    from gankit.plugins.text import bleu

    dataset, held, train = _coco(args.data)
    rng = np.random.default_rng(0)
    train_sample = [train[i] for i in rng.permutation(len(train))]
    ids = dataset.tensors[0][torch.randperm(len(dataset.tensors[0]), generator=torch.Generator().manual_seed(0))]
    np.save(Path(args.out) / "coco-train-ids.npy", ids[:1000].numpy())
    options = {**CPU_DATA}
    rows = []
    for protocol in ("gankit", "texygen"):
        result = gankit.evaluate_samples(Path(args.out) / "coco-train-ids.npy", domain="text", dataset="lines",
                                         data=args.data, options=options, n=1000, metrics=["bleu"],
                                         metric_options={"bleu_protocol": protocol})["metrics"]["bleu"]
        values = {n: result["values"][f"bleu{n}"] for n in ORDERS}
        rows.append(_bleu_row(f"real training lines through `lines` (vocab 3000) vs 1000 held-out, {protocol}",
                              values, f"{result['protocol']['samples']} hyps"))
    rows.append(_bleu_row("raw training lines vs 1000 held-out, gankit words", bleu.mean_bleu(
        [t.split() for t in train_sample[:1000]], [t.split() for t in held], ORDERS), "1000 hyps"))
    rows.append(_bleu_row("raw training lines vs 1000 held-out, texygen", bleu.texygen_bleu(train_sample, held),
                          "200 hyps"))
    rows.append(_bleu_row("held-out vs the other 999 held-out, gankit words", _leave_one_out(held, str.split, 1000),
                          "1000 hyps"))
    rows.append(_bleu_row("held-out vs the other 999 held-out, texygen",
                          _leave_one_out(held, bleu.word_tokenize, 200), "200 hyps"))
    for count in (1000, 3000, 9000):
        rows.append(_bleu_row(f"200 held-out lines vs {count} raw training lines, texygen",
                              bleu.texygen_bleu(held, train_sample[:count]), f"{count} refs"))
    rows.append(["RelGAN (100), COCO, its generator vs 10000 test lines (paper)", *RELGAN_COCO.values(), "-", ""])
    print("## BLEU of real COCO captions\n")
    print(table(["hypotheses vs references, protocol", "BLEU-2", "BLEU-3", "BLEU-4", "BLEU-5", "note"], rows))
    run = Path(args.out) / "lstm-cpu"
    if args.train and not (run / "checkpoints" / "last.pt").is_file():
        start = time.process_time()
        gankit.train("text", model="lstm", dataset="lines", data=args.data, preset="cpu", seed=0, out=str(run),
                     max_minutes=1e6, quiet=True)
        print(f"\n(trained in {time.process_time() - start:.0f} CPU seconds)")
    if (run / "checkpoints" / "last.pt").is_file():
        model_rows = []
        for label, checkpoint in (("MLE (step 0)", "step-0000000.pt"), ("MLE + GAN (last)", "last.pt")):
            for protocol in ("gankit", "texygen"):
                result = gankit.evaluate(run / "checkpoints" / checkpoint, n=1000, metrics=["bleu"],
                                         metric_options={"bleu_protocol": protocol})["metrics"]["bleu"]
                model_rows.append(_bleu_row(f"lstm --preset cpu, {label}, {protocol}",
                                            {n: result["values"][f"bleu{n}"] for n in ORDERS},
                                            f"{result['protocol']['samples']} hyps"))
        print("\n## BLEU of a trained generator (vs 1000 held-out lines)\n")
        print(table(["run, protocol", "BLEU-2", "BLEU-3", "BLEU-4", "BLEU-5", "note"], model_rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", choices=["image", "text"])
    parser.add_argument("--out", default="runs/parity")
    parser.add_argument("--mnist", default="../shared/data/mnist", help="folder with MNIST's t10k IDX files")
    parser.add_argument("--n", type=int, default=32, help="images per set")
    parser.add_argument("--data", default="../shared/data/text/image_coco_train.txt")
    parser.add_argument("--train", action="store_true", help="train lstm --preset cpu when OUT/lstm-cpu has no run")
    args = parser.parse_args()
    torch.set_num_threads(1)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    image(args) if args.part == "image" else text(args)


if __name__ == "__main__":
    main()
