"""A catalog dataset for nested Python data that never runs code when it is loaded.

``pickle`` files execute whatever they were made to execute on load, so a ``data/`` folder
copied from elsewhere could run code in ``kedro run``. :class:`TreeDataset` stores the
intermediate outputs that used to be pickles (the ``base_dataset``, the domain and coupled
pairs, learned dictionaries, task networks as state dicts, ...) in one ``.npz`` file:

* every NumPy array (and every torch tensor, as its values) is one member of the archive,
  read back with ``numpy.load(allow_pickle=False)`` — object arrays are refused on save;
* the structure around them (dicts with any keys, lists, tuples, sets, strings, numbers,
  ``None``, NumPy scalars, and the dataclasses of :data:`DATACLASSES`) is a JSON document
  in the archive's ``__tree__`` member.

Loading builds only those types: a dataclass is looked up by name in :data:`DATACLASSES`
(never imported from a name in the file), a tensor is ``torch.from_numpy`` of an array.
Anything else is refused when saving, with the path to the offending value.

Files are written atomically (a temporary name in the same folder, then a rename), like the
other datasets of :mod:`transfer_lab.datasets.atomic`.

Example catalog entry::

    base_dataset:
      type: transfer_lab.datasets.tree_dataset.TreeDataset
      filepath: data/03_primary/base_dataset.npz
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
from copy import deepcopy
from pathlib import Path, PurePosixPath
from typing import Any

import fsspec
import numpy as np
from kedro.io import AbstractDataset, DatasetError
from kedro.io.core import get_filepath_str, get_protocol_and_path

from transfer_lab.datasets.atomic import partial_name, replace_atomically

FORMAT = "transfer_lab.tree/1"
_TREE = "__tree__"
_TAG = "$"


def _dataclasses() -> dict[str, type]:
    from transfer_lab.contracts import CoupledPair, Dataset, DomainPair

    return {f"transfer_lab.contracts.{cls.__name__}": cls for cls in (Dataset, CoupledPair, DomainPair)}


#: The dataclasses a tree may hold, by the name written into the file.
DATACLASSES: dict[str, type] = _dataclasses()


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and type(value).__name__ in ("Tensor", "Parameter")


class _Encoder:
    """Turns a value into (JSON structure, arrays)."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def _array(self, array: np.ndarray, where: str) -> str:
        if array.dtype.hasobject:
            raise DatasetError(f"{where}: an array of Python objects cannot be stored without pickle; use a numeric or str dtype")
        key = f"a{len(self.arrays)}"
        self.arrays[key] = array
        return key

    def encode(self, value: Any, where: str = "value") -> Any:  # noqa: PLR0911
        if value is None or isinstance(value, (bool, str)) and not isinstance(value, np.generic):
            return value
        if isinstance(value, np.generic):  # before int/float: np.float64 is a float
            return {_TAG: "scalar", "key": self._array(np.asarray(value), where)}
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {_TAG: "float", "text": repr(value)}
        if isinstance(value, np.ndarray):
            return {_TAG: "array", "key": self._array(value, where)}
        if _is_tensor(value):
            tensor = value.detach().cpu()
            dtype = str(tensor.dtype).removeprefix("torch.")
            values = tensor.float().numpy() if dtype == "bfloat16" else tensor.numpy()
            return {_TAG: "tensor", "dtype": dtype, "key": self._array(values, where)}
        if isinstance(value, dict):
            return {_TAG: "dict", "items": [[self.encode(k, f"{where} key"), self.encode(v, f"{where}[{k!r}]")] for k, v in value.items()]}
        if isinstance(value, (list, tuple)):
            kind = "list" if isinstance(value, list) else "tuple"
            return {_TAG: kind, "items": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, (set, frozenset)):
            return {_TAG: type(value).__name__, "items": [self.encode(v, f"{where} item") for v in sorted(value, key=repr)]}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            name = next((n for n, cls in DATACLASSES.items() if type(value) is cls), None)
            if name is None:
                raise DatasetError(f"{where}: dataclass {type(value).__qualname__} is not one TreeDataset may store")
            fields = {f.name: self.encode(getattr(value, f.name), f"{where}.{f.name}") for f in dataclasses.fields(value)}
            return {_TAG: "dataclass", "type": name, "fields": fields}
        raise DatasetError(f"{where}: a {type(value).__module__}.{type(value).__qualname__} cannot be stored without pickle")


class _Decoder:
    def __init__(self, arrays: Any) -> None:
        self.arrays = arrays

    def _array(self, key: str) -> np.ndarray:
        if not isinstance(key, str) or key == _TREE or key not in self.arrays:
            raise DatasetError(f"the tree names a missing array {key!r}")
        return self.arrays[key]

    def decode(self, node: Any) -> Any:  # noqa: PLR0911
        if not isinstance(node, dict):
            return node
        tag = node.get(_TAG)
        if tag == "array":
            return self._array(node["key"])
        if tag == "scalar":
            return self._array(node["key"])[()]
        if tag == "float":
            return float(node["text"])
        if tag == "tensor":
            import torch

            dtype = getattr(torch, str(node["dtype"]), None)
            if not isinstance(dtype, torch.dtype):
                raise DatasetError(f"unknown tensor dtype {node['dtype']!r}")
            return torch.from_numpy(np.array(self._array(node["key"]))).to(dtype)
        if tag == "dict":
            return {self.decode(k): self.decode(v) for k, v in node["items"]}
        if tag in ("list", "tuple", "set", "frozenset"):
            items = [self.decode(v) for v in node["items"]]
            return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
        if tag == "dataclass":
            cls = DATACLASSES.get(node["type"])
            if cls is None:
                raise DatasetError(f"the tree holds an unknown type {node['type']!r}")
            return cls(**{name: self.decode(value) for name, value in node["fields"].items()})
        raise DatasetError(f"unknown tree node {tag!r}")


def dump(value: Any, file: Any) -> None:
    """Write ``value`` to ``file`` (a path or binary file object) as a ``.npz`` archive."""
    encoder = _Encoder()
    tree = json.dumps({"format": FORMAT, "root": encoder.encode(value)}).encode()
    np.savez(file, **{_TREE: np.frombuffer(tree, dtype=np.uint8)}, **encoder.arrays)


def dumps(value: Any) -> bytes:
    """``value`` as the bytes of a ``.npz`` file (see the module docstring)."""
    buffer = io.BytesIO()
    dump(value, buffer)
    return buffer.getvalue()


def loads(data: bytes | io.IOBase, where: str = "tree") -> Any:
    """The value of :func:`dumps`' bytes; builds only the types listed in the module docstring."""
    stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    try:
        with np.load(stream, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        document = json.loads(bytes(arrays.pop(_TREE)).decode())
        if document.get("format") != FORMAT:
            raise DatasetError(f"{where}: not a {FORMAT} file (format {document.get('format')!r})")
        return _Decoder(arrays).decode(document["root"])
    except DatasetError:
        raise
    except Exception as error:  # truncated, foreign or object-array files: say which
        raise DatasetError(f"cannot load {where}: {type(error).__name__}: {error}") from error


class TreeDataset(AbstractDataset[Any, Any]):
    """Nested arrays, tensors, containers and contract dataclasses in one ``.npz`` file,
    loaded without pickle (see the module docstring). Local files are written atomically."""

    def __init__(
        self, filepath: str, credentials: dict[str, Any] | None = None, fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        protocol, path = get_protocol_and_path(filepath)
        self._protocol = protocol
        self._filepath = PurePosixPath(path)
        self._fs = fsspec.filesystem(protocol, **(deepcopy(credentials) or {}), **(deepcopy(fs_args) or {}))
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "protocol": self._protocol}

    def _path(self) -> str:
        return get_filepath_str(self._filepath, self._protocol)

    def load(self) -> Any:
        path = self._path()
        try:
            with self._fs.open(path, "rb") as f:
                return loads(f, where=path)
        except FileNotFoundError as error:
            raise DatasetError(f"no file at {path}") from error

    def save(self, data: Any) -> None:
        if self._protocol != "file":
            with self._fs.open(self._path(), "wb") as f:
                dump(data, f)
            return
        final = Path(self._path())
        final.parent.mkdir(parents=True, exist_ok=True)
        partial = partial_name(final)
        try:
            with open(partial, "wb") as f:
                dump(data, f)
            replace_atomically(partial, final)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise

    def _exists(self) -> bool:
        return self._fs.exists(self._path())
