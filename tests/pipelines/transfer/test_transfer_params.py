"""Bad pretraining / transfer parameters stop a run before any work, with one line naming the key."""

from __future__ import annotations

import copy

import pytest

from tests.conftest import PROJECT_ROOT, load_config
from transfer_lab.params import ParameterError, validate_parameters


@pytest.fixture(scope="module")
def parameters():
    _, params = load_config(PROJECT_ROOT, env="base")
    return params


def test_shipped_parameters_are_valid(parameters):
    blocks = validate_parameters(parameters)
    assert blocks["transfer"].protocols == ["linear_probe", "knn", "partial_freeze", "finetune"]
    ci = load_config(PROJECT_ROOT, env="ci")[1]
    assert blocks["pretraining"].simclr.training.epochs > ci["pretraining"]["simclr"]["training"]["epochs"]


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (["transfer", "partial_freeze", "k"], 9, r"'transfer\.partial_freeze\.k': 9 exceeds the encoder's 4 blocks"),
        (["transfer", "protocols"], ["linear_probe", "lora"], r"'transfer\.protocols\[1\]'.*lora"),
        (["transfer", "domain_adaptation", "pair"], 7, r"'transfer\.domain_adaptation\.pair': 7 is out of range"),
        (["pretraining", "supervised_source", "pair"], 7, r"'pretraining\.supervised_source\.pair': 7 is out of range"),
        (["pretraining", "supervised_source", "side"], "both", r"'pretraining\.supervised_source\.side'"),
        (["pretraining", "simclr", "temperature"], 0, r"'pretraining\.simclr\.temperature'.*greater than 0"),
        (["pretraining", "moco", "queue"], 10, r"'pretraining\.moco\.queue': unknown key; did you mean 'queue_size'\?"),
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
