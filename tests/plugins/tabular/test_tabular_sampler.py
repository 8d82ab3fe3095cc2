"""CTGAN's training-by-sampling: a column uniformly, a category by log-frequency, a row of it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gankit.plugins.tabular.sampler import ConditionSampler
from gankit.plugins.tabular.transformer import Layout

# Two discrete columns: 3 categories (counts 800, 150, 50) and 2 categories (500, 500).
CODES = np.stack([np.repeat([0, 1, 2], [800, 150, 50]), np.tile([0, 1], 500)], axis=1)
LAYOUT = Layout(width=5, tanh=(), softmax=((0, 3), (3, 5)), discrete=((0, 3), (3, 5)), discrete_names=("a", "b"),
                cond_offsets=(0, 3))


def draws(log_frequency: bool, batches: int = 40, size: int = 500):
    sampler = ConditionSampler(CODES, LAYOUT, log_frequency)
    generator = torch.Generator().manual_seed(0)
    rows, vectors, masks = [], [], []
    for _ in range(batches):
        index, cond = sampler.draw(size, generator)
        rows.append(index)
        vectors.append(cond["vector"])
        masks.append(cond["mask"])
    return torch.cat(rows).numpy(), torch.cat(vectors).numpy(), torch.cat(masks).numpy()


@pytest.mark.parametrize("log_frequency", [True, False])
def test_categories_are_drawn_by_log_frequency(log_frequency):
    rows, vectors, masks = draws(log_frequency)
    assert abs(masks[:, 0].mean() - 0.5) < 0.02  # the column: uniformly
    counts = np.array([800, 150, 50], dtype=float)
    weights = np.log1p(counts) if log_frequency else counts
    chosen = vectors[masks[:, 0] == 1][:, :3].mean(axis=0)
    np.testing.assert_allclose(chosen, weights / weights.sum(), atol=0.02)
    if log_frequency:
        assert chosen[2] > 0.25  # the rare category is trained on (5% of the rows, ~29% of the draws)


def test_each_drawn_row_holds_its_condition():
    rows, vectors, masks = draws(True, batches=4)
    column = masks.argmax(axis=1)
    category = np.where(column == 0, vectors[:, :3].argmax(axis=1), vectors[:, 3:].argmax(axis=1))
    assert (CODES[rows, column] == category).all()
    assert (vectors.sum(axis=1) == 1).all()


def test_rows_own_conditions_follow_the_data():
    sampler = ConditionSampler(CODES, LAYOUT, True)
    cond = sampler.row_conditions(CODES, seed=0)
    column = cond["mask"].argmax(dim=1).numpy()
    picked = cond["vector"].numpy()[column == 0][:, :3].argmax(axis=1)
    assert (picked == CODES[column == 0, 0]).all()


def test_draws_are_reproducible_from_the_generator():
    sampler = ConditionSampler(CODES, LAYOUT, True)
    a = sampler.draw(64, torch.Generator().manual_seed(3))
    b = sampler.draw(64, torch.Generator().manual_seed(3))
    assert (a[0] == b[0]).all() and (a[1]["vector"] == b[1]["vector"]).all()
