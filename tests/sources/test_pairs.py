import numpy as np
import pytest

from transfer_lab.contracts import Dataset, DomainPair
from transfer_lab.sources.digits import load_digits
from transfer_lab.sources.pairs import make_coupled_pair, make_domain_pair
from transfer_lab.sources.shifts import apply_shift
from transfer_lab.sources.splits import split_indices, stratified_split

ROTATE = [{"op": "rotate", "degrees": 30}]


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.fixture(scope="module")
def table(digits):
    return stratified_split(digits.y, 0.15, 0.2, seed=0)


@pytest.fixture(scope="module")
def pair(digits, table):
    return make_domain_pair(digits, table, "clean", [], "rotated", ROTATE, seed=7)


def test_domain_pair_keys_and_name(pair):
    assert isinstance(pair, DomainPair)
    assert pair.name == "digits->digits_rotated"
    assert pair.source_shift == [] and pair.target_shift == ROTATE


def test_domain_pair_name_with_two_shifts(digits, table):
    p = make_domain_pair(digits, table, "inverted", [{"op": "invert"}], "clean", None, seed=0)
    assert p.name == "digits_inverted->digits"


def test_train_halves_are_disjoint_stratified_and_cover_train(digits, table, pair):
    src, tgt = pair.source_train_index, pair.target_train_index
    train = split_indices(table, "train")
    assert len(np.intersect1d(src, tgt)) == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([src, tgt])), train)
    assert abs(len(src) - len(tgt)) <= 1
    y = digits.y
    assert np.abs(np.bincount(y[src], minlength=10) - np.bincount(y[tgt], minlength=10)).max() <= 1
    np.testing.assert_array_equal(pair.val_index, split_indices(table, "val"))
    np.testing.assert_array_equal(pair.test_index, split_indices(table, "test"))


def test_domains_are_aligned_with_the_base_rows(digits, pair):
    assert pair.source_X.shape == pair.target_X.shape == digits.X.shape
    np.testing.assert_array_equal(pair.source_X, digits.X)
    np.testing.assert_allclose(pair.target_X, apply_shift(digits.X, ROTATE), atol=1e-6)
    np.testing.assert_array_equal(pair.y, digits.y)


def test_domain_pair_is_deterministic(digits, table, pair):
    again = make_domain_pair(digits, table, "clean", [], "rotated", ROTATE, seed=7)
    np.testing.assert_array_equal(again.source_train_index, pair.source_train_index)
    other = make_domain_pair(digits, table, "clean", [], "rotated", ROTATE, seed=8)
    assert not np.array_equal(other.source_train_index, pair.source_train_index)


def test_two_noisy_domains_get_different_noise(digits):
    noise = [{"op": "noise", "std": 0.1}]
    p = make_coupled_pair(digits, "noisy", noise, "noisy2", noise, seed=0)
    assert not np.array_equal(p.source_X, p.target_X)


def test_clean_must_be_identity(digits, table):
    with pytest.raises(ValueError, match="source_name='clean'"):
        make_domain_pair(digits, table, "clean", ROTATE, "rotated", ROTATE, seed=0)


def test_bad_steps_name_the_role(digits):
    with pytest.raises(ValueError, match=r"target_steps\[0\].op='warp'"):
        make_coupled_pair(digits, "clean", [], "warped", [{"op": "warp"}], seed=0)


def test_coupled_pair_low_to_high_resolution(digits):
    p = make_coupled_pair(
        digits, "lowres", [{"op": "downsample", "factor": 2}], "clean", [], seed=0
    )
    assert p.name == "digits_lowres->digits"
    assert p.source_X.shape == (1797, 1, 4, 4)
    assert p.target_X.shape == (1797, 1, 8, 8)
    # Row i of both domains is the same base image.
    np.testing.assert_allclose(
        p.source_X, p.target_X.reshape(1797, 1, 4, 2, 4, 2).mean(axis=(3, 5)), atol=1e-6
    )
    np.testing.assert_array_equal(p.y, digits.y)


def test_coupled_pair_on_signals():
    rng = np.random.default_rng(0)
    ds = Dataset(name="sig", kind="signal", X=rng.normal(size=(20, 1, 8)).astype(np.float32), y=np.arange(20) % 2)
    p = make_coupled_pair(ds, "clean", [], "noisy", [{"op": "noise", "std": 0.5}], seed=1)
    assert p.source_X.shape == p.target_X.shape == (20, 1, 8)
    with pytest.raises(ValueError, match="does not apply to signals"):
        make_coupled_pair(ds, "clean", [], "rot", ROTATE, seed=1)
