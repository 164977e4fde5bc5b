"""notebooks/explore_results.ipynb runs, top to bottom, on the outputs of a ci run."""

import shutil

import pytest

from transfer_lab.reporting.results import PIPELINES

from tests.conftest import PROJECT_ROOT

NOTEBOOK = PROJECT_ROOT / "notebooks" / "explore_results.ipynb"


@pytest.mark.slow
def test_explore_results_notebook_runs_on_the_ci_outputs(ci_run, monkeypatch):
    nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed: pip install -e '.[notebook]'")
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed: pip install -e '.[notebook]'")
    pytest.importorskip("ipykernel", reason="ipykernel is not installed: pip install -e '.[notebook]'")
    project, _ = ci_run
    folder = project / "notebooks"
    folder.mkdir(exist_ok=True)
    shutil.copy(NOTEBOOK, folder / NOTEBOOK.name)
    # the kernel starts in notebooks/, where Kedro would not find conf/logging.yml by itself
    monkeypatch.setenv("KEDRO_LOGGING_CONFIG", str(project / "conf" / "logging.yml"))
    notebook = nbformat.read(folder / NOTEBOOK.name, as_version=4)
    nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()

    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    # every family that writes a results table reaches the leaderboard the notebook reads
    assert f"families: {', '.join(sorted(PIPELINES))}" in text
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(figures) == 2  # the label-budget curves and the affinity heatmap
