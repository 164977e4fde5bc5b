"""CriticalPathRunner: the remaining-path priorities (closed form on a small graph), the order it
starts nodes in, and results equal to SequentialRunner's."""

from __future__ import annotations

import json

import pytest
from kedro.io import DataCatalog, SharedMemoryDataCatalog
from kedro.pipeline import Node, Pipeline
from kedro.runner import SequentialRunner
from kedro_datasets.pickle import PickleDataset

from tests.cluster import nodes
from transfer_lab.runners.critical_path import (
    CriticalPathRunner,
    load_node_seconds,
    remaining_path_seconds,
    write_node_seconds,
)


def _pipeline() -> Pipeline:
    """A chain numbers -> squares -> chain_total beside two short single nodes."""
    return Pipeline([
        Node(nodes.make_numbers, "params:n", "numbers", name="make"),
        Node(nodes.square_all, "numbers", "squares", name="chain_square"),
        Node(nodes.total, "squares", "chain_total", name="chain_total"),
        Node(nodes.total, "numbers", "short_a", name="short_a"),
        Node(nodes.total, "numbers", "short_b", name="short_b"),
    ])


SECONDS = {"make": 1.0, "chain_square": 50.0, "chain_total": 40.0, "short_a": 30.0, "short_b": 20.0}


def test_remaining_path_is_own_seconds_plus_the_longest_chain_below():
    remaining = remaining_path_seconds(_pipeline(), SECONDS)
    assert remaining == {"chain_total": 40.0, "chain_square": 90.0, "short_a": 30.0, "short_b": 20.0,
                         "make": 1.0 + 90.0}
    # a node without a measurement counts as the median of the measured ones (1, 20, 30, 50: 25 s)
    unknown = remaining_path_seconds(_pipeline(), {k: v for k, v in SECONDS.items() if k != "chain_total"})
    assert unknown["chain_total"] == pytest.approx(25.0) and unknown["chain_square"] == pytest.approx(75.0)


def _catalog(folder, cls):
    names = ["numbers", "squares", "chain_total", "short_a", "short_b"]
    catalog = cls({name: PickleDataset(filepath=str(folder / f"{name}.pkl")) for name in names})
    catalog["params:n"] = 5
    return catalog


def test_starts_the_longest_remaining_path_first_and_matches_sequential_runner(tmp_path):
    (tmp_path / "seq").mkdir()
    (tmp_path / "cp").mkdir()
    SequentialRunner().run(_pipeline(), _catalog(tmp_path / "seq", DataCatalog))
    runner = CriticalPathRunner(max_workers=1, node_seconds=SECONDS)
    runner.run(_pipeline(), _catalog(tmp_path / "cp", SharedMemoryDataCatalog))
    # one worker: after `make` the chain (90 s left, then 40) goes before the short nodes (30, 20 s)
    assert runner.started == ["make", "chain_square", "chain_total", "short_a", "short_b"]
    for name in ["chain_total", "short_a", "short_b"]:
        a = PickleDataset(filepath=str(tmp_path / "seq" / f"{name}.pkl")).load()
        b = PickleDataset(filepath=str(tmp_path / "cp" / f"{name}.pkl")).load()
        assert a == b == (30 if name == "chain_total" else 10)


def test_node_seconds_round_trip_and_the_shipped_file_names_default_run_nodes(tmp_path):
    path = tmp_path / "node_seconds.json"
    write_node_seconds({"b": 2.04, "a": 1.0}, "a test", path)
    assert load_node_seconds(path) == {"a": 1.0, "b": 2.0}
    assert json.loads(path.read_text())["source"] == "a test"
    assert load_node_seconds(tmp_path / "absent.json") == {}
    shipped = load_node_seconds()
    assert {"combined.select_student", "semi_supervised.vat.run", "transfer.simclr.run_protocols"} <= set(shipped)
