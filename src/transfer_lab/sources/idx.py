"""Reader and writer for the IDX file format (MNIST, Fashion-MNIST, KMNIST).

The IDX format (http://yann.lecun.com/exdb/mnist/) is a tiny header followed by a
raw big-endian array:

* bytes 0-1: zero;
* byte 2: the element type code (0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int,
  0x0D float, 0x0E double);
* byte 3: the number of dimensions ``ndim``;
* ``ndim`` big-endian unsigned 32-bit sizes;
* the data, C order, big-endian.

The distributed files are gzipped; :func:`read_idx` recognises the gzip magic bytes
and decompresses transparently, so a catalog can point at either form.
"""

from __future__ import annotations

import gzip as _gzip
import struct
import zlib
from typing import BinaryIO

import numpy as np

from transfer_lab.contracts import Dataset

# Codes from the format's specification; big-endian element types, as stored.
_CODE_TO_DTYPE: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_KIND_SIZE_TO_CODE: dict[tuple[str, int], int] = {
    (dtype.kind, dtype.itemsize): code for code, dtype in _CODE_TO_DTYPE.items()
}
_GZIP_MAGIC = b"\x1f\x8b"

__all__ = ["read_idx", "write_idx", "idx_to_dataset"]


def _source_name(f: BinaryIO) -> str:
    name = getattr(f, "name", None) or getattr(f, "path", None)
    return f"IDX file {name!s}" if name else "IDX data"


def read_idx(f: BinaryIO) -> np.ndarray:
    """Parse an IDX file (plain or gzipped) into a native-endian numpy array.

    Parameters
    ----------
    f : binary file object
        Open for reading, positioned at the start of the file (local file, fsspec file,
        ``io.BytesIO``, ...).

    Returns
    -------
    numpy.ndarray
        Array with the dtype given by the file's type code (in native byte order) and
        the shape given by its header.

    Raises
    ------
    ValueError
        On a bad magic number, an unknown type code, a corrupt gzip stream, or a
        payload whose size differs from what the header promises.
    """
    where = _source_name(f)
    raw = f.read()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = _gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise ValueError(f"{where}: corrupt or truncated gzip stream ({exc})") from None
    if len(raw) < 4:
        raise ValueError(f"{where}: truncated header ({len(raw)} bytes, need at least 4)")
    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(
            f"{where}: bad magic number 0x{raw[:4].hex()}; an IDX file starts with two zero bytes"
        )
    code, ndim = raw[2], raw[3]
    if code not in _CODE_TO_DTYPE:
        allowed = ", ".join(f"0x{c:02X}" for c in _CODE_TO_DTYPE)
        raise ValueError(f"{where}: unknown element type code 0x{code:02X}; allowed: {allowed}")
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise ValueError(
            f"{where}: truncated header ({len(raw)} bytes, {ndim} dimensions need {header_len})"
        )
    shape = struct.unpack(f">{ndim}I", raw[4:header_len])
    dtype = _CODE_TO_DTYPE[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header_len
    if got != expected:
        # Fewer bytes is a truncated download; more means the header is wrong. Either way
        # the array would be silently misread, so refuse both.
        problem = "truncated" if got < expected else "has trailing bytes"
        raise ValueError(
            f"{where}: {problem}: header shape {shape} of {dtype.name} needs "
            f"{expected} data bytes, found {got}"
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header_len, count=int(np.prod(shape)))
    # Native byte order and a writable copy, so callers never meet '>f4' arrays.
    return array.reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(f: BinaryIO, array: np.ndarray, gzip: bool = False) -> None:
    """Write ``array`` to ``f`` in IDX format (the inverse of :func:`read_idx`).

    Parameters
    ----------
    f : binary file object
        Open for writing. Wrap it in :class:`gzip.GzipFile` yourself, or pass
        ``gzip=True``, to produce a ``.gz`` file.
    array : numpy.ndarray
        Array of uint8, int8, int16, int32, float32 or float64, with 1 to 255 dimensions.
    gzip : bool, default False
        Compress the bytes with gzip before writing.

    Raises
    ------
    ValueError
        If the dtype has no IDX type code or the number of dimensions is out of range.
    """
    array = np.asarray(array)
    code = _KIND_SIZE_TO_CODE.get((array.dtype.kind, array.dtype.itemsize))
    if code is None:
        raise ValueError(
            f"array dtype {array.dtype} has no IDX type code; "
            "allowed: uint8, int8, int16, int32, float32, float64"
        )
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"array ndim {array.ndim} is not storable in IDX; allowed: 1 to 255")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + np.ascontiguousarray(array, dtype=_CODE_TO_DTYPE[code]).tobytes()
    if gzip:
        # mtime=0 keeps the bytes reproducible for the same array.
        payload = _gzip.compress(payload, mtime=0)
    f.write(payload)


def idx_to_dataset(images: np.ndarray, labels: np.ndarray, name: str) -> Dataset:
    """Turn IDX image and label arrays into the project's :class:`~transfer_lab.contracts.Dataset`.

    Parameters
    ----------
    images : numpy.ndarray of uint8, shape (n, H, W)
        Grey-level images, 0 = background, 255 = ink.
    labels : numpy.ndarray, shape (n,)
        Integer class labels.
    name : str
        Dataset name, e.g. ``"mnist"``.

    Returns
    -------
    dict
        ``{"name", "kind": "image", "X": float32 (n, 1, H, W) in [0, 1], "y": int64 (n,)}``.

    Raises
    ------
    ValueError
        If shapes, dtypes or lengths do not fit.
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim != 3:
        raise ValueError(f"images shape {images.shape} is not allowed; expected (n, H, W)")
    if images.dtype != np.uint8:
        raise ValueError(f"images dtype {images.dtype} is not allowed; expected uint8")
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(
            f"labels shape {labels.shape} dtype {labels.dtype} is not allowed; "
            "expected a 1-d integer array"
        )
    if len(images) != len(labels):
        raise ValueError(
            f"labels length {len(labels)} does not match images length {len(images)}"
        )
    X = (images.astype(np.float32) / np.float32(255.0))[:, None, :, :]
    return Dataset(name=name, kind="image", X=X, y=labels.astype(np.int64))
