import numpy as np
from sklearn.datasets import load_digits as sk_load_digits

from transfer_lab.sources.digits import load_digits


def test_digits_contract():
    ds = load_digits()
    assert ds.name == "digits" and ds.kind == "image"
    assert ds.X.shape == (1797, 1, 8, 8) and ds.X.dtype == np.float32
    assert ds.y.shape == (1797,) and ds.y.dtype == np.int64
    assert ds.X.min() == 0.0 and ds.X.max() == 1.0
    assert set(np.unique(ds.y)) == set(range(10))


def test_digits_values_are_sklearn_over_16():
    ref = sk_load_digits()
    ds = load_digits()
    np.testing.assert_array_equal(ds.X.reshape(1797, 64) * 16, ref.data)
    np.testing.assert_array_equal(ds.y, ref.target)
