"""Training speed of the 2-d conv encoder in channels-last (NHWC) against channels-first
(NCHW) memory layout, in the same run, on the digits (issue 12).

Both sides are :class:`~transfer_lab.methods.encoders.ConvEncoder2d` at the default run's size
(width 32, depth 3), built with ``channels_last=True`` or ``False`` (the default), with the
same initial weights; only the layout of the conv weights (and so of every feature map)
differs. Timed, one torch thread, alternating the two sides and keeping the minimum of the
repeats (CPU seconds beside wall seconds):

* ``step_<B>``: one training step of encoder + linear head (cross-entropy, Adam) on a batch
  of B digits: what every fine-tuning, student and semi-supervised step is made of;
* ``vat``: a whole semi-supervised fit (``train_vat``, the default run's costliest kind of
  node: two extra forward passes and one extra backward pass per step), a fixed number of
  epochs on 10 labels per class, then its validation accuracy on each side.

Also checked: the two layouts give the same outputs and gradients to float rounding.
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
from transfer_lab.methods.semi_supervised.neural.vat import train_vat  # noqa: E402
from transfer_lab.methods.training import TrainConfig, accuracy  # noqa: E402

LAYOUTS = {"nchw": False, "nhwc": True}


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


def _steps(model: nn.Module, x: torch.Tensor, y: torch.Tensor, n: int) -> None:
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
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
        times = {name: [] for name in LAYOUTS}
        for _ in range(repeats):  # alternate the sides so that the machine's load hits both
            for name, channels_last in LAYOUTS.items():
                fn = make(channels_last)
                times[name].append(timed_with_cpu(fn, repeats=1)[:2])  # (wall, cpu) of one call
        row = {f"{name}_{kind}_seconds": round(min(t[i] for t in times[name]), 4)
               for name in LAYOUTS for i, kind in enumerate(("wall", "cpu"))}
        row["speedup_cpu"] = round(row["nchw_cpu_seconds"] / row["nhwc_cpu_seconds"], 2)
        row["speedup_wall"] = round(row["nchw_wall_seconds"] / row["nhwc_wall_seconds"], 2)
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

        def make(channels_last: bool):
            model = _classifier(channels_last)
            _steps(model, x, y, 5)  # warm-up: oneDNN primitives are created on first use
            return functools.partial(_steps, model, x, y, n_steps)

        return make

    def vat_case(channels_last: bool):
        build = functools.partial(build_encoder, "cnn2d", (1, 8, 8), width=32, depth=3, out_features=64,
                                  channels_last=channels_last)
        config = TrainConfig(epochs=epochs, batch_size=32, lr=3e-3, patience=epochs, progress=False, seed=0)

        def fit() -> None:
            model, _ = train_vat(data, build, config, "cpu", eps=1.0, xi=1e-6, weight=1.0)
            accuracies[channels_last] = accuracy(model, data["X_val"], data["y_val"])

        return fit

    cases = {"step_64": step_case(64), "step_256": step_case(256), "vat": vat_case}
    results = _compare(cases, repeats)
    emit({
        "benchmark": "conv_memory_format",
        "quick": args.quick,
        "steps_per_repeat": n_steps,
        "vat_epochs": epochs,
        "repeats": repeats,
        "statistic": "min over repeats",
        "cases": results,
        "vat_val_accuracy": {name: round(accuracies[c], 4) for name, c in LAYOUTS.items()},
        "agreement": _agreement(),
        "machine": machine(),
    })


if __name__ == "__main__":
    main()
