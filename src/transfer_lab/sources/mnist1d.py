"""MNIST-1D (Greydanus, 2020), regenerated offline from the ``mnist1d`` package.

The package's ``get_dataset`` downloads a pickle from GitHub; we never call it. Instead
:func:`make_mnist1d` runs the package's own generator, ``mnist1d.data.make_dataset``,
which is deterministic for a seed and takes a couple of seconds for 5,000 signals.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
from mnist1d.data import get_dataset_args, make_dataset
from mnist1d.utils import ObjectView

from transfer_lab.contracts import Dataset

__all__ = ["MNIST1D_DEFAULTS", "make_mnist1d"]

#: The generator's default arguments (the download URL left out: we never download).
MNIST1D_DEFAULTS: dict[str, Any] = {
    k: v for k, v in get_dataset_args(as_dict=True).items() if k != "url"
}


def make_mnist1d(num_samples: int = 5000, seed: int = 42, **generator_args: Any) -> dict:
    """Generate MNIST-1D with the package's generator, without touching the network.

    Parameters
    ----------
    num_samples : int, default 5000
        Number of signals requested; the generator makes ``num_samples // 10`` per class.
    seed : int, default 42
        Generator seed (42 reproduces the package's published data set).
    **generator_args
        Any other argument of the generator: ``train_split``, ``template_len``,
        ``padding``, ``scale_coeff``, ``max_translation``, ``corr_noise_scale``,
        ``iid_noise_scale``, ``shear_scale``, ``shuffle_seq``, ``final_seq_length``.

    Returns
    -------
    dict
        ``{"name": "mnist1d", "kind": "signal", "X": float32 (n, 1, L), "y": int64 (n,)}``
        with the package's train and test parts pooled (our own splits re-split them);
        ``L`` is ``final_seq_length`` (40 by default).

    Raises
    ------
    ValueError
        If an argument name is not one of the generator's.

    Notes
    -----
    The generator seeds numpy's and Python's global random generators; their states are
    saved and restored around it, so calling this function leaves global state untouched.
    The last data set made is kept in memory: ``kedro run`` checks the label budgets
    against it before the run and the data pipeline then loads it again.
    """
    unknown = sorted(set(generator_args) - set(MNIST1D_DEFAULTS))
    if unknown:
        allowed = ", ".join(MNIST1D_DEFAULTS)
        raise ValueError(f"unknown MNIST-1D argument(s) {unknown}; allowed: {allowed}")
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or (
        num_samples < 10
    ):
        raise ValueError(f"num_samples={num_samples!r} is not allowed; expected an int >= 10")
    args = {**MNIST1D_DEFAULTS, **generator_args, "num_samples": int(num_samples), "seed": seed}
    # YAML gives lists; the generator unpacks padding as a pair, so normalise it.
    args["padding"] = list(args["padding"])

    np_state = np.random.get_state()
    py_state = random.getstate()
    try:
        data = make_dataset(ObjectView(args))
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    X = np.concatenate([data["x"], data["x_test"]]).astype(np.float32)[:, None, :]
    y = np.concatenate([data["y"], data["y_test"]]).astype(np.int64)
    return Dataset(name="mnist1d", kind="signal", X=X, y=y, declared_classes=10)  # ten digit templates
