"""DaskRunner._fail on stand-in futures: what a run raises when a node's task ends badly
(no cluster needed; tests/cluster/ runs the real thing)."""
from types import SimpleNamespace

import pytest
from distributed import KilledWorker

from transfer_lab.runners.dask_runner import DaskRunner


class _Future:
    def __init__(self, status, error=None):
        self.status, self._error, self.key = status, error, "kedro-node-ab12-train_model"

    def exception(self):
        return self._error if self.status == "error" else None

    def done(self):
        return True


class _Client:
    def __init__(self):
        self.cancelled = None

    def cancel(self, futures):
        self.cancelled = futures


def _fail(future, other_nodes=None):
    """``_fail`` on ``future``, the task of node "train_model"; ``other_nodes``: more task keys
    and their nodes' names."""
    runner = DaskRunner.__new__(DaskRunner)  # no scheduler: only _fail's own logic runs
    runner._suggest_resume_scenario = lambda *args: None
    node_of = {future.key: SimpleNamespace(name="train_model")}
    node_of.update({key: SimpleNamespace(name=name) for key, name in (other_nodes or {}).items()})
    runner._fail(_Client(), future, {"train_model": future}, node_of, None, [], None)


@pytest.mark.parametrize("status", ["cancelled", "lost"])
def test_a_task_that_ends_without_an_error_fails_the_run_with_a_named_runtime_error(status):
    with pytest.raises(RuntimeError, match=f"status '{status}'") as raised:
        _fail(_Future(status))
    assert raised.value.__notes__ == ["node 'train_model' did not finish on the Dask cluster"]


def test_a_nodes_own_error_is_reraised_with_the_node_named():
    with pytest.raises(ValueError, match="bad input") as raised:
        _fail(_Future("error", ValueError("bad input")))
    assert raised.value.__notes__ == ["node 'train_model' failed on a Dask worker"]


def test_a_killed_worker_says_the_worker_died():
    with pytest.raises(KilledWorker) as raised:
        _fail(_Future("error", KilledWorker("task", SimpleNamespace(address="tcp://127.0.0.1:1"), 0)))
    assert "its worker died" in raised.value.__notes__[0]


def test_a_killed_worker_names_the_node_it_ran_not_a_dependent_that_failed_first():
    # the dependent "train_model" inherits its parent's KilledWorker and may be reported first
    died = KilledWorker("kedro-node-ab12-fit_encoder", SimpleNamespace(address="tcp://127.0.0.1:1"), 0)
    with pytest.raises(KilledWorker) as raised:
        _fail(_Future("error", died), other_nodes={"kedro-node-ab12-fit_encoder": "fit_encoder"})
    assert raised.value.__notes__[0].startswith("node 'fit_encoder': its worker died")
