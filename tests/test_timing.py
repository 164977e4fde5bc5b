"""The per-node timing hook: wall and CPU seconds of each node into the MLflow run."""

import time
from types import SimpleNamespace

from transfer_lab import settings
from transfer_lab.reporting import tracking
from transfer_lab.timing import NodeTimingHook, node_times


def test_the_hook_is_registered():
    assert any(isinstance(hook, NodeTimingHook) for hook in settings.HOOKS)


def test_a_node_gets_its_wall_and_cpu_seconds_logged(monkeypatch):
    logged = {}
    monkeypatch.setattr(tracking, "log_metrics", lambda metrics, step=None: logged.update(metrics))
    hook, node = NodeTimingHook(), SimpleNamespace(name="transfer.simclr.transfer_encoder")
    hook.before_node_run(node=node)
    end = time.process_time() + 0.05
    while time.process_time() < end:  # burn CPU
        pass
    time.sleep(0.05)  # wall without CPU
    hook.after_node_run(node=node)
    times = node_times(logged)
    assert set(times) == {"transfer.simclr.transfer_encoder"}
    seconds = times["transfer.simclr.transfer_encoder"]
    assert 0.05 <= seconds["cpu_seconds"] < seconds["wall_seconds"]
    assert seconds["wall_seconds"] >= 0.1


def test_no_before_no_log(monkeypatch):
    logged = {}
    monkeypatch.setattr(tracking, "log_metrics", lambda metrics, step=None: logged.update(metrics))
    NodeTimingHook().after_node_run(node=SimpleNamespace(name="x"))
    assert logged == {}


def test_node_times_reads_only_timing_keys():
    metrics = {"timing/a.b/wall_seconds": 2.0, "timing/a.b/cpu_seconds": 1.5, "evaluation/x/accuracy": 0.9}
    assert node_times(metrics) == {"a.b": {"wall_seconds": 2.0, "cpu_seconds": 1.5}}
