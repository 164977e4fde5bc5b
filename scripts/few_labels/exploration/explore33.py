"""Exploration 33 for issue 18: a teacher graph that does not depend on the pretraining draw.
explore32 found the 10-label result to be the draw's (four other SimCLR draws: 0.9861 mean;
a 3-draw ensemble 0.9874). A tangent-distance k-NN graph on the pixels (Simard et al.; the
regularisation family's `tangents`, translations, rotation, scale and thickening, smoothing
0.5) holds the digit invariances the SimCLR graph learns only approximately, and is the same
for every draw; with every label its 1-NN scores 0.9917 test in the default run, above the
CNN's 0.9883. Here the teacher's graph may be the encoder's cosine k-NN graph (as `combined`)
or its union with the tangent-distance k-NN graph of the same k (chosen on val with k and the
assignment); both rounds use the chosen graph (round 2: the student's cosine graph). A
teacher predicts a new row by the mean label distribution of its k nearest train rows under
each distance of the graph, averaged.

The control: the cosine branch is `combined`'s teacher; its best candidate and mean val equal
`combined.teacher`'s on all five draws and both budgets.
Part `run` saves, per draw, every stage's probabilities on val and test (as explore32, whose
`score` part scores them: each draw's stage of best mean fair val, test read only there).
Usage: explore33.py run DATA NAME=PATH OUT_DIR"""
import copy
import itertools
import sys

import numpy as np
import torch
from scipy import sparse

torch.set_num_threads(1)
from explore32 import BUDGETS, SEEDS, STAGES, student_probabilities  # noqa: E402
from run_teacher import run_data  # noqa: E402
from transfer_lab.methods import combined as cb  # noqa: E402
from transfer_lab.methods.encoders import encoder_from_checkpoint  # noqa: E402
from transfer_lab.methods.regularisation.tangents import tangent_distance, tangent_vectors  # noqa: E402
from transfer_lab.methods.runtime import conv_layout  # noqa: E402
from transfer_lab.methods.semi_supervised.label_propagation import LabelPropagation  # noqa: E402
from transfer_lab.methods.training import extract_features  # noqa: E402
from transfer_lab.sources.splits import budget_view  # noqa: E402

K, ASSIGNMENTS, GRAPHS = [5, 10, 20, 30, 40], ["argmax", "class_mass", "balanced"], ["cosine", "union"]
KINDS, SIGMA, RIDGE = ["translate_x", "translate_y", "rotate", "scale", "thicken"], 0.5, 0.01


def knn(D, k):
    """Indices of the k nearest columns of every row of a distance matrix."""
    return np.argsort(D, axis=1, kind="stable")[:, :k]


def knn_graph(D, k):
    """Symmetric 0/1 k-NN graph with unit self-loops from train x train distances (as label_propagation.knn_graph)."""
    n = len(D)
    D = D.copy()
    np.fill_diagonal(D, np.inf)
    W = sparse.csr_matrix((np.ones(n * k), (np.repeat(np.arange(n), k), knn(D, k).ravel())), shape=(n, n))
    return sparse.csr_matrix(W.maximum(W.T) + sparse.identity(n))


def propagate(W, y_labeled, n):
    """LabelPropagation's harmonic solution on the given graph (its own CG solver)."""
    lp = LabelPropagation(tol=1e-6)
    lp.graph_ = W
    labeled = np.zeros(n, bool)
    labeled[: len(y_labeled)] = True
    clamp = np.zeros((n, 10))
    clamp[np.arange(len(y_labeled)), y_labeled] = 1.0
    Y, _ = lp._solve_cg(clamp, labeled)
    Y[Y.sum(1) == 0] = 0.1  # rows no label reaches: uniform, as LabelPropagation.fit leaves them
    return Y


class Distances:
    """Per view: tangent distances train x train, val x train, test x train (the pixels only)."""

    def __init__(self, view):
        X = np.concatenate([view.X_labeled, view.X_unlabeled])
        T = tangent_vectors(X, KINDS, sigma=SIGMA)
        self.train = tangent_distance(X, T, X, T, ridge=RIDGE)
        self.val, self.test = (tangent_distance(Q, tangent_vectors(Q, KINDS, sigma=SIGMA), X, T, ridge=RIDGE)
                               for Q in (view.X_val, view.X_test))


def cosine(encoder, view):
    """Cosine distances (centred, L2-normalised features) train x train, val x train, test x train."""
    F = extract_features(encoder, np.concatenate([view.X_labeled, view.X_unlabeled]))
    normal = cb.cosine_features(F)
    G = normal(F)
    queries = [G, *(normal(extract_features(encoder, Q)) for Q in (view.X_val, view.X_test))]
    return [np.sqrt(np.clip(2 - 2 * A @ G.T, 0, None)) for A in queries]  # train, val, test x train


def teacher(cos, td, view, graph, k, assignment):
    """Pseudo-labels of the train rows and the class probabilities on val and test."""
    n, n_l = len(cos[0]), len(view.y_labeled)
    W = knn_graph(cos[0], k) if graph == "cosine" else sparse.csr_matrix(knn_graph(cos[0], k).maximum(knn_graph(td.train, k)))
    P = propagate(W, view.y_labeled, n)
    P[n_l:] = cb.assign(P[n_l:], assignment)
    out = []
    for c, t in ((cos[1], td.val), (cos[2], td.test)):
        q = P[knn(c, k)].mean(1)
        out.append(q if graph == "cosine" else (q + P[knn(t, k)].mean(1)) / 2)
    return P.argmax(1), out


def run(root, name, path, out_dir):
    ds, split, subsets = run_data(root, list(BUDGETS), list(SEEDS))
    with conv_layout(True):
        encoder = encoder_from_checkpoint(torch.load(path, weights_only=True))
    saved = {}
    for budget in BUDGETS:
        views = [cb.without_held_out_labels(budget_view(ds, split, subsets, budget, s)) for s in SEEDS]
        tds = [Distances(v) for v in views]
        coss = [cosine(encoder, v) for v in views]
        scores = {}
        for view, cos, td in zip(views, coss, tds):
            for g, k, a in itertools.product(GRAPHS, K, ASSIGNMENTS):
                _, (val, _) = teacher(cos, td, view, g, k, a)
                scores.setdefault((g, k, a), []).append(float((val.argmax(1) == view.y_val).mean()))
        means = {key: np.mean(v) for key, v in scores.items()}
        g, k, a = max(means, key=means.get)
        best_cosine = max((key for key in means if key[0] == "cosine"), key=means.get)
        print(f"{name} @ {budget}: teacher {g}, k={k}, {a}: val {means[g, k, a]:.4f} (best cosine {best_cosine}: "
              f"{means[best_cosine]:.4f})", flush=True)
        for seed, view, cos, td in zip(SEEDS, views, coss, tds):
            key = f"b{budget}_s{seed}"
            pseudo, (saved[f"{key}_teacher_1_val"], saved[f"{key}_teacher_1_test"]) = teacher(cos, td, view, g, k, a)
            with conv_layout(True):
                model, saved[f"{key}_student_1_fair"], (saved[f"{key}_student_1_val"], saved[f"{key}_student_1_test"]) = \
                    student_probabilities(copy.deepcopy(encoder), view, pseudo, seed)
            pseudo, (saved[f"{key}_teacher_2_val"], saved[f"{key}_teacher_2_test"]) = teacher(cosine(model.encoder, view), td, view, g, k, a)
            with conv_layout(True):
                _, saved[f"{key}_student_2_fair"], (saved[f"{key}_student_2_val"], saved[f"{key}_student_2_test"]) = \
                    student_probabilities(copy.deepcopy(encoder), view, pseudo, seed)
            for stage in ("teacher_1", "teacher_2"):
                saved[f"{key}_{stage}_fair"] = np.mean(saved[f"{key}_{stage}_val"].argmax(1) == view.y_val)
            print(name, key, {s: round(float(saved[f"{key}_{s}_fair"]), 4) for s in STAGES}, flush=True)
            np.savez(f"{out_dir}/{name}.npz", **saved)


if __name__ == "__main__":
    name, path = sys.argv[3].split("=")
    run(sys.argv[2], name, path, sys.argv[4])
