import numpy as np
import pytest

from transfer_lab.sources.shifts import OP_KINDS, SHIFT_OPS, apply_shift, validate_shift


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    X = np.zeros((6, 1, 12, 12), np.float32)
    X[:, :, 3:9, 5:7] = 1.0  # a vertical bar: a "stroke"
    X += rng.uniform(0, 0.2, X.shape).astype(np.float32)
    return np.clip(X, 0, 1)


@pytest.fixture(scope="module")
def signals():
    return np.random.default_rng(1).normal(size=(5, 1, 16)).astype(np.float32)


EXAMPLE_STEPS = {
    "identity": {},
    "invert": {},
    "rotate": {"degrees": 30},
    "blur": {"sigma": 1.0},
    "noise": {"std": 0.3},
    "scale": {"factor": 1.5},
    "downsample": {"factor": 2},
    "upsample": {"factor": 2},
    "thicken": {"size": 3},
}


def test_every_op_has_an_example():
    assert set(EXAMPLE_STEPS) == set(SHIFT_OPS)


@pytest.mark.parametrize("op", sorted(EXAMPLE_STEPS))
def test_image_ops_shape_dtype_range(images, op):
    out = apply_shift(images, [{"op": op, **EXAMPLE_STEPS[op]}], seed=0)
    expected = {"downsample": (6, 1, 6, 6), "upsample": (6, 1, 24, 24)}.get(op, images.shape)
    assert out.shape == expected
    assert out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert out is not images


@pytest.mark.parametrize("op", sorted(k for k, v in OP_KINDS.items() if "signal" in v))
def test_signal_ops_shape(signals, op):
    out = apply_shift(signals, [{"op": op, **EXAMPLE_STEPS[op]}], seed=0)
    expected = {"downsample": (5, 1, 8), "upsample": (5, 1, 32)}.get(op, signals.shape)
    assert out.shape == expected and out.dtype == np.float32


def test_signal_invert_is_negation_and_scale_multiplies(signals):
    np.testing.assert_array_equal(apply_shift(signals, [{"op": "invert"}]), -signals)
    np.testing.assert_allclose(
        apply_shift(signals, [{"op": "scale", "factor": 2.5}]), 2.5 * signals, rtol=1e-6
    )


def test_signal_noise_is_not_clipped(signals):
    out = apply_shift(signals, [{"op": "noise", "std": 1.0}], seed=0)
    assert out.min() < 0 and out.max() > 1


@pytest.mark.parametrize("op", ["rotate", "thicken"])
def test_image_only_op_on_signals_is_refused(signals, op):
    with pytest.raises(ValueError, match=rf"op='{op}' does not apply to signals; allowed: "):
        apply_shift(signals, [{"op": op, **EXAMPLE_STEPS[op]}])


def test_rotate_90_matches_rot90():
    # A square image that is not rotation-symmetric, so direction errors show up.
    X = np.zeros((2, 1, 9, 9), np.float32)
    X[0, 0, 1, 2:7] = 1.0
    X[0, 0, 1:8, 6] = 0.5
    X[1, 0, 4, 4] = 1.0
    X[1, 0, 0, 4] = 0.7
    out = apply_shift(X, [{"op": "rotate", "degrees": 90}])
    np.testing.assert_allclose(out, np.rot90(X, k=1, axes=(2, 3)), atol=1e-5)
    out = apply_shift(X, [{"op": "rotate", "degrees": -90}])
    np.testing.assert_allclose(out, np.rot90(X, k=-1, axes=(2, 3)), atol=1e-5)


def test_invert_twice_is_identity(images):
    out = apply_shift(images, [{"op": "invert"}, {"op": "invert"}])
    np.testing.assert_allclose(out, images, atol=1e-6)


def test_identity_and_empty_shift_copy(images):
    np.testing.assert_array_equal(apply_shift(images, []), images)
    np.testing.assert_array_equal(apply_shift(images, None), images)
    np.testing.assert_array_equal(apply_shift(images, [{"op": "identity"}]), images)


def test_composition_order_matters(images):
    a = apply_shift(images, [{"op": "invert"}, {"op": "scale", "factor": 0.5}])
    b = apply_shift(images, [{"op": "scale", "factor": 0.5}, {"op": "invert"}])
    np.testing.assert_allclose(a, 0.5 * (1 - images), atol=1e-6)
    np.testing.assert_allclose(b, 1 - 0.5 * images, atol=1e-6)


def test_composition_equals_sequential_application(images):
    steps = [{"op": "rotate", "degrees": 15}, {"op": "blur", "sigma": 0.7}]
    one = apply_shift(apply_shift(images, steps[:1]), steps[1:])
    np.testing.assert_allclose(apply_shift(images, steps), one, atol=1e-6)


def test_downsample_area_average_preserves_mean(images):
    out = apply_shift(images, [{"op": "downsample", "factor": 3}])
    assert out.shape == (6, 1, 4, 4)
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), images.mean(axis=(1, 2, 3)), atol=1e-6)
    np.testing.assert_allclose(out[0, 0, 0, 0], images[0, 0, :3, :3].mean(), atol=1e-6)


def test_downsample_factor_must_divide(images):
    with pytest.raises(ValueError, match=r"downsample factor=5 does not divide"):
        apply_shift(images, [{"op": "downsample", "factor": 5}])


def test_upsample_then_downsample_nearest_round_trips(images):
    steps = [{"op": "upsample", "factor": 2, "mode": "nearest"}, {"op": "downsample", "factor": 2}]
    np.testing.assert_allclose(apply_shift(images, steps), images, atol=1e-6)


def test_upsample_bicubic_stays_in_range(images):
    out = apply_shift(images, [{"op": "upsample", "factor": 3, "mode": "bicubic"}])
    assert out.shape == (6, 1, 36, 36) and out.min() >= 0 and out.max() <= 1


def test_thickening_increases_ink(images):
    out = apply_shift(images, [{"op": "thicken", "size": 3}])
    assert (out >= images - 1e-7).all()
    assert (out > 0.5).sum() > (images > 0.5).sum()


def test_blur_spreads_ink(images):
    out = apply_shift(images, [{"op": "blur", "sigma": 1.5}])
    assert out[:, :, 3:9, 5:7].mean() < images[:, :, 3:9, 5:7].mean()
    assert out[:, :, 3:9, 3].mean() > images[:, :, 3:9, 3].mean()


def test_noise_is_deterministic_for_a_seed(images):
    steps = [{"op": "noise", "std": 0.2}]
    a, b = apply_shift(images, steps, seed=5), apply_shift(images, steps, seed=5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, apply_shift(images, steps, seed=6))
    grey = np.full_like(images, 0.5)
    np.testing.assert_allclose((apply_shift(grey, steps, seed=1) - 0.5).std(), 0.2, atol=0.03)


def test_input_not_modified(images):
    before = images.copy()
    apply_shift(images, [{"op": "noise", "std": 0.5}, {"op": "invert"}])
    np.testing.assert_array_equal(images, before)


def test_unknown_op_message():
    with pytest.raises(ValueError) as info:
        validate_shift([{"op": "rotate", "degrees": 3}, {"op": "swirl"}], key="params:shifts.odd")
    msg = str(info.value)
    assert "\n" not in msg
    assert "params:shifts.odd[1].op='swirl'" in msg
    for name in SHIFT_OPS:
        assert name in msg


@pytest.mark.parametrize(
    "steps, fragment",
    [
        ([{"op": "rotate"}], r"shift\[0\].degrees is missing"),
        ([{"op": "rotate", "degrees": "30"}], r"shift\[0\].degrees='30' is not allowed"),
        ([{"op": "noise", "std": -1}], r"shift\[0\].std=-1 is not allowed; expected a number >= 0"),
        ([{"op": "downsample", "factor": 1.5}], r"shift\[0\].factor=1.5 is not allowed"),
        (
            [{"op": "blur", "sigma": 1, "radius": 2}],
            r"unknown argument\(s\) \['radius'\].*allowed: sigma",
        ),
        ([{"op": "upsample", "factor": 2, "mode": "area"}], r"shift\[0\].mode='area'"),
        ([{"degrees": 3}], r"shift\[0\].op=None is not a known op"),
        ({"op": "rotate"}, r"expected a list of steps"),
        (["rotate"], r"shift\[0\]='rotate' is not allowed"),
    ],
)
def test_bad_steps(steps, fragment):
    with pytest.raises(ValueError, match=fragment):
        validate_shift(steps)


def test_validate_fills_defaults_and_returns_copies():
    steps = [{"op": "upsample", "factor": 2}]
    clean = validate_shift(steps)
    assert clean == [{"op": "upsample", "factor": 2, "mode": None}]
    assert steps == [{"op": "upsample", "factor": 2}]


def test_bad_array_shape():
    with pytest.raises(ValueError, match=r"X shape \(3, 4\)"):
        apply_shift(np.zeros((3, 4), np.float32), [])
