"""`kedro run --env ci --pipelines data,pretraining,regularisation` as a user runs it: L2-SP
and weight decay fine-tune the encoder that the pretraining pipeline has just written."""

import time

import pandas as pd
import pytest

from tests.conftest import make_project_copy
from tests.test_run import _kedro


@pytest.mark.slow
def test_kedro_run_pretraining_then_regularisation(tmp_path):
    project = make_project_copy(tmp_path / "project")
    start = time.perf_counter()
    # the cheap methods and the two that read the pretrained encoders
    selected = "regularisation.runtime.selected=euclidean_1nn mlp l2_sp weight_decay"
    result = _kedro(project, "run", "--env", "ci", "--pipelines", "data,pretraining,regularisation", "--params", selected)
    print(f"kedro run --env ci --pipelines data,pretraining,regularisation: {time.perf_counter() - start:.1f} s")
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    results = pd.read_csv(project / "data/08_reporting/regularisation_results.csv", dtype={"labels_per_class": str})
    accuracy = results.query("metric == 'accuracy' and split == 'test'")
    assert set(accuracy["method"]) == {"euclidean_1nn", "mlp", "l2_sp_simclr", "weight_decay_simclr"}
    assert len(accuracy) == 4 * 3 * 2  # budgets 1, 5, all x seeds 0, 1
    assert (project / "data/08_reporting/regularisation_adversarial.png").stat().st_size > 3000
