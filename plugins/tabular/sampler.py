"""CTGAN's conditional vector and training-by-sampling (Xu et al. 2019, section 4.3).

For each row of a batch a discrete column is chosen uniformly, then one of its categories
with probability proportional to its log-frequency (``log(1 + count)``: rare categories are
trained on), and a real row holding that category is drawn uniformly. The condition is the
one-hot of that category over all discrete columns' categories (``vector``) with the
one-hot of the chosen column (``mask``), which the generator's cross-entropy term reads.

Outside training each row carries the condition of a uniformly chosen column and the row's
own category in it: conditions drawn that way have the categories' true frequencies, so a
generator conditioned on them reproduces the table's distribution (CTGAN's own sampler
draws them by log-frequency again, which over-represents rare categories).
"""

from __future__ import annotations

import numpy as np
import torch

from .transformer import Layout


class ConditionSampler:
    """Draws ``(row indices, condition)`` from the category codes of every row."""

    def __init__(self, codes: np.ndarray, layout: Layout, log_frequency: bool = True):
        self.layout = layout
        self.rows = codes.shape[0]
        self.columns = codes.shape[1]
        sizes = [end - start for start, end in layout.discrete]
        self.offsets = torch.tensor(layout.cond_offsets, dtype=torch.long)
        counts = [np.bincount(codes[:, j], minlength=size) for j, size in enumerate(sizes)]
        self.counts = [torch.from_numpy(c) for c in counts]
        width = max(sizes, default=1)
        cumulative = torch.ones(max(self.columns, 1), width, dtype=torch.float64)
        for j, c in enumerate(counts):
            weights = np.log1p(c) if log_frequency else c.astype(np.float64)
            cumulative[j, :len(c)] = torch.from_numpy(np.cumsum(weights / weights.sum()))
        self.cumulative = cumulative
        self.sizes = torch.tensor(sizes or [1], dtype=torch.long)
        # Rows grouped by (column, category): the rows of category c of column j are
        # order[starts[offset_j + c] : starts[offset_j + c] + flat_counts[offset_j + c]].
        order, starts, flat_counts, position = [], [], [], 0
        for j in range(self.columns):
            by_category = np.argsort(codes[:, j], kind="stable")
            order.append(by_category)
            for count in counts[j]:
                starts.append(position)
                flat_counts.append(int(count))
                position += int(count)
        self.order = torch.from_numpy(np.concatenate(order)) if order else torch.zeros(0, dtype=torch.long)
        self.starts = torch.tensor(starts, dtype=torch.long)
        self.flat_counts = torch.tensor(flat_counts, dtype=torch.long)

    def draw(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Training-by-sampling: the rows to train on and their conditions."""
        if self.columns == 0:
            rows = torch.randint(self.rows, (batch_size,), generator=generator)
            return rows, self.condition(torch.zeros(batch_size, dtype=torch.long),
                                        torch.zeros(batch_size, dtype=torch.long))
        column = torch.randint(self.columns, (batch_size,), generator=generator)
        u = torch.rand(batch_size, 1, generator=generator, dtype=torch.float64)
        category = (u > self.cumulative[column]).sum(dim=1)
        category = torch.minimum(category, self.sizes[column] - 1)
        flat = self.offsets[column] + category
        pick = (torch.rand(batch_size, generator=generator, dtype=torch.float64) * self.flat_counts[flat]).long()
        rows = self.order[self.starts[flat] + pick]
        return rows, self.condition(column, category)

    def condition(self, column: torch.Tensor, category: torch.Tensor) -> dict[str, torch.Tensor]:
        return condition_vectors(column, category, self.layout)

    def row_conditions(self, codes: np.ndarray, seed: int) -> dict[str, torch.Tensor]:
        """Each row's own condition: a seeded uniform column and the row's category in it."""
        n = codes.shape[0]
        if self.columns == 0:
            return self.condition(torch.zeros(n, dtype=torch.long), torch.zeros(n, dtype=torch.long))
        column = np.random.default_rng(seed).integers(self.columns, size=n)
        category = codes[np.arange(n), column]
        return self.condition(torch.from_numpy(column), torch.from_numpy(category))


def condition_vectors(column: torch.Tensor, category: torch.Tensor, layout: Layout) -> dict[str, torch.Tensor]:
    """The condition vectors and column masks of chosen (discrete column, category) pairs."""
    n, count = column.shape[0], len(layout.discrete)
    vector, mask = torch.zeros(n, layout.cond_width), torch.zeros(n, count)
    if count:
        index = torch.arange(n)
        vector[index, torch.tensor(layout.cond_offsets, dtype=torch.long)[column] + category] = 1.0
        mask[index, column] = 1.0
    return {"vector": vector, "mask": mask}
