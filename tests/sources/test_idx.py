import gzip
import io

import numpy as np
import pytest

from transfer_lab.sources.idx import idx_to_dataset, read_idx, write_idx

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("compress", [False, True])
def test_round_trip_files(tmp_path, dtype, compress):
    rng = np.random.default_rng(0)
    array = (rng.normal(size=(4, 3, 5)) * 50).astype(dtype)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    with open(path, "wb") as f:
        write_idx(f, array, gzip=compress)
    if compress:
        assert path.read_bytes()[:2] == b"\x1f\x8b"
    with open(path, "rb") as f:
        back = read_idx(f)
    assert back.dtype == np.dtype(dtype)
    assert back.dtype.byteorder in ("=", "|")
    np.testing.assert_array_equal(back, array)


def test_header_bytes_match_the_specification():
    buf = io.BytesIO()
    write_idx(buf, np.arange(6, dtype=np.uint8).reshape(2, 3))
    assert buf.getvalue() == bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 1, 2, 3, 4, 5])


def test_big_endian_payload_of_int32():
    buf = io.BytesIO()
    write_idx(buf, np.array([1, 256], dtype=np.int32))
    assert buf.getvalue()[8:] == b"\x00\x00\x00\x01\x00\x00\x01\x00"
    np.testing.assert_array_equal(read_idx(io.BytesIO(buf.getvalue())), [1, 256])


def test_caller_wrapped_gzip_is_read():
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb") as gz:
        write_idx(gz, np.arange(10, dtype=np.uint8))
    np.testing.assert_array_equal(read_idx(io.BytesIO(raw.getvalue())), np.arange(10))


def test_bad_magic():
    with pytest.raises(ValueError, match="bad magic"):
        read_idx(io.BytesIO(b"\x01\x02\x08\x01\x00\x00\x00\x01\x07"))


def test_unknown_dtype_code():
    with pytest.raises(ValueError, match="type code 0x0A"):
        read_idx(io.BytesIO(b"\x00\x00\x0a\x01\x00\x00\x00\x01\x07"))


@pytest.mark.parametrize("compress", [False, True])
def test_truncated_file(tmp_path, compress):
    buf = io.BytesIO()
    write_idx(buf, np.zeros((5, 4, 4), np.uint8))
    data = buf.getvalue()[:-3]
    if compress:
        data = gzip.compress(data)
    path = tmp_path / "t.idx"
    path.write_bytes(data)
    with open(path, "rb") as f, pytest.raises(ValueError, match="truncated") as info:
        read_idx(f)
    assert "\n" not in str(info.value)
    assert "t.idx" in str(info.value)


def test_truncated_gzip_stream():
    buf = io.BytesIO()
    write_idx(buf, np.zeros((50, 8, 8), np.uint8), gzip=True)
    with pytest.raises(ValueError, match="gzip"):
        read_idx(io.BytesIO(buf.getvalue()[:-10]))


def test_truncated_header():
    with pytest.raises(ValueError, match="truncated header"):
        read_idx(io.BytesIO(b"\x00\x00\x08\x03\x00\x00"))


def test_write_refuses_unsupported_dtype():
    with pytest.raises(ValueError, match="int64"):
        write_idx(io.BytesIO(), np.zeros(3, np.int64))


def test_idx_to_dataset():
    images = np.array([[[0, 255]], [[51, 102]]], dtype=np.uint8)
    ds = idx_to_dataset(images, np.array([3, 7], np.uint8), "tiny")
    assert ds.name == "tiny" and ds.kind == "image"
    assert ds.X.shape == (2, 1, 1, 2) and ds.X.dtype == np.float32
    np.testing.assert_allclose(ds.X[:, 0], images / 255.0, rtol=1e-6)
    assert ds.y.dtype == np.int64 and ds.y.tolist() == [3, 7]


def test_idx_to_dataset_length_mismatch():
    with pytest.raises(ValueError, match="length 3 does not match images length 2"):
        idx_to_dataset(np.zeros((2, 4, 4), np.uint8), np.zeros(3, np.uint8), "x")
