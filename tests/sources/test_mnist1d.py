import random

import numpy as np
import pytest

from transfer_lab.sources.mnist1d import MNIST1D_DEFAULTS, make_mnist1d


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    import requests

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(requests, "get", refuse)
    monkeypatch.setattr(requests.Session, "request", refuse)


def test_shapes_and_pooling():
    ds = make_mnist1d(num_samples=300)
    assert ds.name == "mnist1d" and ds.kind == "signal"
    # The package makes num_samples // 10 per class and splits 80/20; both parts pooled.
    assert ds.X.shape == (300, 1, 40) and ds.X.dtype == np.float32
    assert ds.y.dtype == np.int64
    assert np.bincount(ds.y).tolist() == [30] * 10
    assert abs(float(ds.X.mean())) < 1e-4 and abs(float(ds.X.std()) - 1) < 1e-3


def test_deterministic_and_seed_sensitive():
    a, b = make_mnist1d(num_samples=200, seed=3), make_mnist1d(num_samples=200, seed=3)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    c = make_mnist1d(num_samples=200, seed=4)
    assert not np.array_equal(a.X, c.X)


def test_generator_args_are_passed():
    ds = make_mnist1d(num_samples=100, final_seq_length=24, train_split=0.5)
    assert ds.X.shape == (100, 1, 24)


def test_global_rng_untouched():
    np.random.seed(123)
    random.seed(123)
    expected_np, expected_py = np.random.rand(), random.random()
    np.random.seed(123)
    random.seed(123)
    make_mnist1d(num_samples=100)
    assert np.random.rand() == expected_np
    assert random.random() == expected_py


def test_unknown_argument():
    msg = r"unknown MNIST-1D argument\(s\) \['url'\].*allowed:.*shear_scale"
    with pytest.raises(ValueError, match=msg):
        make_mnist1d(num_samples=100, url="http://example.com")


def test_defaults_exclude_url():
    assert "url" not in MNIST1D_DEFAULTS
    assert MNIST1D_DEFAULTS["num_samples"] == 5000 and MNIST1D_DEFAULTS["seed"] == 42


def test_a_second_call_reuses_the_data_but_returns_independent_copies():
    first = make_mnist1d(num_samples=200, seed=3)
    first.X[:] = 0.0  # a caller editing its arrays in place
    second = make_mnist1d(num_samples=200, seed=3)
    assert second.X.std() > 0
    assert not np.array_equal(make_mnist1d(num_samples=200, seed=4).X, second.X)
