"""Small tables made in the tests, and the tiny ctgan settings that train in seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pandas")
pytest.importorskip("sklearn")

# A ctgan small enough for a CPU test: the paper's shape, narrow layers.
TINY = {"embedding_dim": 16, "generator_dim": (32,), "discriminator_dim": (32,), "pac": 5, "batch_size": 50,
        "log_every": 10, "sample_every": 1000, "checkpoint_every": 1000, "device": "cpu", "quiet": True}


def make_table(rows: int = 300, seed: int = 0):
    """Every kind of column: a bimodal float, an integer with missing cells, a categorical
    with missing cells, a boolean, ISO dates, a constant and a column tied to another."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b", "c"], size=rows, p=[0.6, 0.3, 0.1])
    height = np.where(group == "a", rng.normal(10, 1, rows), rng.normal(30, 2, rows)).round(3)
    count = rng.integers(0, 50, rows).astype(float)
    count[rng.random(rows) < 0.1] = np.nan
    colour = rng.choice(["red", "green"], size=rows).astype(object)
    colour[rng.random(rows) < 0.2] = None
    day = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, rows), unit="D")
    return pd.DataFrame({"group": group, "height": height, "count": count, "colour": colour,
                         "flag": rng.random(rows) < 0.3, "day": day.strftime("%Y-%m-%d"), "site": "north",
                         "big": group == "a"})


@pytest.fixture
def table_csv(tmp_path: Path) -> Path:
    path = tmp_path / "table.csv"
    make_table().to_csv(path, index=False)
    return path
