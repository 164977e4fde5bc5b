"""Every second-wave method through methods.transfer.pretrain, on 8x8 images and on 40-step signals."""

import numpy as np
import pytest
import torch

from transfer_lab.methods.encoders import build_encoder
from transfer_lab.methods.training import TrainConfig
from transfer_lab.methods.transfer import pretrain

SIGNAL_SHIFTS = {"noisy": [{"op": "noise", "std": 0.5}], "scaled": [{"op": "scale", "factor": 1.5}]}
IMAGE_SHIFTS = {"rotated": [{"op": "rotate", "degrees": 30}], "thick": [{"op": "thicken", "size": 2}]}


@pytest.mark.parametrize("kind", ["image", "signal"])
@pytest.mark.parametrize("method", ["dim", "cpc", "jigsaw", "relative_position", "clip"])
def test_method_trains_an_encoder_of_the_requested_shape(method, kind):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    shape = (1, 8, 8) if kind == "image" else (1, 40)
    X = rng.uniform(0, 1, (24, *shape)).astype(np.float32)
    y = np.arange(24) % 3
    extra = {}
    if method == "clip":
        extra = {"shifts": IMAGE_SHIFTS if kind == "image" else SIGNAL_SHIFTS, "held_out_classes": [2],
                 "held_out_shift": "rotated" if kind == "image" else "noisy"}
    encoder, history = pretrain(
        method, X, y if method == "clip" else None, encoder=build_encoder("auto", shape, width=4, out_features=8),
        config=TrainConfig(epochs=1, batch_size=12, patience=None), **extra,
    )
    assert history.epochs_run == 1 and np.isfinite(history.train_loss).all()
    assert encoder(torch.as_tensor(X[:3])).shape == (3, 8)
