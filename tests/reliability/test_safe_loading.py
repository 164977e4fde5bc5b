"""Attack 7: a ``data/`` folder from elsewhere. No intermediate output runs code when it is
loaded: no catalog entry is a pickle, and the tree files that replace them build only
arrays, tensors, containers and the contract dataclasses."""

from __future__ import annotations

import math
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from kedro.config import OmegaConfigLoader
from kedro.io import DatasetError
from kedro.io.core import parse_dataset_definition
from kedro_datasets.pickle import PickleDataset as PlainPickleDataset

from tests.conftest import PROJECT_ROOT
from transfer_lab.contracts import CoupledPair, Dataset, DomainPair
from transfer_lab.datasets import tree_dataset
from transfer_lab.datasets.tree_dataset import TreeDataset

MARKER = "transfer_lab_pwned_marker"


def _dataset_definitions(node: Any, where: str = ""):
    """Every ``{type: ...}`` mapping of a catalog, nested ones (``dataset:``, ``sources:``) too."""
    if isinstance(node, dict):
        if isinstance(node.get("type"), str):
            yield where, node
        for key, value in node.items():
            yield from _dataset_definitions(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _dataset_definitions(value, f"{where}[{i}]")


@pytest.mark.parametrize("env", ["ci", "base"])
def test_no_catalog_entry_resolves_to_a_pickle_dataset(env):
    loader = OmegaConfigLoader(conf_source=str(PROJECT_ROOT / "conf"), base_env="base", default_run_env=env, env=env)
    catalog = loader["catalog"]
    definitions = list(_dataset_definitions(catalog))
    assert len(definitions) > 30  # the walk sees the whole catalog, factories included
    names = {name for name, _ in definitions}
    assert {"base_dataset", "domain_pairs", "coupled_pairs", "taskonomy.{task}.network"} <= names
    for name, definition in definitions:
        cls, _ = parse_dataset_definition(dict(definition))
        assert not issubclass(cls, PlainPickleDataset), f"{name} is a pickle dataset ({definition['type']})"
        assert "pickle" not in definition["type"].lower(), name
        for path_key in ("filepath", "path"):
            assert not str(definition.get(path_key, "")).endswith((".pkl", ".pickle")), name


def _same(a: Any, b: Any) -> None:
    """Equal values of the same types, all the way down."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            _same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif hasattr(a, "__dataclass_fields__"):
        for field in a.__dataclass_fields__:
            _same(getattr(a, field), getattr(b, field))
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


def _tree() -> dict:
    rng = np.random.default_rng(0)
    base = Dataset("digits", "image", rng.random((6, 1, 8, 8), dtype=np.float32), np.arange(6) % 3,
                   official_test=np.array([True, False] * 3), declared_classes=10)
    pair = DomainPair(
        "digits->digits_rotated", "image", base.X, base.X[:, :, ::-1], base.y, [], [{"kind": "rotate", "degrees": 30}],
        declared_classes=10, source_train_index=np.array([0, 1]), target_train_index=np.array([2, 3]),
        val_index=np.array([4]), test_index=np.array([5]),
    )
    coupled = CoupledPair("digits->digits_blur", "image", base.X, base.X * 0.5, base.y)
    return {
        "base": base,
        "pairs": {pair.name: pair, coupled.name: coupled},
        "network": {
            "encoder": {"kind": "cnn2d", "input_shape": [1, 8, 8], "kwargs": {"width": 4}},
            "state_dict": {"w": torch.randn(3, 2), "steps": torch.tensor(7), "half": torch.ones(2, dtype=torch.bfloat16)},
            "meta": {"loss_history": [2.0, float("nan"), float("inf")], "epochs": 3, "labels": None, "ok": True},
        },
        "input_shape": (1, 8, 8),
        "by_int": {0: np.float64(1.5), 1: np.int64(-3), (2, "x"): np.str_("y")},
        "words": np.array(["a", "bc"]),
        "set": {1, 2},
    }


def test_a_tree_round_trips_values_and_types(tmp_path):
    value = _tree()
    dataset = TreeDataset(str(tmp_path / "sub" / "tree.npz"))
    assert not dataset.exists()
    dataset.save(value)
    assert dataset.exists() and sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["tree.npz"]
    _same(value, dataset.load())
    _same(value, tree_dataset.loads(tree_dataset.dumps(value)))


def test_what_a_tree_cannot_hold_is_refused_on_save_with_its_place(tmp_path):
    dataset = TreeDataset(str(tmp_path / "tree.npz"))
    with pytest.raises(DatasetError, match=r"value\['model'\]\[1\].*builtins.function"):
        dataset.save({"model": [1, lambda x: x]})
    with pytest.raises(DatasetError, match="objects cannot be stored without pickle"):
        dataset.save({"rows": np.array([{"a": 1}], dtype=object)})
    assert not dataset.exists() and list(tmp_path.iterdir()) == []  # nothing half-written


class _Payload:
    """What a hostile file would run on load: here, it leaves a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_loading_never_runs_code_from_the_file(tmp_path):
    marker = tmp_path / MARKER
    target = tmp_path / "base_dataset.npz"
    # 1. a pickle put under the tree's name
    target.write_bytes(pickle.dumps({"X": _Payload(marker)}))
    with pytest.raises(DatasetError, match="cannot load"):
        TreeDataset(str(target)).load()
    # 2. a real .npz whose member is a pickled object array
    np.savez(target, __tree__=np.frombuffer(b'{"format": "transfer_lab.tree/1", "root": {"$": "array", "key": "a0"}}',
                                            dtype=np.uint8), a0=np.array([_Payload(marker)], dtype=object))
    with pytest.raises(DatasetError, match="(?i)allow_pickle"):
        TreeDataset(str(target)).load()
    # 3. a tree naming a type outside the allow-list
    tree = b'{"format": "transfer_lab.tree/1", "root": {"$": "dataclass", "type": "os.system", "fields": {}}}'
    np.savez(target, __tree__=np.frombuffer(tree, dtype=np.uint8))
    with pytest.raises(DatasetError, match="unknown type 'os.system'"):
        TreeDataset(str(target)).load()
    assert not marker.exists()


@pytest.mark.slow
def test_the_cli_refuses_a_hostile_intermediate_file_without_running_it(tmp_path):
    """A ``data/`` folder from elsewhere whose ``base_dataset`` is a pickle that runs code:
    ``kedro run --from-inputs base_dataset`` stops naming the file, and the code never ran."""
    from tests.conftest import make_project_copy
    from tests.reliability.cli import kedro

    project = make_project_copy(tmp_path / "project")
    marker = tmp_path / MARKER
    (project / "data/03_primary/base_dataset.npz").write_bytes(pickle.dumps(_Payload(marker)))
    result = kedro(project, "run", "--env", "ci", "--pipelines", "data", "--from-inputs", "base_dataset")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "cannot load" in output and "base_dataset.npz" in output, output[-3000:]
    assert not marker.exists()
    assert not (project / "data/03_primary/split_table.parquet").exists()  # nothing ran on it
