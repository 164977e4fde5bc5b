"""Bad parameters stop a run before any work, with one line naming the key."""

import copy

import pytest
import yaml
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from tests.conftest import load_config, working_directory
from transfer_lab.params import ParameterError, validate_parameters


@pytest.fixture(scope="module")
def parameters(tmp_path_factory):
    from tests.conftest import PROJECT_ROOT

    _, params = load_config(PROJECT_ROOT, env="base")
    return params


def test_the_shipped_parameters_are_valid(parameters):
    assert set(validate_parameters(parameters)) >= {"data", "evaluation", "dictionary"}


def test_downstream_families_train_in_nhwc_and_pretraining_keeps_nchw(parameters):
    """The layout decision of issue 12: the families that train or fine-tune on the labels use
    the cheaper NHWC steps; pretraining (and taskonomy's task networks) keep NCHW so that
    the pretrained checkpoints, the draw the few-label results depend on, stay the same."""
    layout = {family: parameters[family]["runtime"]["channels_last"]
              for family in parameters if "channels_last" in parameters[family].get("runtime", {})}
    assert layout == {
        "semi_supervised": True, "transfer": True, "combined": True, "regularisation": True,
        "evaluation": True, "pretraining": False, "taskonomy": False,
    }
    with pytest.raises(ValueError, match=r"channels_last"):
        validate_parameters({**parameters, "evaluation": {**parameters["evaluation"], "runtime": {"channels_last": "yes please"}}})


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (["data", "dataset"], "cifar", r"'data\.dataset'.*'digits'.*cifar"),
        (["data", "label_budgets"], [1, 0, 5], r"'data\.label_budgets'.*positive integer.*0"),
        (["data", "label_budgets"], [1, -3], r"'data\.label_budgets'.*-3"),
        (["data", "label_budgets"], {"five": 5}, r"'data\.label_budgets'.*list"),
        (["data", "label_budgets"], "1 five", r"'data\.label_budgets'.*five"),
        (["data", "seeds"], ["a"], r"'data\.seeds\[0\]'.*integer"),
        (["data", "split", "val_fraction"], 1.5, r"'data\.split\.val_fraction'.*less than 1"),
        (["data", "domains", "image", "shifts", "rotated"], [{"op": "twirl"}], r"data\.domains\.image\.shifts\.rotated\[0\]\.op='twirl'.*allowed: .*rotate"),
        (["data", "domains", "image", "domain_pairs"], [{"source": "clean", "target": "nope"}], r"unknown shift 'nope'"),
        (["data", "mnist1d"], {"nmu_samples": 10}, r"unknown MNIST-1D generator argument.*nmu_samples"),
        (["evaluation", "cnn", "training", "epochs"], "many", r"'evaluation\.cnn\.training\.epochs'.*integer.*many"),
        (["evaluation", "cnn", "training", "lr"], -1, r"'evaluation\.cnn\.training\.lr'.*greater than 0"),
        (["evaluation", "cnn", "epocs"], 3, r"'evaluation\.cnn\.epocs'.*unknown key.*allowed: "),
        (["dictionary", "self_taught", "source_domains"], {"image": ["nope"]}, r"'dictionary\.self_taught\.source_domains\.image\[0\]'.*'nope'.*known"),
        (["dictionary", "sdl", "gamma"], 0, r"'dictionary\.sdl\.gamma'.*greater than 0"),
    ],
)
def test_one_clear_line_names_the_key(parameters, path, value, expected):
    params = copy.deepcopy(parameters)
    node = params
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ParameterError, match=expected) as error:
        validate_parameters(params)
    assert "\n" not in str(error.value)


def _session_run(project, runtime_params):
    bootstrap_project(project)
    with working_directory(project):
        with KedroSession.create(project_path=project, env="ci", runtime_params=runtime_params) as session:
            session.run(pipeline_names=["data"])


def _written(project):
    files = [p for p in (project / "data").rglob("*") if p.is_file() and p.name != ".gitkeep"]
    return files + [p for p in project.glob("mlflow.db")] + [p for p in project.glob("ml*s")]


@pytest.mark.parametrize(
    ("runtime_params", "expected"),
    [
        ({"data": {"dataset": "imagenet"}}, r"'data\.dataset'"),
    ],
)
def test_a_refused_run_writes_nothing(project, runtime_params, expected):
    with pytest.raises(ParameterError, match=expected):
        _session_run(project, runtime_params)
    assert _written(project) == []


def test_a_budget_larger_than_a_class_stops_the_run_before_anything_is_written(project):
    """The check needs the data, so the first node (which loads it) makes it, on the split the
    next node will draw: the same one line, and no node has written anything, so a previous
    data set's outputs are left as they were (MLflow records the failed run, as for any node
    that fails)."""
    expected = r"'data\.label_budgets': 500 labels per class exceeds the smallest class of digits's train split \(\d+\)"
    with pytest.raises(ParameterError, match=expected):
        _session_run(project, {"data": {"label_budgets": [1, 500]}})
    assert [p for p in _written(project) if p.name != "mlflow.db"] == []


def test_conf_ci_only_overrides(parameters):
    """conf/ci changes sizes but keeps every other key of base (soft merge)."""
    from tests.conftest import PROJECT_ROOT

    _, ci = load_config(PROJECT_ROOT, env="ci")
    assert ci["data"]["domains"] == parameters["data"]["domains"]
    assert ci["evaluation"]["cnn"]["training"]["epochs"] < parameters["evaluation"]["cnn"]["training"]["epochs"]
    for path in sorted((PROJECT_ROOT / "conf/ci").glob("parameters_*.yml")):
        with open(path) as f:
            # each file overrides only its own pipeline's key, which base declares
            assert set(yaml.safe_load(f)) == {path.stem.removeprefix("parameters_")} <= set(parameters)


@pytest.mark.parametrize(
    ("given", "budgets", "seeds"),
    [
        ({"label_budgets": "1 10 all", "seeds": "0 1 2 3"}, [1, 10, "all"], [0, 1, 2, 3]),
        ({"label_budgets": ["1;5"], "seeds": ["4"]}, [1, 5], [4]),  # how `--params "data.seeds=[4]"` arrives
        ({"label_budgets": [5, "all"], "seeds": [0]}, [5, "all"], [0]),
        ({"label_budgets": 5, "seeds": 3}, [5], [3]),  # `--params "data.seeds=3"`: one value
    ],
)
def test_lists_can_be_given_without_commas_on_the_command_line(parameters, given, budgets, seeds):
    params = copy.deepcopy(parameters)
    params["data"].update(given)
    data = validate_parameters(params)["data"]
    assert data.label_budgets == budgets and data.seeds == seeds
