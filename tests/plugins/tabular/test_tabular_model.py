"""ctgan on gankit's contract: conformance, learning, exact resume, PacGAN's batch rule."""

from __future__ import annotations

import torch
from conftest import TINY, make_table

import gankit
from gankit import GankitError
from gankit.evaluation import evaluate
from gankit.testing import check_registration_is_light, parametrize_with_checks

# pac 1: the kit calls the discriminator on batches of 3 and 5.
CONFORMANCE = {"rows": 200, "pac": 1, "embedding_dim": 8, "generator_dim": (16,), "discriminator_dim": (16,)}


@parametrize_with_checks(domains=[("tabular", "ctgan", "adult", CONFORMANCE)])
def test_ctgan_conforms(check, tmp_path_factory):
    check(tmp_path_factory)


def test_registering_imports_nothing_heavy():
    check_registration_is_light("gankit.plugins.tabular", heavy=("torch", "numpy", "pandas", "sklearn", "pyarrow"))


def shapes(run_dir) -> tuple[float, dict[str, float]]:
    result = evaluate(run_dir, n=300, metrics=["shapes"], seed=0)["metrics"]["shapes"]
    return result["values"]["score"], result["protocol"]["columns"]


def test_column_shapes_move_toward_the_data(tmp_path):
    make_table(400).to_csv(tmp_path / "t.csv", index=False)
    common = dict(dataset="file", data=str(tmp_path / "t.csv"), out=str(tmp_path / "run"), seed=0, lr_g=1e-3,
                  lr_d=1e-3, **TINY)
    gankit.train("tabular", steps=1, **common)
    untrained, untrained_columns = shapes(tmp_path / "run")
    run = gankit.train("tabular", steps=300, resume=True, out=str(tmp_path / "run"), quiet=True)
    trained, trained_columns = shapes(tmp_path / "run")
    assert 1 - trained < 0.6 * (1 - untrained) and trained > 0.9, (untrained, trained)  # the gap shrinks by 40%+
    assert trained_columns["group"] > max(0.9, untrained_columns["group"]), (untrained_columns, trained_columns)
    losses = [record["aux/cond"] for record in run.metrics if "aux/cond" in record]
    assert losses[-1] < 0.5 * losses[0]  # the generator learns to honour its condition


def test_a_resumed_run_ends_bit_identical(tmp_path):
    make_table(200).to_csv(tmp_path / "t.csv", index=False)
    common = dict(dataset="file", data=str(tmp_path / "t.csv"), seed=3, **TINY)
    straight = gankit.train("tabular", steps=20, out=str(tmp_path / "straight"), **common)
    gankit.train("tabular", steps=10, out=str(tmp_path / "resumed"), **common)
    resumed = gankit.train("tabular", steps=20, out=str(tmp_path / "resumed"), resume=True, quiet=True)
    for a, b in zip(straight.generator.state_dict().values(), resumed.generator.state_dict().values()):
        assert torch.equal(a, b)
    assert torch.equal(straight.sample(40, seed=1), resumed.sample(40, seed=1))


def test_the_batch_must_be_a_multiple_of_pac(tmp_path):
    make_table(200).to_csv(tmp_path / "t.csv", index=False)
    options = {**TINY, "pac": 10, "batch_size": 45}
    try:
        gankit.train("tabular", dataset="file", data=str(tmp_path / "t.csv"), steps=2, out=str(tmp_path / "run"),
                     **options)
    except GankitError as error:
        assert "packs of pac=10, but got a batch of 45" in str(error) and "multiple of 10" in str(error)
    else:
        raise AssertionError("a batch of 45 with pac 10 was accepted")
