"""CLIP on generated captions: the loss against a loop, captions, the held-out combination."""

import math

import numpy as np
import pytest
import torch

from transfer_lab.methods import clip
from transfer_lab.methods.encoders import build_encoder
from transfer_lab.methods.training import TrainConfig


def test_clip_loss_is_the_symmetric_infonce_as_a_loop():
    generator = torch.Generator().manual_seed(0)
    image = torch.nn.functional.normalize(torch.randn(4, 3, generator=generator), dim=1)
    text = torch.nn.functional.normalize(torch.randn(4, 3, generator=generator), dim=1)
    s = 7.0
    sim = [[s * float(image[i] @ text[j]) for j in range(4)] for i in range(4)]
    i2t = sum(-(sim[i][i] - math.log(sum(math.exp(sim[i][j]) for j in range(4)))) for i in range(4)) / 4
    t2i = sum(-(sim[j][j] - math.log(sum(math.exp(sim[i][j]) for i in range(4)))) for j in range(4)) / 4
    assert clip.clip_loss(image, text, s).item() == pytest.approx((i2t + t2i) / 2, abs=1e-5)


def test_captions_and_word_tokens():
    assert clip.caption("seven") == "a seven" and clip.caption("seven", "thick") == "a thick seven"
    assert clip.caption("one", "low_res") == "a low res one"
    tokenizer = clip.WordTokenizer(["a seven", "a thick seven"])
    ids = tokenizer(["a thick seven", "a seven"])
    assert ids.shape == (2, 3) and ids[1, 2] == 0 and ids[0, 0] == ids[1, 0]
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tokenizer(["a photo of a seven"])


def _bars(n=120, seed=0):
    """Two classes: a horizontal or a vertical bar (class 0 / 1) on faint noise."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 0.1, (n, 1, 8, 8)).astype(np.float32)
    y = np.arange(n) % 2
    for i in range(n):
        k = rng.integers(2, 6)
        if y[i]:
            X[i, 0, :, k] = 1.0
        else:
            X[i, 0, k, :] = 1.0
    return X, y


SHIFTS = {"noisy": [{"op": "noise", "std": 0.1}], "inverted": [{"op": "invert"}]}


def test_held_out_combination_is_never_shown_and_zero_shot_beats_chance():
    X, y = _bars()
    X_test, y_test = _bars(60, seed=1)
    torch.manual_seed(0)
    shown = []
    original = clip.clip_loss

    def recording(image, text, scale):
        shown.append(text.shape[0])
        return original(image, text, scale)

    allowed = clip._allowed(2, ["clean", "noisy", "inverted"], [1], "inverted")
    assert allowed.tolist() == [[True, True, True], [True, True, False]]
    clip.clip_loss = recording
    try:
        result = clip.train_clip(
            X, y, shifts=SHIFTS, X_test=X_test, y_test=y_test, held_out_classes=[1], held_out_shift="inverted",
            class_words=("flat", "upright"), encoder=build_encoder("cnn2d", (1, 8, 8), width=4, out_features=16),
            config=TrainConfig(epochs=15, batch_size=40, lr=3e-3, patience=None),
        )
    finally:
        clip.clip_loss = original
    assert shown and set(result.zero_shot) == {
        "chance", "clean", "held_out_classes_clean", "held_out_combination", "held_out_combination_shift_prompt",
        clip.LINEAR_PROBE,
    }
    assert result.zero_shot["chance"] == 0.5
    assert result.zero_shot["clean"] > 0.8  # two prompts, "a flat" / "an upright"
    # the probe beside it: logistic regression on the frozen image features, all labels
    features = [result.encoder(torch.as_tensor(a)).detach().numpy() for a in (X, X_test)]
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(features[0])
    expected = LogisticRegression(max_iter=2000).fit(scaler.transform(features[0]), y).score(scaler.transform(features[1]), y_test)
    assert result.zero_shot[clip.LINEAR_PROBE] == pytest.approx(expected)
    assert result.history.train_loss[-1] < result.history.train_loss[0]


def test_bad_held_out_settings_are_refused():
    X, y = _bars(8)
    with pytest.raises(ValueError, match="not one of the shifts"):
        clip.train_clip(X, y, shifts=SHIFTS, held_out_classes=[1], held_out_shift="rotated", config=TrainConfig(epochs=1))
    with pytest.raises(ValueError, match="proper subset"):
        clip.train_clip(X, y, shifts=SHIFTS, held_out_classes=[0, 1], held_out_shift="noisy", config=TrainConfig(epochs=1))
