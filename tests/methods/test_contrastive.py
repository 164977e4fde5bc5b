"""Tests for transfer_lab.methods.contrastive: losses against loops over their equations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from transfer_lab.methods.contrastive import (
    MoCo,
    info_nce,
    nt_xent,
    pretrain_moco,
    pretrain_simclr,
    pretrain_supcon,
    supcon_loss,
)
from transfer_lab.methods.encoders import ConvEncoder2d, MLPEncoder
from transfer_lab.methods.runtime import seed_everything
from transfer_lab.methods.training import TrainConfig, extract_features
from transfer_lab.methods.transfer import knn_probe
from transfer_lab.sources import splits
from transfer_lab.sources.digits import load_digits



def _z(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(a @ b / (a.norm() * b.norm()))


# --------------------------------------------------------------------------------------------
# NT-Xent
# --------------------------------------------------------------------------------------------


def _nt_xent_loop(z1: torch.Tensor, z2: torch.Tensor, tau: float) -> float:
    """SimCLR eq. 1 and the mean over the 2N anchors, one anchor at a time."""
    z = torch.cat([z1, z2])
    n2 = len(z)
    total = 0.0
    for i in range(n2):
        j = (i + n2 // 2) % n2
        denominator = sum(math.exp(_cos(z[i], z[k]) / tau) for k in range(n2) if k != i)
        total += -math.log(math.exp(_cos(z[i], z[j]) / tau) / denominator)
    return total / n2


def _nt_xent_simclr_reference(z1: torch.Tensor, z2: torch.Tensor, tau: float) -> torch.Tensor:
    """The formulation of SimCLR's reference code (``add_contrastive_loss``), written out.

    Within-view logits get a large negative on the diagonal, the positive sits on the
    diagonal of the cross-view block, and the loss is the softmax cross-entropy of
    ``[logits_ab, logits_aa]`` plus that of ``[logits_ba, logits_bb]``; each is a mean over N.
    """
    large = 1e9
    h1, h2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    n = len(h1)
    labels = F.one_hot(torch.arange(n), 2 * n).to(h1.dtype)
    masks = F.one_hot(torch.arange(n), n).to(h1.dtype)
    logits_aa = h1 @ h1.T / tau - masks * large
    logits_bb = h2 @ h2.T / tau - masks * large
    logits_ab = h1 @ h2.T / tau
    logits_ba = h2 @ h1.T / tau
    loss_a = -(labels * F.log_softmax(torch.cat([logits_ab, logits_aa], 1), 1)).sum(1).mean()
    loss_b = -(labels * F.log_softmax(torch.cat([logits_ba, logits_bb], 1), 1)).sum(1).mean()
    return (loss_a + loss_b) / 2  # the reference sums the two means; ours averages 2N anchors


@pytest.mark.parametrize("tau", [0.1, 0.5, 1.0])
def test_nt_xent_matches_loop_and_simclr_formulation(tau):
    z1, z2 = _z(5, 3, seed=1), _z(5, 3, seed=2)
    loss = nt_xent(z1, z2, tau)
    assert loss.shape == ()
    assert float(loss) == pytest.approx(_nt_xent_loop(z1, z2, tau), rel=1e-10)
    torch.testing.assert_close(loss, _nt_xent_simclr_reference(z1, z2, tau))


def test_nt_xent_properties():
    z1 = _z(8, 4)
    # Identical views: the positive is the most similar candidate, so the loss is below chance.
    assert float(nt_xent(z1, z1, 0.1)) < math.log(15)
    # Scale invariant (cosine similarity) and symmetric in the two views.
    z2 = _z(8, 4, seed=3)
    torch.testing.assert_close(nt_xent(3 * z1, z2), nt_xent(z1, z2))
    torch.testing.assert_close(nt_xent(z2, z1), nt_xent(z1, z2))
    with pytest.raises(ValueError, match="temperature"):
        nt_xent(z1, z2, 0.0)
    with pytest.raises(ValueError, match="at least 2"):
        nt_xent(z1[:1], z2[:1])
    with pytest.raises(ValueError, match="same|both"):
        nt_xent(z1, z2[:3])


# --------------------------------------------------------------------------------------------
# InfoNCE
# --------------------------------------------------------------------------------------------


def _info_nce_loop(q, k, queue, tau) -> float:
    total = 0.0
    for i in range(len(q)):
        pos = math.exp(_cos(q[i], k[i]) / tau)
        neg = sum(math.exp(_cos(q[i], key) / tau) for key in queue)
        total += -math.log(pos / (pos + neg))
    return total / len(q)


@pytest.mark.parametrize("tau", [0.07, 0.2, 1.0])
def test_info_nce_matches_loop(tau):
    q, k, queue = _z(4, 6, seed=1), _z(4, 6, seed=2), _z(7, 6, seed=3)
    assert float(info_nce(q, k, queue, tau)) == pytest.approx(
        _info_nce_loop(q, k, queue, tau), rel=1e-10
    )
    with pytest.raises(ValueError, match="queue"):
        info_nce(q, k, queue[:, :2])


# --------------------------------------------------------------------------------------------
# Supervised contrastive
# --------------------------------------------------------------------------------------------


def _supcon_loop(z, labels, tau) -> float:
    """Khosla et al. eq. 2, anchors without positives skipped."""
    m = len(z)
    losses = []
    for i in range(m):
        positives = [p for p in range(m) if p != i and labels[p] == labels[i]]
        if not positives:
            continue
        denominator = sum(math.exp(_cos(z[i], z[a]) / tau) for a in range(m) if a != i)
        losses.append(
            -sum(math.log(math.exp(_cos(z[i], z[p]) / tau) / denominator) for p in positives)
            / len(positives)
        )
    return sum(losses) / len(losses)


def test_supcon_matches_loop():
    z = _z(9, 4)
    labels = torch.tensor([0, 1, 0, 2, 1, 0, 3, 2, 1])  # class 3 has no positive
    for tau in (0.1, 0.5):
        assert float(supcon_loss(z, labels, tau)) == pytest.approx(
            _supcon_loop(z, labels, tau), rel=1e-10
        )


def test_supcon_with_one_class_per_image_is_nt_xent():
    z1, z2 = _z(6, 5, seed=1), _z(6, 5, seed=2)
    ids = torch.arange(6)
    torch.testing.assert_close(
        supcon_loss(torch.cat([z1, z2]), torch.cat([ids, ids]), 0.3), nt_xent(z1, z2, 0.3)
    )


def test_supcon_without_positives_is_zero_and_differentiable():
    z = _z(4, 3).requires_grad_()
    loss = supcon_loss(z, torch.arange(4))
    loss.backward()
    assert float(loss.detach()) == 0.0 and torch.isfinite(z.grad).all()


# --------------------------------------------------------------------------------------------
# MoCo mechanics
# --------------------------------------------------------------------------------------------


def _moco(queue_size=5, momentum=0.9) -> MoCo:
    seed_everything(0)
    return MoCo(MLPEncoder(4, hidden=(8,), out_features=6), projection_dim=3, hidden_dim=8,
                queue_size=queue_size, momentum=momentum)


def test_moco_momentum_update_follows_the_formula():
    moco = _moco(momentum=0.9)
    with torch.no_grad():
        for p in moco.encoder.parameters():
            p.add_(1.0)  # make query and key weights differ
    before_k = [p.clone() for p in moco._key_parameters()]
    q = [p.clone() for p in moco._query_parameters()]
    moco.momentum_update()
    for pk, old, pq in zip(moco._key_parameters(), before_k, q, strict=True):
        torch.testing.assert_close(pk, 0.9 * old + 0.1 * pq)
    assert all(not p.requires_grad for p in moco._key_parameters())


def test_moco_queue_is_fifo_and_independent_of_batch_size():
    moco = _moco(queue_size=5)
    a, b = torch.full((3, 3), 1.0), torch.full((3, 3), 2.0)
    moco.enqueue(a)
    moco.enqueue(b)  # wraps around: slots 3, 4, 0
    assert moco.queue.shape == (5, 3)
    assert moco.queue[:, 0].tolist() == [2.0, 1.0, 1.0, 2.0, 2.0]
    assert int(moco.queue_ptr) == 1
    moco.enqueue(torch.arange(21.0).view(7, 3))  # larger than the queue: newest 5 survive
    assert sorted(moco.queue[:, 0].tolist()) == [6.0, 9.0, 12.0, 15.0, 18.0]


def test_moco_loss_trains_only_the_query_side():
    moco = _moco(queue_size=8)
    x = torch.randn(4, 4)
    loss = moco.loss(x, x + 0.01)
    loss.backward()
    assert all(p.grad is not None for p in moco._query_parameters())
    assert all(p.grad is None for p in moco._key_parameters())
    assert int(moco.queue_ptr) == 4


# --------------------------------------------------------------------------------------------
# Pretraining runs
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits_split():
    ds = load_digits()
    table = splits.stratified_split(ds.y, 0.2, 0.2, 0)
    subsets = splits.label_subsets(ds.y, table, [1], [0])
    return ds, table, splits.budget_view(ds, table, subsets, 1, 0)


def _config(epochs: int, **kw):
    # the pipeline's contrastive settings: Adam at 1e-3, weight decay 1e-5, no early stopping
    settings = {"lr": 1e-3, "weight_decay": 1e-5, "patience": None, "progress": False, **kw}
    return TrainConfig(epochs=epochs, batch_size=128, **settings)


def test_simclr_learns_features_that_beat_a_random_encoder(digits_split):
    ds, table, view = digits_split
    X = ds.X[splits.split_indices(table, "train")]
    seed_everything(0)
    enc = ConvEncoder2d(width=8, out_features=32)
    before = knn_probe(enc, view, k=1).test_accuracy
    enc, history = pretrain_simclr(X, encoder=enc, config=_config(12))
    after = knn_probe(enc, view, k=1).test_accuracy
    assert history.epochs_run == 12 and history.train_loss[-1] < history.train_loss[0]
    assert after > before + 0.08, (before, after)


def test_moco_and_supcon_run_and_reduce_their_loss(digits_split):
    ds, _, view = digits_split
    seed_everything(0)
    enc, history = pretrain_moco(ds.X[:256], encoder_kwargs={"width": 8, "out_features": 16},
                                 queue_size=100, config=_config(4))
    assert enc.out_features == 16 and len(history.train_loss) == 4
    assert all(np.isfinite(history.train_loss))
    enc, history = pretrain_supcon(ds.X[:200], ds.y[:200],
                                   encoder_kwargs={"width": 8, "out_features": 16},
                                   config=_config(6))
    assert history.train_loss[-1] < history.train_loss[0]


def test_pretraining_works_on_signals():
    X = np.random.default_rng(0).standard_normal((64, 1, 40)).astype(np.float32)
    enc, _ = pretrain_simclr(X, encoder_kwargs={"width": 4, "out_features": 8}, config=_config(1))
    assert extract_features(enc, X).shape == (64, 8)
    with pytest.raises(ValueError, match="encoder or encoder_kwargs"):
        pretrain_simclr(X, encoder=enc, encoder_kwargs={"width": 4}, config=_config(1))
