"""The word-level LSTM language model a practitioner writes by hand for COCO captions,
trained by maximum likelihood only: the bar a text GAN must beat.

    OMP_NUM_THREADS=1 python benchmarks/text_mle_baseline.py --data ../shared/data/text/image_coco_train.txt \\
        --cpu-seconds 240 --out runs/text/baseline

Plain PyTorch and its own loop: a vocabulary of every whitespace-separated word of the
training lines, embedding 64 → LSTM 128 → linear over the vocabulary, teacher-forced
cross-entropy with an end token, Adam 1e-2 (RelGAN's pre-training rate; 1e-3 learns
slower in a 4-minute budget), gradient norm clipped at 5, batch 64, lines reshuffled every
epoch. The budget is **CPU time of this one-thread process** (``time.process_time``), so
a busy machine does not shorten it: on an idle one it equals wall-clock for one thread.

gankit is used only to read the same training/held-out split as ``gankit train text
--dataset lines`` (``reference_fraction`` 0.1, ``data_seed`` 0: 9000 training lines, 1000
held out) and to score the samples: they are written as token ids in gankit's format
(``samples.npy``, the ids of the ``lines`` dataset's word tokenizer with ``max_length`` 0)
and scored by ``gankit.evaluation.evaluate_samples`` — the same BLEU, self-BLEU and
references as ``gankit evaluate`` on a GAN run. ``--temperatures`` samples and scores at
several softmax temperatures (the quality-diversity curve); ``result.json`` holds it all.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

BOS, EOS = "<bos>", "<eos>"
BOS_ID, IGNORE = 0, -100
METRICS = ("bleu", "diversity")


class WordLSTM(nn.Module):
    def __init__(self, vocab: int, embed: int, hidden: int):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, inputs: torch.Tensor, state=None):
        hidden, state = self.lstm(self.embed(inputs), state)
        return self.head(hidden), state


def encode(lines: list[str], index: dict[str, int]) -> list[list[int]]:
    return [[index[word] for word in line.split()] + [index[EOS]] for line in lines]


def batches(sequences: list[list[int]], batch_size: int, rng: torch.Generator):
    """Teacher-forcing batches, forever, reshuffled each epoch: inputs start with BOS,
    targets end with EOS, padding is IGNORE (the loss skips it)."""
    while True:
        order = torch.randperm(len(sequences), generator=rng).tolist()
        for start in range(0, len(sequences) - batch_size + 1, batch_size):
            chosen = [sequences[i] for i in order[start:start + batch_size]]
            targets = torch.full((batch_size, max(len(s) for s in chosen)), IGNORE, dtype=torch.long)
            for row, seq in enumerate(chosen):
                targets[row, :len(seq)] = torch.tensor(seq)
            inputs = torch.cat([torch.full((batch_size, 1), BOS_ID), targets[:, :-1].clamp(min=0)], dim=1)
            yield inputs, targets


@torch.no_grad()
def sample(model: WordLSTM, n: int, max_words: int, temperature: float, eos: int, seed: int) -> list[list[int]]:
    rng = torch.Generator().manual_seed(seed)
    token = torch.full((n, 1), BOS_ID, dtype=torch.long)
    state, out, ended = None, [], torch.zeros(n, dtype=torch.bool)
    for _ in range(max_words + 1):
        logits, state = model(token, state)
        logits = logits[:, -1]
        logits[:, BOS_ID] = -math.inf
        token = torch.multinomial(torch.softmax(logits / temperature, -1), 1, generator=rng)
        out.append(token[:, 0])
        ended |= token[:, 0] == eos
        if ended.all():
            break
    rows = torch.stack(out, 1).tolist()
    return [row[:row.index(eos)] if eos in row else row[:max_words] for row in rows]


def canonical_ids(texts: list[str], tokenizer, length: int) -> np.ndarray:
    """The samples as gankit's canonical ids (``tokens…, EOS, PAD…``, ``length`` a row) in the
    dataset's vocabulary; an empty sample is EOS alone, as a gankit generator writes it."""
    ids = np.full((len(texts), length), tokenizer.pad_id, dtype=np.int64)
    for row, tokens in enumerate(tokenizer.encode(texts)):
        tokens = tokens[:length - 1]
        ids[row, :len(tokens)] = tokens
        ids[row, len(tokens)] = tokenizer.eos_id
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="a text file, one caption a line")
    parser.add_argument("--cpu-seconds", type=float, default=240.0, help="training budget in CPU seconds (1 thread)")
    parser.add_argument("--out", required=True, help="folder for samples and result.json")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-n", type=int, default=1000, help="samples to score")
    parser.add_argument("--temperatures", default="1.0", help="comma-separated sampling temperatures")
    parser.add_argument("--embed", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)

    from gankit.evaluation import evaluate_samples
    from gankit.plugins.text.data_options import LinesOptions
    from gankit.plugins.text.datasets import build_lines

    dataset = build_lines(LinesOptions(), Path(args.data))  # gankit's split: the held-out lines are not trained on
    train = dataset.decoded()
    words = sorted({w for line in train for w in line.split()})
    vocab = [BOS, EOS] + words
    index = {w: i for i, w in enumerate(vocab)}
    eos = index[EOS]
    sequences = encode(train, index)
    max_words = max(len(s) for s in sequences) - 1

    model = WordLSTM(len(vocab), args.embed, args.hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss(ignore_index=IGNORE)
    stream = batches(sequences, args.batch_size, torch.Generator().manual_seed(args.seed))
    started, step, history = time.process_time(), 0, []
    while time.process_time() - started < args.cpu_seconds:
        inputs, targets = next(stream)
        logits, _ = model(inputs)
        loss = loss_fn(logits.reshape(-1, len(vocab)), targets.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        step += 1
        if step % 100 == 0:
            history.append({"step": step, "loss": loss.item(), "cpu_s": round(time.process_time() - started, 1)})
            print(f"step {step} loss {loss.item():.3f} cpu {time.process_time() - started:.0f}s", flush=True)
    train_cpu = time.process_time() - started
    model.eval()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for temperature in [float(t) for t in args.temperatures.split(",")]:
        texts = [" ".join(vocab[i] for i in row) for row in sample(model, args.n, max_words, temperature, eos,
                                                                   args.seed + 1)]
        ids = canonical_ids(texts, dataset.tokenizer, dataset.info.shape[0])
        np.save(out / f"samples-t{temperature:g}.npy", ids)
        (out / f"samples-t{temperature:g}.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
        scored = evaluate_samples(ids, domain="text", dataset="lines", data=args.data, n=args.n, metrics=METRICS)
        values = {k: v for m in METRICS for k, v in scored["metrics"][m]["values"].items()}
        results.append({"temperature": temperature, **values})
        print(json.dumps(results[-1]), flush=True)
    epochs = round(step * args.batch_size / len(train), 2)
    record = {"steps": step, "train_cpu_s": round(train_cpu, 1), "epochs": epochs,
              "vocab": len(vocab), "train_lines": len(train), "args": vars(args), "history": history,
              "results": results, "protocol": scored["metrics"]["bleu"]["protocol"]}
    (out / "result.json").write_text(json.dumps(record, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
