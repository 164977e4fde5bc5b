"""Training speed of the 2-d conv encoder in channels-last (NHWC) against channels-first
(NCHW) memory layout, and with a fused optimizer, in the same run, on the digits (issue 12).

The three sides are :class:`~transfer_lab.methods.encoders.ConvEncoder2d` at the default
run's size (width 32, depth 3) with the same initial weights:

* ``nchw``: ``channels_last=False`` (the default), Adam's per-parameter kernel (the default):
  what pretraining runs;
* ``nhwc``: ``channels_last=True``, only the layout of the conv weights (and so of every
  feature map) differs;
* ``nhwc_fused``: also Adam's fused kernel (``fused=True``, what
  ``methods.runtime.optimizer_kernel`` turns on): what the families downstream of pretraining
  run (``runtime.channels_last`` and ``runtime.fused_optimizer``).

Timed, one torch thread, alternating the sides and keeping the minimum of the repeats (CPU
seconds beside wall seconds):

* ``step_<B>``: one training step of encoder + linear head (cross-entropy, Adam) on a batch
  of B digits: what every fine-tuning, student and semi-supervised step is made of (10: one
  label per class; 128: the fine-tuning batch);
* ``vat``: a whole semi-supervised fit (``train_vat``, the default run's costliest kind of
  node: two extra forward passes and one extra backward pass per step), a fixed number of
  epochs on 10 labels per class, then its validation accuracy on each side.

Also checked: the two layouts give the same outputs and gradients to float rounding.
Speed-ups: ``speedup_cpu`` (NHWC over NCHW), ``fused_speedup_cpu`` (fused over per-parameter
Adam, both NHWC) and ``total_speedup_cpu`` (the downstream setting over NCHW).
The last line is one JSON object.

Usage::

    python benchmarks/conv_memory_format.py [--quick]
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import emit, machine, set_threads, timed_with_cpu  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from torch import nn  # noqa: E402

from transfer_lab.methods.encoders import Classifier, build_encoder  # noqa: E402
from transfer_lab.methods.runtime import optimizer_kernel  # noqa: E402
from transfer_lab.methods.semi_supervised.neural.vat import train_vat  # noqa: E402
from transfer_lab.methods.training import TrainConfig, accuracy  # noqa: E402

# side name -> (channels_last, fused optimizer)
SIDES = {"nchw": (False, False), "nhwc": (True, False), "nhwc_fused": (True, True)}


def _classifier(channels_last: bool) -> Classifier:
    torch.manual_seed(0)
    return Classifier(build_encoder("cnn2d", (1, 8, 8), width=32, depth=3, out_features=64,
                                    channels_last=channels_last), 10)


def _digits() -> dict[str, np.ndarray]:
    """The 1,797 digits in [0, 1]: 10 labelled rows per class, 1,077 - 100 unlabelled, 360 val."""
    data = load_digits()
    X = (data.data / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(X))
    train, val = order[:1077], order[1077:1437]
    labelled = np.concatenate([train[data.target[train] == c][:10] for c in range(10)])
    unlabelled = np.setdiff1d(train, labelled)
    return {"X_labeled": X[labelled], "y_labeled": data.target[labelled], "X_unlabeled": X[unlabelled],
            "X_val": X[val], "y_val": data.target[val]}


def _steps(model: nn.Module, optimiser: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
           n: int) -> None:
    loss = nn.CrossEntropyLoss()
    for _ in range(n):
        optimiser.zero_grad()
        loss(model(x), y).backward()
        optimiser.step()


def _agreement() -> dict[str, float]:
    """Largest differences between the layouts on the same weights and batch (float32)."""
    a, b = _classifier(False), _classifier(True)
    b.load_state_dict(a.state_dict())
    x = torch.rand(64, 1, 8, 8)
    y = torch.randint(0, 10, (64,))
    out_a, out_b = a(x), b(x)
    nn.functional.cross_entropy(out_a, y).backward()
    nn.functional.cross_entropy(out_b, y).backward()
    grad = max(float((p.grad - q.grad).abs().max()) for p, q in zip(a.parameters(), b.parameters()))
    return {"max_abs_output_difference": float((out_a - out_b).detach().abs().max()), "max_abs_gradient_difference": grad}


def _compare(cases: dict, repeats: int) -> dict:
    results = {}
    for case, make in cases.items():
        times = {name: [] for name in SIDES}
        for _ in range(repeats):  # alternate the sides so that the machine's load hits each
            for name, (channels_last, fused) in SIDES.items():
                fn = make(channels_last, fused)
                times[name].append(timed_with_cpu(fn, repeats=1)[:2])  # (wall, cpu) of one call
        row = {f"{name}_{kind}_seconds": round(min(t[i] for t in times[name]), 4)
               for name in SIDES for i, kind in enumerate(("wall", "cpu"))}
        for kind in ("cpu", "wall"):
            row[f"speedup_{kind}"] = round(row[f"nchw_{kind}_seconds"] / row[f"nhwc_{kind}_seconds"], 2)
            row[f"fused_speedup_{kind}"] = round(
                row[f"nhwc_{kind}_seconds"] / row[f"nhwc_fused_{kind}_seconds"], 2)
            row[f"total_speedup_{kind}"] = round(
                row[f"nchw_{kind}_seconds"] / row[f"nhwc_fused_{kind}_seconds"], 2)
        results[case] = row
        print(case, row, flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and epochs (well under a minute)")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    set_threads(1)
    n_steps, epochs = (30, 1) if args.quick else (200, 5)
    repeats = args.repeats or (2 if args.quick else 3)
    data = _digits()
    accuracies = {}

    def step_case(batch: int):
        x, y = torch.rand(batch, 1, 8, 8), torch.randint(0, 10, (batch,))

        def make(channels_last: bool, fused: bool):
            model = _classifier(channels_last)
            optimiser = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused)
            _steps(model, optimiser, x, y, 5)  # warm-up: oneDNN primitives are created on first use
            return functools.partial(_steps, model, optimiser, x, y, n_steps)

        return make

    def vat_case(channels_last: bool, fused: bool):
        build = functools.partial(build_encoder, "cnn2d", (1, 8, 8), width=32, depth=3, out_features=64,
                                  channels_last=channels_last)
        config = TrainConfig(epochs=epochs, batch_size=32, lr=3e-3, patience=epochs, progress=False, seed=0)

        def fit() -> None:
            with optimizer_kernel(fused):
                model, _ = train_vat(data, build, config, "cpu", eps=1.0, xi=1e-6, weight=1.0)
            accuracies[channels_last, fused] = accuracy(model, data["X_val"], data["y_val"])

        return fit

    cases = {"step_10": step_case(10), "step_64": step_case(64), "step_128": step_case(128),
             "step_256": step_case(256), "vat": vat_case}
    results = _compare(cases, repeats)
    emit({
        "benchmark": "conv_memory_format",
        "quick": args.quick,
        "steps_per_repeat": n_steps,
        "vat_epochs": epochs,
        "repeats": repeats,
        "statistic": "min over repeats",
        "cases": results,
        "vat_val_accuracy": {name: round(accuracies[side], 4) for name, side in SIDES.items()},
        "agreement": _agreement(),
        "machine": machine(),
    })


if __name__ == "__main__":
    main()
