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
import math
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

__all__ = ["read_idx", "write_idx", "idx_to_dataset", "check_labels", "MAX_IDX_BYTES"]


def _source_name(f: BinaryIO) -> str:
    name = getattr(f, "name", None) or getattr(f, "path", None)
    return f"IDX file {name!s}" if name else "IDX data"


#: The largest array :func:`read_idx` accepts (bytes after decompression): a header that
#: declares more is refused before anything is allocated or decompressed.
MAX_IDX_BYTES = 4 * 2**30
#: How far past the declared size a gzip stream is decompressed to notice trailing bytes.
_TRAILING_MARGIN = 64 * 2**10
_CHUNK = 2**20


def _file_size(f: BinaryIO) -> int | None:
    """Bytes left in ``f`` from its current position, when it can tell without reading."""
    size = getattr(f, "size", None)
    try:
        if size is None or callable(size):
            here = f.tell()
            size = f.seek(0, 2)
            f.seek(here)
            return int(size) - here
        return int(size) - f.tell()
    except (AttributeError, OSError, ValueError, TypeError):
        return None


class _BoundedReader:
    """Reads a plain or gzipped stream, decompressing incrementally, never more than asked."""

    def __init__(self, f: BinaryIO, where: str) -> None:
        self._f = f
        self._where = where
        self.compressed_size = _file_size(f)  # bytes in the file (before decompression)
        head = f.read(2)
        self.gzipped = head == _GZIP_MAGIC
        self._buffer = bytearray()
        self._eof = False
        if self.gzipped:
            self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
            self._pending = head
        else:
            self._inflate = None
            self._buffer += head

    def _fill(self, wanted: int) -> None:
        """Make the buffer hold at least ``wanted`` bytes, or reach the end of the stream."""
        while len(self._buffer) < wanted and not self._eof:
            if self._inflate is None:
                chunk = self._f.read(min(_CHUNK, wanted - len(self._buffer)))
                if not chunk:
                    self._eof = True
                self._buffer += chunk
                continue
            try:
                room = wanted - len(self._buffer)
                if self._inflate.unconsumed_tail:
                    self._buffer += self._inflate.decompress(self._inflate.unconsumed_tail, room)
                    continue
                if self._inflate.eof:
                    rest = self._inflate.unused_data + self._f.read(_CHUNK)
                    if not rest.strip(b"\0"):
                        self._eof = True  # padding after the gzip member
                        continue
                    if rest[:2] != _GZIP_MAGIC:
                        raise ValueError(f"{self._where}: trailing bytes after the gzip stream")
                    self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)  # a further member
                    self._buffer += self._inflate.decompress(rest, room)
                    continue
                chunk = self._pending or self._f.read(_CHUNK)
                self._pending = b""
                if not chunk:
                    raise ValueError(f"{self._where}: corrupt or truncated gzip stream (ends before its end marker)")
                self._buffer += self._inflate.decompress(chunk, room)
            except zlib.error as exc:
                raise ValueError(f"{self._where}: corrupt or truncated gzip stream ({exc})") from None

    def read(self, n: int) -> bytes:
        self._fill(n)
        out = bytes(self._buffer[:n])
        del self._buffer[:n]
        return out

    def read_into(self, out: memoryview) -> int:
        """Fill ``out`` (the array's own memory), chunk by chunk; return the bytes read."""
        done = 0
        while done < len(out):
            self._fill(min(_CHUNK, len(out) - done))
            if not self._buffer:
                break
            take = min(len(self._buffer), len(out) - done)
            out[done:done + take] = self._buffer[:take]
            del self._buffer[:take]
            done += take
        return done

    def remaining(self, limit: int) -> int:
        """How many further bytes the stream holds, counting up to ``limit`` at most."""
        self._fill(limit)
        return len(self._buffer)


def read_idx(f: BinaryIO, max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Parse an IDX file (plain or gzipped) into a native-endian numpy array.

    The header is read and checked first (sizes as Python integers, so no product can
    overflow; at most ``max_bytes``; for a plain file, no more than the file holds), then
    exactly the declared number of bytes is decompressed into the array, plus a small
    margin to notice trailing bytes: a gzip bomb is refused after at most that much work.

    Parameters
    ----------
    f : binary file object
        Open for reading, positioned at the start of the file (local file, fsspec file,
        ``io.BytesIO``, ...).
    max_bytes : int, optional
        The largest data size accepted.

    Returns
    -------
    numpy.ndarray
        Array with the dtype given by the file's type code (in native byte order) and
        the shape given by its header.

    Raises
    ------
    ValueError
        On a bad magic number, an unknown type code, a corrupt gzip stream, an implausible
        header, or a payload whose size differs from what the header promises.
    """
    where = _source_name(f)
    stream = _BoundedReader(f, where)
    head = stream.read(4)
    if len(head) < 4:
        raise ValueError(f"{where}: truncated header ({len(head)} bytes, need at least 4)")
    if head[0] != 0 or head[1] != 0:
        raise ValueError(
            f"{where}: bad magic number 0x{head[:4].hex()}; an IDX file starts with two zero bytes"
        )
    code, ndim = head[2], head[3]
    if code not in _CODE_TO_DTYPE:
        allowed = ", ".join(f"0x{c:02X}" for c in _CODE_TO_DTYPE)
        raise ValueError(f"{where}: unknown element type code 0x{code:02X}; allowed: {allowed}")
    if ndim == 0:
        raise ValueError(f"{where}: header declares 0 dimensions; allowed: 1 to 255")
    header_len = 4 + 4 * ndim
    dims = stream.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise ValueError(
            f"{where}: truncated header ({4 + len(dims)} bytes, {ndim} dimensions need {header_len})"
        )
    shape = tuple(int(size) for size in struct.unpack(f">{ndim}I", dims))  # Python ints
    dtype = _CODE_TO_DTYPE[code]
    expected = math.prod(shape) * dtype.itemsize  # exact: no overflow
    if expected > max_bytes:
        raise ValueError(
            f"{where}: header shape {shape} of {dtype.name} declares {expected} data bytes, "
            f"more than the {max_bytes} allowed; the header is corrupt or the file is not IDX"
        )
    if not stream.gzipped and stream.compressed_size is not None:
        got = stream.compressed_size - header_len
        if got < expected:
            raise ValueError(
                f"{where}: truncated: header shape {shape} of {dtype.name} needs "
                f"{expected} data bytes, found {got}"
            )
    array = np.empty(shape, dtype=dtype)
    got = stream.read_into(memoryview(array.reshape(-1).view(np.uint8)))
    extra = stream.remaining(_TRAILING_MARGIN) if got == expected else 0
    if got != expected or extra:
        # Fewer bytes is a truncated download; more means the header is wrong. Either way
        # the array would be silently misread, so refuse both.
        problem = "truncated" if got < expected else "has trailing bytes"
        found = f"{got}" if got < expected else f"at least {got + extra}"
        raise ValueError(
            f"{where}: {problem}: header shape {shape} of {dtype.name} needs "
            f"{expected} data bytes, found {found}"
        )
    # Native byte order, so callers never meet '>f4' arrays.
    return array.astype(dtype.newbyteorder("="), copy=False)


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


def check_labels(labels: np.ndarray, n_classes: int, where: str = "labels") -> None:
    """Raise ``ValueError`` unless ``labels`` is a 1-D integer array of classes
    ``0 .. n_classes - 1``; the message names the first offending index and value.

    ``-1`` is refused too: it is the project's "unlabelled" marker, and a semi-supervised
    method would silently take such a row for an unlabelled one.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        hint = " (are the image and label files swapped?)" if labels.ndim >= 2 else ""
        raise ValueError(f"{where}: labels have shape {labels.shape}; expected a 1-D array{hint}")
    if labels.dtype.kind not in "iu":
        raise ValueError(f"{where}: labels have dtype {labels.dtype}; expected integers")
    bad = np.flatnonzero((labels < 0) | (labels >= n_classes))
    if len(bad):
        first = int(bad[0])
        value = int(labels[first])
        what = "negative label" if value < 0 else f"label outside the {n_classes} declared classes"
        raise ValueError(
            f"{where}: {what} at index {first}: {value} ({len(bad)} such label(s)); "
            f"allowed: 0 to {n_classes - 1} (set the dataset's n_classes if it declares more)"
        )


def idx_to_dataset(images: np.ndarray, labels: np.ndarray, name: str, n_classes: int | None = None) -> Dataset:
    """Turn IDX image and label arrays into the project's :class:`~transfer_lab.contracts.Dataset`.

    Parameters
    ----------
    images : numpy.ndarray of uint8, shape (n, H, W)
        Grey-level images, 0 = background, 255 = ink.
    labels : numpy.ndarray, shape (n,)
        Integer class labels.
    name : str
        Dataset name, e.g. ``"mnist"``.
    n_classes : int, optional
        The number of classes the dataset declares; labels are checked against it and it
        becomes ``Dataset.n_classes`` (never inferred from the largest label).

    Returns
    -------
    Dataset
        ``name``, ``kind="image"``, ``X`` float32 (n, 1, H, W) in [0, 1], ``y`` int64 (n,).

    Raises
    ------
    ValueError
        If shapes, dtypes, lengths or labels do not fit.
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
    if n_classes is not None:
        check_labels(labels, n_classes)
    X = (images.astype(np.float32) / np.float32(255.0))[:, None, :, :]
    return Dataset(name=name, kind="image", X=X, y=labels.astype(np.int64), declared_classes=n_classes)
