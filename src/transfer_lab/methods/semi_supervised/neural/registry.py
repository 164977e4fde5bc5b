"""The neural methods by name: one training function per method module."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

from transfer_lab.methods.semi_supervised.neural.distillation import train_distillation
from transfer_lab.methods.semi_supervised.neural.engine import DeviceLike, EncoderBuilder, SemiSupervisedHistory
from transfer_lab.methods.semi_supervised.neural.entropy_minimisation import train_entropy_minimisation
from transfer_lab.methods.semi_supervised.neural.fixmatch import train_fixmatch
from transfer_lab.methods.semi_supervised.neural.mutual_information import train_mutual_information
from transfer_lab.methods.semi_supervised.neural.pi_model import train_pi_model
from transfer_lab.methods.semi_supervised.neural.pseudo_label import train_pseudo_label
from transfer_lab.methods.semi_supervised.neural.supervised import train_supervised
from transfer_lab.methods.semi_supervised.neural.vat import train_vat
from transfer_lab.methods.semi_supervised.factory import NEURAL_METHODS
from transfer_lab.methods.training import TrainConfig

TrainFunction = Callable[..., tuple[nn.Module, SemiSupervisedHistory]]

METHODS: dict[str, TrainFunction] = {
    "supervised": train_supervised,
    "entropy_minimisation": train_entropy_minimisation,
    "mutual_information": train_mutual_information,
    "pi_model": train_pi_model,
    "vat": train_vat,
    "fixmatch": train_fixmatch,
    "pseudo_label": train_pseudo_label,
    "distillation": train_distillation,
}
assert tuple(METHODS) == NEURAL_METHODS, "factory.NEURAL_METHODS lists the methods of this registry"


def hyper_parameters(method: str) -> set[str]:
    """The keyword-only hyper-parameters of ``method``'s training function."""
    signature = inspect.signature(METHODS[method])
    return {name for name, p in signature.parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}


def train_semi_supervised(
    method: str,
    data: Any,
    build_encoder: EncoderBuilder,
    config: TrainConfig,
    device: DeviceLike = "cpu",
    **params: Any,
) -> tuple[nn.Module, SemiSupervisedHistory]:
    """Train ``method`` (one of :data:`NEURAL_METHODS`) with its hyper-parameters ``params``.

    The functional form under :class:`~.NeuralSSLClassifier` (which pipelines use); see
    :mod:`~transfer_lab.methods.semi_supervised.neural.engine` for the arguments.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; allowed: {', '.join(NEURAL_METHODS)}")
    return METHODS[method](data, build_encoder, config, device, **params)
