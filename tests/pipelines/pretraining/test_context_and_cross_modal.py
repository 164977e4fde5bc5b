"""The second-wave pretraining methods in the pipeline: what each sees, CLIP's zero-shot rows."""

from __future__ import annotations

import numpy as np
import pytest

from tests.pipelines.pretraining.test_pretraining_pipeline import _rows_of, _shared, ci_inputs, recorded  # noqa: F401
from transfer_lab.pipelines.pretraining import nodes
from transfer_lab.pipelines.pretraining.params import METHODS, UNLABELLED
from transfer_lab.sources.splits import split_indices

NEW = ["dim", "cpc", "jigsaw", "relative_position"]


def test_new_methods_are_pretraining_namespaces():
    assert set(NEW) <= set(UNLABELLED) and {*NEW, "clip"} <= set(METHODS)


@pytest.mark.parametrize("method", NEW)
def test_new_self_supervised_methods_see_training_rows_without_labels(ci_inputs, recorded, method):  # noqa: F811
    base, table, _, _, params = ci_inputs
    checkpoints = nodes.pretrain_unlabelled(method, base, table, params["pretraining"][method], *_shared(params), params["data"])
    (call,) = recorded
    assert call["method"] == method and call["y"] is None
    np.testing.assert_array_equal(_rows_of(call["X"], base.X), split_indices(table, "train"))
    assert set(checkpoints) == {method}


def test_clip_trains_on_training_rows_and_their_labels_and_scores_on_test_rows(ci_inputs, recorded):  # noqa: F811
    base, table, _, _, params = ci_inputs
    checkpoints = nodes.pretrain_clip(base, table, params["pretraining"]["clip"], *_shared(params), params["data"])
    (call,) = recorded
    train, test = split_indices(table, "train"), split_indices(table, "test")
    np.testing.assert_array_equal(_rows_of(call["X"], base.X), train)
    np.testing.assert_array_equal(call["y"], base.y[train])
    np.testing.assert_array_equal(_rows_of(call["X_test"], base.X), test)
    assert call["held_out_shift"] == "rotated" and set(call["shifts"]) == {"rotated", "thick", "noisy"}
    assert checkpoints["clip"]["meta"]["labels"] == "captions_of_all_training_rows"


def test_clip_node_writes_zero_shot_rows_beside_chance(ci_inputs):  # noqa: F811
    base, table, _, _, params = ci_inputs
    checkpoints = nodes.pretrain_clip(base, table, params["pretraining"]["clip"], *_shared(params), params["data"])
    rows = nodes.score_checkpoints(checkpoints)
    zero_shot = rows[rows["metric"] == "zero_shot_accuracy"].set_index("split")["value"]
    assert set(zero_shot.index) == {
        "chance", "clean", "held_out_classes_clean", "held_out_combination", "held_out_combination_shift_prompt"
    }
    assert zero_shot["chance"] == pytest.approx(0.1)
    assert ((zero_shot >= 0) & (zero_shot <= 1)).all()
    # beside it, a linear probe of the same image encoder
    (probe,) = rows.loc[rows["metric"] == "linear_probe_accuracy", "value"]
    assert 0 <= probe <= 1 and rows.loc[rows["metric"] == "linear_probe_accuracy", "split"].item() == "test"


def test_clip_is_not_transferred_under_a_label_budget():
    from transfer_lab.contracts import PRETRAINING_METHODS, TRANSFERRED_ENCODERS
    from transfer_lab.pipelines.transfer.params import ENCODERS

    assert "clip" in PRETRAINING_METHODS and "clip" not in TRANSFERRED_ENCODERS and ENCODERS == TRANSFERRED_ENCODERS


def test_cpc_grid_settings_pass_to_the_method_and_are_checked_together():
    from pydantic import ValidationError

    from transfer_lab.pipelines.pretraining.params import CPCParams

    kwargs = CPCParams(grid=True, upsample=2, patch_stride=2).method_kwargs()
    assert (kwargs["grid"], kwargs["upsample"], kwargs["patch_stride"]) == (True, 2, 2)
    for bad in ({"grid": True}, {"upsample": 2}):
        with pytest.raises(ValidationError, match="grid"):
            CPCParams(**bad)


def test_cpc_readout_blocks_take_a_number_or_a_list_of_increasing_blocks():
    from pydantic import ValidationError

    from transfer_lab.pipelines.pretraining.params import CPCParams

    assert CPCParams(readout_blocks=1).method_kwargs()["readout_blocks"] == 1
    assert CPCParams(readout_blocks=[1, 2]).method_kwargs()["readout_blocks"] == [1, 2]
    for bad in (-1, [], [0, 1], [2, 1], [1, 1]):
        with pytest.raises(ValidationError, match="readout_blocks"):
            CPCParams(readout_blocks=bad)
