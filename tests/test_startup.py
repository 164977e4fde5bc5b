"""Start-up: loading the project's settings (every ``kedro`` command does, ``kedro --help``
included) imports neither mlflow nor matplotlib nor torch; the MLflow hook is built when a
session first calls it (issue 12)."""

import subprocess
import sys

from tests.conftest import PROJECT_ROOT

HEAVY = ("mlflow", "kedro_mlflow.framework.hooks.mlflow_hook", "matplotlib.pyplot", "torch")


def test_settings_import_no_heavy_module():
    code = (
        "import sys; import transfer_lab.settings as s; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules)); print(','.join(type(h).__name__ for h in s.HOOKS))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            env={"PYTHONPATH": str(PROJECT_ROOT / "src"), "PATH": ""}, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded, hooks = result.stdout.split("\n")[:2]
    assert loaded == ""
    assert "TrackedRunHook" in hooks.split(",")  # the settings were read whole


def test_the_tracked_hook_is_built_on_its_first_call():
    from transfer_lab.hooks import TrackedRunHook
    from transfer_lab.reporting.tracked_run import TrackedMlflowHook

    hook = TrackedRunHook()
    assert hook._hook is None
    hook.before_node_run(node=None, catalog=None, inputs={}, is_async=False)  # a worker: nothing built
    assert hook._hook is None
    assert isinstance(hook._built(), TrackedMlflowHook)
    assert hook.run_id is None  # public attributes come from the built hook
