"""Throughput of a SimCLR training step: batched on-device augmentation vs a per-sample DataLoader.

Both sides run the very same step (ConvEncoder2d + projection head, NT-Xent, Adam) on the
same digits, with the same augmentation ops and batch size; only the way views are made
differs:

* ours: the batch is sliced from tensors on the device (``ArrayLoader``) and
  :class:`~transfer_lab.methods.augment.Augmenter` draws and applies every op for the whole
  batch at once;
* baseline: the common way, a ``torch.utils.data.Dataset`` whose ``__getitem__`` augments one
  image twice in Python (``Augmenter.augment_one``, the same ops one sample at a time) and a
  ``DataLoader`` that collates the views (``num_workers=0``; ``--workers 2`` adds a run with
  worker processes).

Images per second count source images (each yields two views); ``*_seconds`` are seconds
per training step. After a warm-up, a fixed number of steps is timed on each side (fewer on
the slow side). The last line is one JSON object.

Usage::

    python benchmarks/pretraining.py [--quick] [--device auto] [--workers 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from _common import emit, machine, set_threads  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

from transfer_lab.methods.augment import build_augmenter  # noqa: E402
from transfer_lab.methods.contrastive import ContrastiveModel, ProjectionHead, nt_xent  # noqa: E402
from transfer_lab.methods.encoders import ConvEncoder2d  # noqa: E402
from transfer_lab.methods.runtime import resolve_device, seed_everything  # noqa: E402
from transfer_lab.methods.training import ArrayLoader  # noqa: E402
from transfer_lab.sources.digits import load_digits  # noqa: E402


class TwoViews(Dataset):
    """Per-sample transform, the torchvision way: two augmented views of image ``i``."""

    def __init__(self, X: torch.Tensor, augmenter) -> None:
        self.X = X
        self.augmenter = augmenter

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.X[i]
        return self.augmenter.augment_one(x), self.augmenter.augment_one(x)


def _one_thread_worker(_: int) -> None:
    torch.set_num_threads(1)


def _model(device: torch.device, width: int) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    seed_everything(0)
    encoder = ConvEncoder2d(width=width, out_features=128)
    model = ContrastiveModel(encoder, ProjectionHead(128, 128, 64)).to(device)
    return model, torch.optim.Adam(model.parameters(), lr=1e-3)


def _step(model, optimizer, v1: torch.Tensor, v2: torch.Tensor, temperature: float) -> float:
    z1, z2 = model(torch.cat([v1, v2])).chunk(2)
    loss = nt_xent(z1, z2, temperature)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _batches(make_iter, n: int):
    """``n`` batches, re-starting the epoch iterator whenever it runs out."""
    it = make_iter()
    for _ in range(n):
        try:
            yield next(it)
        except StopIteration:
            it = make_iter()
            yield next(it)


def _time_steps(model, optimizer, batches, device, warmup: int, steps: int, temperature: float):
    losses = []
    for i, views in enumerate(batches):
        if i == warmup:
            _sync(device)
            start = time.perf_counter()
        v1, v2 = views
        losses.append(_step(model, optimizer, v1.to(device), v2.to(device), temperature))
    _sync(device)
    return time.perf_counter() - start, losses[-1]


def run(quick: bool, device_spec: str, workers: int | None, batch_size: int, width: int) -> dict:
    """Time both sides and return the result record."""
    device = resolve_device(device_spec)
    # The baseline is slow, so it gets fewer timed steps; rates are per step either way.
    warmup, steps = (2, 10) if quick else (3, 40)
    base_warmup, base_steps = (1, 3) if quick else (2, 10)
    temperature = 1.0
    X = torch.from_numpy(load_digits().X)
    augmenter = build_augmenter(None, "image").to(device)

    # Same ops: the batched and per-sample paths agree exactly on shared random parameters.
    probe = X[:64].to(device)
    params = augmenter.sample(probe)
    gap = augmenter.apply(probe, params) - augmenter.apply_per_sample(probe, params)
    same_ops_gap = float(gap.abs().max())

    # Ours: tensors on the device, batched augmentation.
    model, optimizer = _model(device, width)
    loader = ArrayLoader(X, batch_size=batch_size, seed=0, device=device)

    def ours_iter():
        for (x,) in loader:
            yield augmenter(x), augmenter(x)

    torch.manual_seed(0)
    ours_seconds, _ = _time_steps(
        model, optimizer, _batches(ours_iter, warmup + steps), device, warmup, steps, temperature
    )

    # Baseline: per-sample transforms in a DataLoader (CPU workers, then moved to the device).
    cpu_aug = build_augmenter(None, "image")
    record_workers = {}
    worker_counts = [0] + ([workers] if workers else [])
    for n_workers in worker_counts:
        model, optimizer = _model(device, width)
        data = DataLoader(
            TwoViews(X, cpu_aug), batch_size=batch_size, shuffle=True, num_workers=n_workers,
            persistent_workers=n_workers > 0,
            worker_init_fn=_one_thread_worker if n_workers > 0 else None,
            generator=torch.Generator().manual_seed(0),
        )
        torch.manual_seed(0)
        seconds, loss = _time_steps(
            model, optimizer, _batches(lambda data=data: iter(data), base_warmup + base_steps),
            device, base_warmup, base_steps, temperature,
        )
        record_workers[n_workers] = (seconds, loss)

    baseline_seconds, _ = record_workers[0]
    ours_rate = steps * batch_size / ours_seconds
    base_rate = base_steps * batch_size / baseline_seconds
    record = {
        "benchmark": "pretraining_simclr_step",
        "ours": "batched on-device Augmenter + ArrayLoader",
        # Seconds per training step (one batch of batch_size images, two views each).
        "ours_seconds": round(ours_seconds / steps, 5),
        "baseline": "DataLoader(num_workers=0) with per-sample Augmenter.augment_one",
        "baseline_seconds": round(baseline_seconds / base_steps, 5),
        "speedup": round(ours_rate / base_rate, 2),
        "ours_images_per_second": round(ours_rate, 1),
        "baseline_images_per_second": round(base_rate, 1),
        "batch_size": batch_size,
        "ours_steps": steps,
        "baseline_steps": base_steps,
        "encoder_width": width,
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "same_ops_max_abs_diff": same_ops_gap,
        "quick": quick,
        **machine(),
    }
    if workers:
        seconds, _ = record_workers[workers]
        rate = base_steps * batch_size / seconds
        record[f"baseline_workers{workers}_seconds"] = round(seconds / base_steps, 5)
        record[f"baseline_workers{workers}_images_per_second"] = round(rate, 1)
        record[f"speedup_vs_workers{workers}"] = round(ours_rate / rate, 2)
    return record


def main(argv: list[str] | None = None) -> dict:
    """Parse arguments, run, print a summary and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few steps; under a minute")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    parser.add_argument("--workers", type=int, default=None,
                        help="also time the baseline with this many DataLoader workers")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--width", type=int, default=32, help="ConvEncoder2d width")
    parser.add_argument(
        "--threads", type=int, default=1,
        help="torch intra-op threads for both sides (default 1: on a small shared CPU, thread "
        "hand-offs make the baseline's many tiny per-sample ops several times slower, which "
        "would flatter ours); 0 keeps torch's default",
    )
    args = parser.parse_args(argv)
    if args.threads:
        set_threads(args.threads)
    record = run(args.quick, args.device, args.workers, args.batch_size, args.width)
    print(
        f"SimCLR step, batch {record['batch_size']} on {record['device']}: "
        f"ours {record['ours_images_per_second']:.0f} img/s, "
        f"per-sample DataLoader {record['baseline_images_per_second']:.0f} img/s "
        f"({record['speedup']:.1f}x)"
    )
    return emit(record)


if __name__ == "__main__":
    main()
