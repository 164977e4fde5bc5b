"""Encoder checkpoints round-trip through torch.save / weights_only loading."""

from __future__ import annotations

import pytest
import torch
from kedro.io import DatasetError

from transfer_lab.datasets import EncoderCheckpointDataset, EncoderCheckpointsDataset
from transfer_lab.methods.encoders import build_encoder, encoder_checkpoint, encoder_from_checkpoint


def _checkpoint(seed: int = 0) -> tuple[torch.nn.Module, dict]:
    torch.manual_seed(seed)
    kwargs = {"width": 4, "depth": 2, "out_features": 8}
    encoder = build_encoder("cnn2d", (1, 8, 8), **kwargs)
    return encoder, encoder_checkpoint(encoder, "cnn2d", (1, 8, 8), kwargs, method="simclr", history=[2.0, 1.5])


def test_folder_round_trip_rebuilds_the_same_encoder(tmp_path):
    encoder, checkpoint = _checkpoint()
    dataset = EncoderCheckpointsDataset(str(tmp_path / "encoders"))
    assert dataset.load() == {}  # absent folder: no encoders yet, not an error
    assert not dataset.exists()
    dataset.save({"simclr": checkpoint})
    loaded = dataset.load()
    assert list(loaded) == ["simclr"] and loaded["simclr"]["meta"] == {"method": "simclr", "history": [2.0, 1.5]}
    rebuilt = encoder_from_checkpoint(loaded["simclr"]).eval()
    x = torch.randn(5, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), encoder.eval()(x))
    assert not list((tmp_path / "encoders").glob("*.partial"))


def test_single_file_and_bad_inputs(tmp_path):
    _, checkpoint = _checkpoint()
    single = EncoderCheckpointDataset(str(tmp_path / "one.pt"))
    with pytest.raises(DatasetError, match="no encoder checkpoint"):
        single.load()
    single.save(checkpoint)
    assert set(single.load()) == {"encoder", "state_dict", "meta"}
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(DatasetError, match="broken.pt"):
        EncoderCheckpointDataset(str(tmp_path / "broken.pt")).load()
    with pytest.raises(DatasetError, match="invalid checkpoint name"):
        EncoderCheckpointsDataset(str(tmp_path / "x")).save({"../evil": checkpoint})
    with pytest.raises(ValueError, match="not an encoder checkpoint"):
        encoder_from_checkpoint({"weights": {}})


def test_save_replaces_the_previous_runs_checkpoints(tmp_path):
    _, checkpoint = _checkpoint()
    dataset = EncoderCheckpointsDataset(str(tmp_path / "encoders"))
    dataset.save({"supcon_lpc5_seed0": checkpoint, "simclr": checkpoint})
    dataset.save({"simclr": checkpoint})  # a later run with other budgets
    assert list(dataset.load()) == ["simclr"]
