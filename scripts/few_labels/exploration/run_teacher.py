"""What explorations 19-32 (issue 18, stops 29-31) share: a default run's data and label
subsets, the teacher `combined.select` chose in that run (or one chosen here on val), its
pseudo-labels, and `combined`'s student recipe, trained with its validation softmax recorded
after each epoch. Imported by those scripts (their folder is on sys.path when they run)."""
import copy
import itertools

import numpy as np
import pandas as pd
import torch

from transfer_lab.datasets.tree_dataset import TreeDataset
from transfer_lab.methods import combined as cb
from transfer_lab.methods.augment import build_augmenter, data_kind
from transfer_lab.methods.encoders import Classifier, encoder_from_checkpoint
from transfer_lab.methods.runtime import conv_layout
from transfer_lab.methods.training import TrainConfig, extract_features, fit_classifier, make_optimizer
from transfer_lab.methods.transfer import _augmented_loss
from transfer_lab.sources.splits import label_subsets


def run_data(root, budgets, seeds):
    """The run's base dataset, split table and the label subsets of ``budgets`` × ``seeds``."""
    dataset = TreeDataset(filepath=f"{root}/03_primary/base_dataset.npz").load()
    split = pd.read_parquet(f"{root}/03_primary/split_table.parquet")
    return dataset, split, label_subsets(dataset.y, split, budgets, seeds)


def chosen_teacher(root, budget):
    """The teacher the run selected at ``budget`` (a combined_selection.csv row) and its
    encoder, built in NHWC as the run's `combined` nodes build it."""
    table = pd.read_csv(f"{root}/08_reporting/combined_selection.csv")
    chosen = table[table.selected & (table.labels_per_class == budget)].iloc[0]
    with conv_layout(True):
        encoder = encoder_from_checkpoint(torch.load(f"{root}/06_models/encoders/{chosen.encoder}.pt", weights_only=True))
    return chosen, encoder


def pseudo_labels(encoder, view, chosen):
    """The chosen teacher's label of every train row, the labelled rows first (``view`` comes
    through ``cb.without_held_out_labels``)."""
    F_l = extract_features(encoder, view.X_labeled)
    P, _ = cb.teacher(F_l, view.y_labeled, extract_features(encoder, view.X_unlabeled), int(chosen.n_neighbors),
                      chosen.assignment, 10)
    return P.argmax(1)


def recipe(seed, **settings):
    """`combined`'s first-student settings (conf/base: 60 epochs, patience 20), one round."""
    return cb.CombinedSettings(config=TrainConfig(epochs=60, patience=20, progress=False, seed=seed), rounds=1,
                               n_classes=10, **settings)


def accuracy(model, X, y):
    return float(np.mean(cb._classify(model)(X) == y))


def student_parts(encoder, view, pseudo, seed):
    """What ``cb.student`` trains on, built as ``transfer._train_classifier`` builds it (no
    frozen block, encoder lr 1e-4, augmentation strength 0.5), for variants that change its
    training loop: the rows and their labels (the labelled rows' own, then ``pseudo``), the
    config, a fresh model (the head seeded as ``cb.student`` seeds it), the optimiser and the
    augmenter."""
    rows = np.concatenate([view.X_labeled, view.X_unlabeled])
    labels = np.concatenate([view.y_labeled, pseudo[len(view.y_labeled):]])
    config = recipe(seed).config
    torch.manual_seed(seed)
    encoder = copy.deepcopy(encoder)
    model = Classifier(encoder, 10)
    optimizer = make_optimizer([{"params": list(model.head.parameters()), "lr": config.lr},
                                {"params": [p for p in encoder.parameters() if p.requires_grad], "lr": 1e-4}], config)
    augmenter = build_augmenter(None, data_kind(view.X_labeled), 0.5)
    return rows, labels, config, model, optimizer, augmenter


def recorded_student(encoder, view, pseudo, seed, every_epoch=False):
    """The student as ``cb.fit_student`` trains it (early stopping on val accuracy, best epoch
    restored), or with ``every_epoch`` for all its epochs (no early stopping), and the softmax
    on the validation rows after each epoch it trained, (epochs, rows, classes)."""
    rows, labels, config, model, optimizer, augmenter = student_parts(encoder, view, pseudo, seed)
    if every_epoch:
        config = type(config)(**{**config.__dict__, "patience": None})
    X_val = torch.as_tensor(view.X_val, dtype=torch.float32)
    record = []

    def val_fn(m):
        record.append(torch.softmax(m(X_val), dim=1).numpy())
        return float((record[-1].argmax(1) == view.y_val).mean())

    fit_classifier(model, rows, labels, config=config, optimizer=optimizer, step_fn=_augmented_loss(augmenter),
                   desc="student", val_fn=val_fn)
    return model, np.stack(record)


def select_teacher(encoder, views, ks, assignments):
    """(k, assignment) of the label-propagation teacher on ``encoder``'s features with the best
    mean val accuracy over ``views``, ties to the first in grid order (k outer), as
    ``combined.select`` chooses among one encoder's candidates."""
    scores = {}
    for view in views:
        F_l, F_u, F_v = (extract_features(encoder, X) for X in (view.X_labeled, view.X_unlabeled, view.X_val))
        for k, a in itertools.product(ks, assignments):
            _, predict = cb.teacher(F_l, view.y_labeled, F_u, k, a, 10)
            scores.setdefault((k, a), []).append(float((predict(F_v) == view.y_val).mean()))
    means = {key: np.mean(v) for key, v in scores.items()}
    return max(means, key=means.get)
