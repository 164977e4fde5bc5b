"""Attack 5: parameter mistakes are refused before any work, in one line naming the key."""

import pytest

from tests.conftest import load_config, make_project_copy
from tests.reliability.cli import kedro
from transfer_lab.contracts import RuntimeParams
from transfer_lab.params import ParameterError, validate_parameters


@pytest.mark.parametrize(
    ("param", "expected"),
    [
        ("evaluation.runtime.device=gpu0", "Error: Invalid parameter 'evaluation.runtime.device': unknown device; use 'auto', 'cpu', 'cuda', 'cuda:<index>'"),
        ("dta.dataset=mnist", "Error: Invalid parameter 'dta': unknown top-level key; did you mean 'data'?"),
        ("data.split.sed=3", "Error: Invalid parameter 'data.split.sed': unknown key; did you mean 'seed'?"),
    ],
    ids=["device", "top-level-typo", "nested-typo"],
)
@pytest.mark.slow
def test_a_bad_parameter_stops_the_run_before_any_work_in_one_line(tmp_path, param, expected):
    project = make_project_copy(tmp_path / "project")
    result = kedro(project, "run", "--env", "ci", "--params", param, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert expected in output, output[-2000:]
    assert "Traceback" not in output and "Running node" not in output
    assert not (project / "mlflow.db").exists()
    assert not [p for p in (project / "data").rglob("*") if p.is_file()]


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:0", "cuda:3", "mps", " CUDA:1 "])
def test_device_names_parse_without_touching_hardware(device):
    assert RuntimeParams(device=device).device == device.strip().lower()


@pytest.mark.parametrize("device", ["gpu0", "cuda:", "cuda:x", "cuda0", "tpu", "", 0])
def test_bad_device_names_are_refused(device):
    with pytest.raises(ValueError):
        RuntimeParams(device=device)


def test_sdl_pair_names_are_checked_against_the_declared_coupled_pairs(project):
    _, parameters = load_config(project)
    validate_parameters(parameters)
    from transfer_lab.sources.pairs import domain_name

    declared = parameters["data"]["domains"]["image"]["coupled_pairs"][0]
    good = f"{domain_name('digits', declared['source'])}->{domain_name('digits', declared['target'])}"
    parameters["dictionary"]["sdl"]["synthesis_pairs"] = [good]
    validate_parameters(parameters)
    parameters["dictionary"]["sdl"]["adaptation_pairs"] = ["digits->digits_nowhere"]
    with pytest.raises(ParameterError, match=r"'dictionary\.sdl\.adaptation_pairs\[0\]': 'digits->digits_nowhere' is not a coupled pair"):
        validate_parameters(parameters)
