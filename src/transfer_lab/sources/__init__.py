"""Data sources and domain shifts. Pure numpy / scikit-learn / torch; never imports kedro.

Modules
-------
digits
    ``load_digits``: scikit-learn's bundled 8x8 digits as a dataset dict.
mnist1d
    ``make_mnist1d``: MNIST-1D regenerated offline with the ``mnist1d`` package.
idx
    ``read_idx`` / ``write_idx`` / ``idx_to_dataset``: the IDX format of MNIST,
    Fashion-MNIST and KMNIST, plain or gzipped.
shifts
    ``SHIFT_OPS``, ``validate_shift``, ``apply_shift``: declarative, composable domain
    shifts (rotate, invert, blur, noise, scale, downsample, upsample, thicken, identity).
splits
    ``stratified_split``, ``label_subsets``, ``budget_view``, ...: the shared
    train/val/test split and nested label-budget subsets.
pairs
    ``make_domain_pair`` (domain adaptation) and ``make_coupled_pair`` (coupled
    dictionaries).

A *dataset* is a plain dict ``{"name": str, "kind": "image" | "signal",
"X": float32 array, "y": int64 array}``; images are ``(n, 1, H, W)`` in [0, 1], signals
``(n, 1, L)``. Import from the submodules; nothing is re-exported here so that importing
one source does not import the others' dependencies.
"""
