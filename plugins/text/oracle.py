"""The oracle of SeqGAN/RelGAN's synthetic benchmark: an LSTM language model whose every
weight is drawn from N(0, 1) with a fixed seed. Its samples are the training data, and
because its likelihood is exact, a generator's samples can be scored by the oracle
(NLL_oracle: quality) and the oracle's held-out samples by the generator (NLL_gen:
diversity, at temperature 1).

SeqGAN and RelGAN use 5000 tokens, sequences of 20, embedding and hidden size 32. The
default here keeps the length and the network and shrinks the vocabulary to 200 so that a
text GAN learns it on a CPU (the generator's softmax and the discriminator's one-hot input
are as wide as the vocabulary).

Oracle tokens ``0..vocab-1`` are dataset ids ``OFFSET..OFFSET+vocab-1`` (ids below are the
special tokens); a sample is ``length`` tokens followed by the end token, which the oracle
emits with certainty after ``length`` tokens.
"""

from __future__ import annotations

import torch
from torch import nn

OFFSET = 4  # the special tokens <pad> <eos> <bos> <unk> come first in the dataset's vocabulary
CHUNK = 1024


class Oracle(nn.Module):
    """``vocab`` tokens; input index ``vocab`` is the start token."""

    def __init__(self, vocab: int, length: int, embed: int = 32, hidden: int = 32, seed: int = 0):
        super().__init__()
        self.vocab, self.length, self.seed = vocab, length, seed
        self.embedding = nn.Embedding(vocab + 1, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab)
        weights = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for parameter in self.parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=weights))
        self.requires_grad_(False)
        self.eval()

    def describe(self) -> dict[str, int | str]:
        return {"vocab": self.vocab, "length": self.length, "embed": self.embedding.embedding_dim,
                "hidden": self.lstm.hidden_size, "seed": self.seed, "init": "every weight N(0, 1)"}

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` sequences of oracle tokens (long, n × length), ancestral sampling at
        temperature 1 from a CPU ``generator``."""
        chunks = []
        for start in range(0, n, CHUNK):
            size = min(CHUNK, n - start)
            token = torch.full((size, 1), self.vocab, dtype=torch.long)
            state = None
            out = torch.empty(size, self.length, dtype=torch.long)
            for t in range(self.length):
                hidden, state = self.lstm(self.embedding(token), state)
                cdf = torch.softmax(self.out(hidden[:, -1]).double(), dim=-1).cumsum(dim=-1)
                u = torch.rand(size, 1, generator=generator, dtype=torch.double) * cdf[:, -1:]
                token = torch.searchsorted(cdf, u).clamp_(max=self.vocab - 1)  # inverse-CDF draw
                out[:, t] = token[:, 0]
            chunks.append(out)
        return torch.cat(chunks) if chunks else torch.empty(0, self.length, dtype=torch.long)

    @torch.no_grad()
    def nll(self, tokens: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood per token (nats) of each sequence of oracle tokens
        (n × length), by teacher forcing."""
        results = []
        for start in range(0, len(tokens), CHUNK):
            chunk = tokens[start:start + CHUNK].long()
            inputs = torch.cat([torch.full((len(chunk), 1), self.vocab, dtype=torch.long), chunk[:, :-1]], dim=1)
            hidden, _ = self.lstm(self.embedding(inputs))
            log_probs = torch.log_softmax(self.out(hidden).double(), dim=-1)
            results.append(-log_probs.gather(2, chunk.unsqueeze(2)).squeeze(2).mean(dim=1))
        return torch.cat(results) if results else torch.empty(0, dtype=torch.double)


def to_ids(tokens: torch.Tensor, eos_id: int) -> torch.Tensor:
    """Oracle tokens (n × length) as canonical dataset samples (n × length+1, ending in EOS)."""
    return torch.cat([tokens + OFFSET, torch.full((len(tokens), 1), eos_id, dtype=torch.long)], dim=1)


def from_ids(ids: torch.Tensor, length: int, vocab: int, eos_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Oracle tokens of canonical samples and a mask of the well-formed ones: ``length``
    oracle tokens then EOS. The others (an early end, a special token, a short length)
    have probability 0 under the oracle."""
    ids = ids.long()
    if ids.shape[1] < length + 1:
        return torch.zeros(len(ids), length, dtype=torch.long), torch.zeros(len(ids), dtype=torch.bool)
    tokens = ids[:, :length] - OFFSET
    ok = ((tokens >= 0) & (tokens < vocab)).all(dim=1) & (ids[:, length] == eos_id)
    return tokens.clamp(0, vocab - 1), ok
