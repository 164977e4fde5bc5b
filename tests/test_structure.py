"""The house is drawn the way it works (ARCHITECTURE.md): families as modular pipelines,
thin nodes, and no pipeline importing another."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, make_project_copy

PIPELINES = PROJECT_ROOT / "src" / "transfer_lab" / "pipelines"
FAMILIES = ("data", "dictionary", "pretraining", "transfer", "semi_supervised", "taskonomy", "regularisation", "evaluation", "recommend", "combined")
#: families whose work fans out per method / encoder / task, each unit a nested namespace
FAN_OUT = ("pretraining", "transfer", "semi_supervised", "taskonomy", "regularisation")
#: longest node function (def line to last line, docstring included); longer belongs in methods/ or reporting/
MAX_NODE_LINES = 30
#: Kedro-Viz asks before drawing a graph with nodes + 1.5 x edges above this (its "chonky pipeline" gate)
VIZ_SIZE_GATE = 1000


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(PROJECT_ROOT / "src").with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}
    return names


def test_the_seven_families_are_pipeline_packages():
    assert set(FAMILIES) <= {p.name for p in PIPELINES.iterdir() if (p / "pipeline.py").exists()}


@pytest.mark.parametrize("family", FAMILIES)
def test_no_pipeline_imports_another(family):
    offending = []
    for path in sorted((PIPELINES / family).rglob("*.py")):
        for name in _imported_modules(path):
            parts = name.split(".")
            # another family's package; the package itself (transfer_lab.pipelines.bind) is shared
            if parts[:2] == ["transfer_lab", "pipelines"] and len(parts) > 2 and parts[2] != family \
                    and (PIPELINES / parts[2]).is_dir():
                offending.append(f"{path.relative_to(PROJECT_ROOT)} imports {name}")
    assert not offending, "shared things belong in transfer_lab.contracts:\n" + "\n".join(offending)


def test_nodes_keep_their_names_in_parallel_runner_workers():
    """ParallelRunner sends each node through multiprocessing's pickler, which reduces a plain
    functools.partial to (func, args, keywords): a bound node function then loses its name and
    Kedro logs '<partial>' with a warning for every such node (issue 11)."""
    from multiprocessing.reduction import ForkingPickler
    import pickle

    from kedro.framework.project import configure_project, find_pipelines

    configure_project("transfer_lab")
    nodes = {n for pipeline in find_pipelines(raise_errors=True).values() for n in pipeline.nodes}
    unnamed = [n.name for n in nodes if not hasattr(pickle.loads(ForkingPickler.dumps(n)).func, "__name__")]
    assert len(nodes) > 100 and not unnamed, unnamed


def test_methods_never_import_kedro():
    methods = PROJECT_ROOT / "src" / "transfer_lab" / "methods"
    offending = [
        f"{path.relative_to(PROJECT_ROOT)} imports {name}"
        for path in sorted(methods.rglob("*.py"))
        for name in _imported_modules(path)
        if name.split(".")[0] in {"kedro", "kedro_datasets", "kedro_mlflow"} or name.startswith("transfer_lab.pipelines")
    ]
    assert not offending, offending


@pytest.mark.parametrize("family", FAMILIES)
def test_node_functions_are_short(family):
    path = PIPELINES / family / "nodes.py"
    tree = ast.parse(path.read_text())
    long = [
        f"{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > MAX_NODE_LINES
    ]
    assert not long, f"{path.relative_to(PROJECT_ROOT)}: move the work into methods/ or reporting/: {long}"


@pytest.fixture(scope="module")
def viz_build(tmp_path_factory) -> Path:
    """``kedro viz build`` on a fresh copy of the project: the JSON Kedro-Viz's page loads."""
    project = make_project_copy(tmp_path_factory.mktemp("viz") / "project")
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_RUN_ID", "MLFLOW_TRACKING_URI")}
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "viz", "build"], cwd=project, env=env,
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return project / "build" / "api"


def _collapsed_size(graph: dict) -> float:
    """Nodes + 1.5 x edges of what Kedro-Viz draws first: the root's children, every
    modular pipeline collapsed to one box (edges counted between visible boxes)."""
    tree = graph["modular_pipelines"]
    visible = {child["id"] for child in tree["__root__"]["children"]}
    owner = {}

    def assign(pipeline_id: str, box: str) -> None:
        for child in tree[pipeline_id]["children"]:
            owner[child["id"]] = box
            if child["type"] == "modularPipeline":
                assign(child["id"], box)

    for child in tree["__root__"]["children"]:
        owner[child["id"]] = child["id"]
        if child["type"] == "modularPipeline":
            assign(child["id"], child["id"])
    edges = {
        (owner.get(e["source"]), owner.get(e["target"]))
        for e in graph["edges"]
        if owner.get(e["source"]) != owner.get(e["target"])
    }
    return len(visible) + 1.5 * len(edges)


@pytest.mark.slow
def test_kedro_viz_shows_one_box_per_family_with_methods_nested(viz_build):
    graph = json.loads((viz_build / "main").read_text())
    tree = graph["modular_pipelines"]
    top = {child["id"] for child in tree["__root__"]["children"] if child["type"] == "modularPipeline"}
    assert set(FAMILIES) <= top, sorted(top)
    for family in FAN_OUT:
        nested = [c["id"] for c in tree[family]["children"] if c["type"] == "modularPipeline"]
        assert len(nested) >= 2 and all(name.startswith(f"{family}.") for name in nested), (family, nested)
    # layers in data-flow order: an empty list means Kedro-Viz found a cycle among them
    # (collapsed boxes count as nodes: a box reading one layer and writing an earlier one)
    assert graph["layers"][0] == "raw" and graph["layers"][-1] == "reporting", graph["layers"]
    # the default view opens without the size gate, and so does every family's own pipeline
    assert _collapsed_size(graph) < VIZ_SIZE_GATE
    for family in FAMILIES:
        family_graph = json.loads((viz_build / "pipelines" / family).read_text())
        assert _collapsed_size(family_graph) < VIZ_SIZE_GATE, family
