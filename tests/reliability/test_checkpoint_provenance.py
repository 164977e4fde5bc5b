"""Attack 8: checkpoints left over from another dataset, split or data.

Encoder checkpoints record the data they were trained on (dataset, split seed, data
fingerprint); readers reuse them only on that data and say in one line which one they
skipped and why."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest

from transfer_lab.contracts import DataParams, Dataset, data_provenance, stale_reason
from transfer_lab.pipelines.semi_supervised import nodes as semi_supervised


def _dataset(name: str = "digits", seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    return Dataset(name, "image", rng.random((20, 1, 4, 4), dtype=np.float32), np.arange(20) % 4, declared_classes=4)


def test_the_provenance_changes_with_the_dataset_the_split_and_the_data():
    base, data = _dataset(), DataParams()
    reference = data_provenance(base, data)
    assert reference == data_provenance(dataclasses.replace(base, X=base.X.copy()), DataParams())  # same data, same record
    assert reference["dataset"] == "digits" and reference["split_seed"] == 0
    other_split = DataParams(split={"seed": 3})
    changed = {
        "name": data_provenance(dataclasses.replace(base, name="kmnist"), data),
        "split seed": data_provenance(base, other_split),
        "split fractions": data_provenance(base, DataParams(split={"val_fraction": 0.3})),
        "one pixel": data_provenance(dataclasses.replace(base, X=np.where(np.arange(base.X.size).reshape(base.X.shape) == 5, 0.5, base.X).astype(np.float32)), data),
        "one label": data_provenance(dataclasses.replace(base, y=np.r_[base.y[:-1], 0]), data),
        "dtype": data_provenance(dataclasses.replace(base, X=base.X.astype(np.float64)), data),
        # supervised_source trains on a shifted domain: another shift is other data
        "domain shift": data_provenance(base, DataParams(domains={"image": {"shifts": {"rotated": [{"op": "rotate", "degrees": 45}]}}})),
    }
    for what, provenance in changed.items():
        assert stale_reason({"provenance": provenance}, reference) is not None, what
    assert stale_reason({"provenance": reference}, reference) is None
    assert "trained on dataset 'kmnist', this run uses 'digits'" in stale_reason({"provenance": changed["name"]}, reference)
    assert "split seed 3, this run uses 0" in stale_reason({"provenance": changed["split seed"]}, reference)
    assert "other data, splits or domain shifts" in stale_reason({"provenance": changed["one pixel"]}, reference)
    assert "records no training data" in stale_reason({"dataset": "digits"}, reference)  # a checkpoint from before


def _checkpoint(provenance: dict | None) -> dict:
    meta = {"dataset": "digits"} | ({"provenance": provenance} if provenance else {})
    return {"encoder": {"kind": "mlp", "input_shape": [1, 4, 4], "kwargs": {}}, "state_dict": {}, "meta": meta}


def test_semi_supervised_uses_only_checkpoints_of_its_data_and_says_which_it_skips(caplog, monkeypatch):
    monkeypatch.setattr(semi_supervised, "_said", set())
    base, data = _dataset(), DataParams()
    expected = data_provenance(base, data)
    stale = {**expected, "split_seed": 9}
    encoders = {"simclr": _checkpoint(expected), "moco": _checkpoint(stale), "rotation": _checkpoint(None)}
    names = ["simclr", "moco", "rotation", "supcon"]
    with caplog.at_level(logging.INFO, logger=semi_supervised.__name__):
        used = [name for name, _ in semi_supervised._encoders(base, encoders, names, expected)]
        again = [name for name, _ in semi_supervised._encoders(base, encoders, names, expected)]  # another method node
    assert used == again == ["simclr"]
    lines = [r.getMessage() for r in caplog.records]
    skipped = [line for line in lines if "stale pretrained encoder" in line]
    assert len(skipped) == 2  # one line per stale checkpoint, however many nodes look
    assert any("'moco' skipped: it was trained with split seed 9, this run uses 0" in line for line in skipped)
    assert any("'rotation' skipped: it records no training data" in line for line in skipped)
    assert sum("'supcon' is not in pretrained_encoders" in line for line in lines) == 1


@pytest.mark.parametrize("stale", [False, True], ids=["fresh", "stale"])
def test_semi_supervised_says_whether_its_rows_include_encoders(caplog, monkeypatch, stale):
    monkeypatch.setattr(semi_supervised, "_said", set())
    monkeypatch.setattr(semi_supervised, "pretrained_inputs", lambda method, checkpoint, X, device: (X, None, None))
    base = _dataset()
    expected = data_provenance(base, DataParams())
    provenance = {**expected, "dataset": "mnist"} if stale else expected
    params = semi_supervised.PretrainedParams(encoders=["simclr"], methods=["x"])
    neural = semi_supervised.NeuralParams()
    with caplog.at_level(logging.INFO, logger=semi_supervised.__name__):
        found = semi_supervised._inputs("vat", base, {"simclr": _checkpoint(provenance)}, neural, params, True, "cpu", expected)
    said = " ".join(r.getMessage() for r in caplog.records)
    assert [inputs.name for inputs in found] == (["raw"] if stale else ["raw", "simclr"])
    assert ("rows on raw inputs only" in said) == stale
    assert ("rows on pretrained encoders ['simclr']" in said) == (not stale)


def _plant(project, provenance: dict) -> None:
    """simclr and moco checkpoints in the shared folder, as an earlier run leaves them."""
    from transfer_lab.datasets.encoder_checkpoints import EncoderCheckpointsDataset
    from transfer_lab.methods.encoders import build_encoder, encoder_checkpoint

    shape, kwargs = (1, 8, 8), {"width": 4, "depth": 2, "out_features": 8}
    checkpoints = {
        method: encoder_checkpoint(build_encoder("auto", shape, **kwargs), "auto", shape, kwargs, method=method,
                                   dataset=provenance["dataset"], provenance=provenance)
        for method in ("simclr", "moco")
    }
    EncoderCheckpointsDataset(str(project / "data/06_models/encoders")).save(checkpoints)


@pytest.mark.slow
def test_the_cli_skips_leftover_checkpoints_of_another_split_and_says_what_its_rows_are_on(tmp_path):
    import pandas as pd

    from tests.conftest import load_config, make_project_copy
    from tests.reliability.cli import kedro
    from transfer_lab.datasets.tree_dataset import TreeDataset

    project = make_project_copy(tmp_path / "project")
    args = ("run", "--env", "ci", "--pipelines", "data,semi_supervised", "--namespaces", "data,semi_supervised.label_propagation")
    rows = project / "data/07_model_output/semi_supervised/label_propagation_rows.parquet"
    # 1. leftovers of a run on another split of digits
    _plant(project, {"dataset": "digits", "split_seed": 99, "data_fingerprint": "0" * 24})
    first = kedro(project, *args)
    output = first.stdout + first.stderr
    assert first.returncode == 0, output[-3000:]
    for name in ("simclr", "moco"):
        assert output.count(f"stale pretrained encoder '{name}' skipped: it was trained with split seed 99, this run uses 0") == 1
    assert "rows on raw inputs only" in output
    raw_methods = set(pd.read_parquet(rows)["method"])
    assert raw_methods and not any(m.endswith(("_simclr", "_moco")) for m in raw_methods)

    # 2. checkpoints of this very data: used, and the log says the rows include them
    _, parameters = load_config(project)
    base = TreeDataset(str(project / "data/03_primary/base_dataset.npz")).load()
    _plant(project, data_provenance(base, DataParams(**parameters["data"])))
    second = kedro(project, *args)
    output = second.stdout + second.stderr
    assert second.returncode == 0, output[-3000:]
    assert "rows on pretrained encoders ['simclr', 'moco'] as well as on raw inputs" in output
    assert "stale pretrained encoder" not in output
    methods = set(pd.read_parquet(rows)["method"])
    assert raw_methods < methods and {m + "_simclr" for m in raw_methods} <= methods
