"""The transfer pipeline: rows per encoder x protocol x budget x seed, scratch and DANN."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_pipelines, working_directory
from transfer_lab.datasets.encoder_checkpoints import EncoderCheckpointsDataset
from transfer_lab.methods.encoders import ConvEncoder1d, encoder_from_checkpoint
from transfer_lab.pipelines.transfer import nodes
from transfer_lab.pipelines.transfer.params import ENCODERS, PROTOCOLS

CI_COMBOS = {(b, s) for b in ("1", "5", "all") for s in (0, 1)}
ADAPTATION = ("dann", "source_only", "target_supervised")


def _results(project) -> pd.DataFrame:
    return pd.read_csv(
        project / "data/08_reporting/transfer_results.csv", dtype={"labels_per_class": str}, keep_default_na=False
    )


def _check_transfer_rows(results: pd.DataFrame, dataset: str, combos=CI_COMBOS) -> pd.DataFrame:
    accuracy = results[(results["metric"] == "accuracy") & (results["split"] == "test")]
    methods = {f"{m}_{p}" for m in ENCODERS for p in PROTOCOLS} | {"scratch"}
    assert set(accuracy["method"]) == methods
    assert set(accuracy["dataset"]) == {dataset}
    for method in methods:
        rows = accuracy[accuracy["method"] == method]
        assert sorted(zip(rows["labels_per_class"], rows["seed"])) == sorted(combos), method
    assert accuracy["value"].between(0.0, 1.0).all()
    # every protocol is selected on val: each test row has its val row
    val = results[results["metric"] == "val_accuracy"]
    assert len(val) == len(accuracy) and (val["split"] == "val").all()
    return accuracy


def _check_adaptation_rows(results: pd.DataFrame, pair: str, seeds=(0, 1)) -> None:
    adaptation = results[results["split"] == "target_test"]
    assert set(adaptation["dataset"]) == {pair}
    assert sorted(zip(adaptation["method"], adaptation["seed"])) == sorted((m, s) for m in ADAPTATION for s in seeds)
    assert (adaptation["labels_per_class"] == "").all() and adaptation["value"].between(0.0, 1.0).all()


def test_rows_for_every_encoder_protocol_budget_and_seed(ci_run):
    project, _ = ci_run
    results = _results(project)
    accuracy = _check_transfer_rows(results, "digits")
    # even after 2 pretraining epochs, frozen features with every label beat chance by far
    probes = accuracy[accuracy["method"].str.endswith(("_linear_probe", "_knn")) & (accuracy["labels_per_class"] == "all")]
    assert probes["value"].min() > 0.5
    # fine-tuning rows ran at most the ci epochs (early stopping counts epochs too)
    epochs = results[(results["metric"] == "epochs") & results["method"].str.endswith(("_finetune", "_partial_freeze"))]
    assert len(epochs) and epochs["value"].between(1, 2).all()
    assert (project / "data/08_reporting/transfer_accuracy_vs_budget.png").stat().st_size > 5000


def test_domain_adaptation_rows(ci_run):
    project, _ = ci_run
    _check_adaptation_rows(_results(project), "digits->digits_rotated")


def test_transfer_refuses_missing_or_foreign_encoders(ci_run):
    project, catalog = ci_run
    with working_directory(project):  # the catalog's paths are relative to the project
        names = ("base_dataset", "split_table", "label_subsets", "params:transfer.protocols", "params:transfer.probe_only", "params:transfer.linear_probe",
                 "params:transfer.knn", "params:transfer.partial_freeze", "params:transfer.finetune", "params:transfer.runtime", "params:data")
        inputs = [catalog.load(name) for name in names]
    with pytest.raises(ValueError, match="no pretrained encoder 'supcon_lpc1_seed0'"):
        nodes.transfer_encoder("supcon", {}, *inputs)
    simclr = EncoderCheckpointsDataset(str(project / "data/06_models/encoders")).load()["simclr"]
    foreign = {**simclr, "meta": {**simclr["meta"], "provenance": {**simclr["meta"]["provenance"], "dataset": "mnist1d"}}}
    with pytest.raises(ValueError, match="trained on dataset 'mnist1d'"):
        nodes.transfer_encoder("simclr", {"simclr": foreign}, *inputs)
    other_split = {**simclr, "meta": {**simclr["meta"], "provenance": {**simclr["meta"]["provenance"], "split_seed": 7}}}
    with pytest.raises(ValueError, match="trained with split seed 7"):
        nodes.transfer_encoder("simclr", {"simclr": other_split}, *inputs)


def test_pretraining_and_transfer_run_on_mnist1d(project):
    """``data.dataset=mnist1d`` switches to signals: cnn1d encoders and 1-d augmentations.

    Two budgets and one seed keep this second run short; the graph is the same.
    """
    runtime = {"data": {"dataset": "mnist1d", "label_budgets": [1, "all"], "seeds": [0]}}
    run_pipelines(project, ["data", "pretraining", "transfer"], runtime_params=runtime)
    checkpoints = EncoderCheckpointsDataset(str(project / "data/06_models/encoders")).load()
    assert {"simclr", "moco", "rotation", "imputation", "supervised_source"} <= set(checkpoints)
    for checkpoint in checkpoints.values():
        assert checkpoint["meta"]["dataset"] == "mnist1d"
        assert isinstance(encoder_from_checkpoint(checkpoint), ConvEncoder1d)
    results = _results(project)
    accuracy = _check_transfer_rows(results, "mnist1d", combos={("1", 0), ("all", 0)})
    assert np.isfinite(accuracy["value"]).all()
    _check_adaptation_rows(results, "mnist1d->mnist1d_noisy", seeds=(0,))
    assert set(pd.read_csv(project / "data/08_reporting/pretraining_results.csv")["dataset"]) == {"mnist1d"}


def test_probe_only_encoders_get_the_frozen_protocols_only(ci_run):
    project, catalog = ci_run
    with working_directory(project):
        names = ("base_dataset", "split_table", "label_subsets", "params:transfer.linear_probe", "params:transfer.knn",
                 "params:transfer.partial_freeze", "params:transfer.finetune", "params:transfer.runtime", "params:data")
        data, split, subsets, *blocks, runtime, data_params = [catalog.load(name) for name in names]
    encoders = EncoderCheckpointsDataset(str(project / "data/06_models/encoders")).load()
    all_protocols = ["linear_probe", "knn", "partial_freeze", "finetune"]
    rows = nodes.transfer_encoder("simclr", encoders, data, split, subsets, all_protocols, ["simclr"], *blocks,
                                  runtime, data_params)
    assert set(rows["method"]) == {"simclr_linear_probe", "simclr_knn"}
