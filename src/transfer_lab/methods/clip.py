r"""CLIP-style image–text contrastive learning on generated captions (Radford et al. 2021).

The data sets have no captions, so the second modality is made from what the project knows
about each image: its class word and the domain shift the method applies (``sources.shifts``):
an image of a 7 thickened by the ``thick`` shift is captioned ``"a thick seven"``, a clean
one ``"a seven"``. Captions are tokenised at word level; a small text encoder (mean of word
embeddings, then an MLP) and the image encoder are trained with CLIP's symmetric InfoNCE
(:func:`clip_loss`, Radford et al. Fig. 3) over the batch's image–text similarity matrix,
with a learnt temperature.

Zero-shot classification (:func:`zero_shot_accuracy`) embeds one prompt per class
(``"a seven"``, or ``"a rotated seven"``) and labels each image with the nearest prompt. One
shift is held out of training for some classes (e.g. no rotated 5-9), so that the prompts
can be tested on class/shift combinations the model never saw paired.

What this is and is not: the captions are a deterministic function of the class label and
of a shift the method applied itself, so CLIP here is supervised pretraining on every
training label (routed through text) plus knowledge of the shifts; it shows the mechanics —
two encoders, the symmetric loss, prompts as a classifier, composition of seen words — not
learning from natural, noisy, web-scale captions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from transfer_lab.methods.encoders import build_encoder
from transfer_lab.methods.training import TrainConfig, TrainHistory, fit
from transfer_lab.sources.shifts import apply_shift

__all__ = [
    "CLASS_WORDS",
    "caption",
    "WordTokenizer",
    "TextEncoder",
    "CLIPModel",
    "clip_loss",
    "zero_shot_accuracy",
    "CLIPResult",
    "CLIPHistory",
    "train_clip",
    "pretrain_clip",
]

ArrayLike = np.ndarray | torch.Tensor
CLASS_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
CLEAN = "clean"


def caption(class_word: str, shift: str = CLEAN) -> str:
    """``"a seven"`` for a clean image, ``"a thick seven"`` for one with the ``thick`` shift."""
    return f"a {class_word}" if shift == CLEAN else f"a {shift.replace('_', ' ')} {class_word}"


class WordTokenizer:
    """Word-level vocabulary of a set of texts; id 0 pads, unknown words are refused."""

    def __init__(self, texts: Sequence[str]) -> None:
        words = sorted({w for t in texts for w in t.split()})
        self.vocabulary = {w: i + 1 for i, w in enumerate(words)}

    def __call__(self, texts: Sequence[str]) -> torch.Tensor:
        """``(len(texts), longest)`` token ids, right-padded with 0."""
        unknown = {w for t in texts for w in t.split()} - set(self.vocabulary)
        if unknown:
            raise ValueError(f"words outside the vocabulary: {sorted(unknown)}")
        longest = max(len(t.split()) for t in texts)
        ids = [[self.vocabulary[w] for w in t.split()] + [0] * (longest - len(t.split())) for t in texts]
        return torch.tensor(ids, dtype=torch.long)


class TextEncoder(nn.Module):
    """Mean of the word embeddings (padding excluded), then ``Linear -> ReLU -> Linear``."""

    def __init__(self, vocabulary_size: int, embed_dim: int = 64, out_features: int = 64) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocabulary_size + 1, embed_dim, padding_idx=0)
        self.mlp = nn.Sequential(nn.Linear(embed_dim, embed_dim), nn.ReLU(inplace=True), nn.Linear(embed_dim, out_features))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # noqa: D102
        mask = (tokens > 0).unsqueeze(-1).float()
        mean = (self.embedding(tokens) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.mlp(mean)


class CLIPModel(nn.Module):
    """Image encoder + linear projection, text encoder, learnt logit scale (init 1 / 0.07)."""

    def __init__(self, encoder: nn.Module, vocabulary_size: int, embed_dim: int = 64) -> None:
        super().__init__()
        self.encoder = encoder
        self.image_projection = nn.Linear(encoder.out_features, embed_dim, bias=False)
        self.text = TextEncoder(vocabulary_size, embed_dim, embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def embed_images(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.image_projection(self.encoder(x)), dim=1)

    def embed_texts(self, tokens: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text(tokens), dim=1)

    def scale(self) -> torch.Tensor:
        return self.logit_scale.clamp(max=math.log(100.0)).exp()  # CLIP clips the scale at 100


def clip_loss(image: torch.Tensor, text: torch.Tensor, scale: torch.Tensor | float) -> torch.Tensor:
    r"""Symmetric InfoNCE of CLIP (Radford et al. 2021, Fig. 3): with normalised embeddings
    and :math:`S_{ij} = s\, I_i^\top T_j`,
    :math:`\frac{1}{2}\big[\mathrm{CE}(S, \mathrm{diag}) + \mathrm{CE}(S^\top, \mathrm{diag})\big]`:
    image ``i``'s caption is text ``i``. Identical captions in one batch count as negatives,
    as in CLIP."""
    if image.shape != text.shape or image.dim() != 2:
        raise ValueError(f"image and text embeddings must both be (N, d), got {tuple(image.shape)}, {tuple(text.shape)}")
    logits = scale * image @ text.T
    targets = torch.arange(len(image), device=image.device)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


@torch.no_grad()
def zero_shot_accuracy(model: CLIPModel, X: torch.Tensor, y: torch.Tensor, prompts: torch.Tensor) -> float:
    """Accuracy of labelling each image with its most similar prompt (prompt ``c`` = class ``c``)."""
    if len(X) == 0:
        return float("nan")
    was = model.training
    model.eval()
    predicted = (model.embed_images(X) @ model.embed_texts(prompts).T).argmax(1)
    model.train(was)
    return float((predicted.cpu() == torch.as_tensor(y).cpu()).float().mean())


@dataclass
class CLIPResult:
    """The image encoder, the training history, the whole model and the zero-shot scores."""

    encoder: nn.Module
    history: TrainHistory
    model: CLIPModel
    zero_shot: dict[str, float] = field(default_factory=dict)


def _variants(X: np.ndarray, shifts: Mapping[str, Sequence[Mapping[str, Any]]], seed: int) -> np.ndarray:
    """``(1 + S, n, ...)``: the clean images and each shift applied to all of them."""
    out = [np.asarray(X, dtype=np.float32)] + [apply_shift(X, steps, seed + i) for i, steps in enumerate(shifts.values())]
    if any(v.shape != out[0].shape for v in out):
        raise ValueError("CLIP's shifts must keep the input shape (no downsample/upsample)")
    return np.stack(out)


def _allowed(n_classes: int, names: Sequence[str], held_out_classes: Sequence[int], held_out_shift: str | None) -> torch.Tensor:
    """``allowed[c, s]``: class ``c`` may be shown with variant ``s`` in training."""
    allowed = torch.ones(n_classes, len(names), dtype=torch.bool)
    if held_out_shift is not None and held_out_classes:
        if held_out_shift not in names[1:]:
            raise ValueError(f"held_out_shift {held_out_shift!r} is not one of the shifts {list(names[1:])}")
        if not set(held_out_classes) < set(range(n_classes)):
            raise ValueError(f"held_out_classes must be a proper subset of the {n_classes} classes")
        allowed[list(held_out_classes), names.index(held_out_shift)] = False
    return allowed


def train_clip(
    X: ArrayLike,
    y: ArrayLike,
    *,
    shifts: Mapping[str, Sequence[Mapping[str, Any]]],
    X_test: ArrayLike | None = None,
    y_test: ArrayLike | None = None,
    held_out_classes: Sequence[int] = (),
    held_out_shift: str | None = None,
    class_words: Sequence[str] = CLASS_WORDS,
    embed_dim: int = 64,
    encoder: nn.Module | None = None,
    config: TrainConfig,
    device: Any = "cpu",
    seed: int = 0,
) -> CLIPResult:
    """Train image and text encoders on (image, generated caption) pairs; score zero-shot.

    Each step gives every image of the batch one of the variants allowed for its class (clean
    or one of ``shifts``, uniformly; ``held_out_shift`` never for ``held_out_classes``) and its
    caption. With ``X_test``, zero-shot accuracies (every class's prompt competing) for:
    ``clean`` (all test images, prompts ``"a <class>"``); ``held_out_combination`` (the
    held-out classes' test images with the held-out shift, prompts ``"a <class>"``);
    ``held_out_combination_shift_prompt`` (same images, prompts ``"a <shift> <class>"``);
    ``held_out_classes_clean`` (those classes' clean test images, for reference); and
    ``chance`` (1 / number of classes).
    """
    X, y = np.asarray(X, dtype=np.float32), np.asarray(y, dtype=np.int64)
    n_classes = int(y.max()) + 1 if len(y) else 0
    if len(X) != len(y) or len(X) == 0 or n_classes > len(class_words):
        raise ValueError(f"need as many labels as images and at most {len(class_words)} classes")
    names = [CLEAN, *shifts]
    allowed = _allowed(n_classes, names, held_out_classes, held_out_shift)
    texts = [[caption(class_words[c], s) for s in names] for c in range(n_classes)]
    tokenizer = WordTokenizer([t for row in texts for t in row])
    table = torch.stack([tokenizer(row) for row in texts])  # (classes, 1 + S, words)
    variants = torch.as_tensor(_variants(X, shifts, seed))
    encoder = encoder if encoder is not None else build_encoder("auto", tuple(X.shape[1:]))
    model = CLIPModel(encoder, len(tokenizer.vocabulary), embed_dim)
    labels, generator = torch.as_tensor(y), torch.Generator().manual_seed(seed)

    def step(m: CLIPModel, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        index = batch[0].long().cpu()
        shift = torch.multinomial(allowed[labels[index]].float(), 1, generator=generator).squeeze(1)
        images = variants[shift, index].to(batch[0].device)
        tokens = table[labels[index], shift].to(batch[0].device)
        return clip_loss(m.embed_images(images), m.embed_texts(tokens), m.scale())

    history = fit(model, (np.arange(len(X)),), config=config, device=device, step_fn=step, desc="clip")
    result = CLIPResult(model.encoder, history, model)
    if X_test is not None:
        result.zero_shot = _zero_shot(model, tokenizer, np.asarray(X_test), np.asarray(y_test), shifts, n_classes,
                                      class_words, held_out_classes, held_out_shift, seed)
        # beside zero-shot: a linear probe of the same image encoder on the same (all) labels
        result.zero_shot[LINEAR_PROBE] = linear_probe_accuracy(model.encoder, X, y, np.asarray(X_test), np.asarray(y_test))
    return result


#: the key of :attr:`CLIPResult.zero_shot` that holds the linear probe's test accuracy
LINEAR_PROBE = "linear_probe"


@torch.no_grad()
def linear_probe_accuracy(encoder: nn.Module, X: np.ndarray, y: np.ndarray, X_test: np.ndarray, y_test: np.ndarray) -> float:
    """Test accuracy of a logistic regression on the frozen encoder's features of ``X``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    device = next(encoder.parameters()).device
    encoder.eval()
    features = [encoder(torch.as_tensor(a, device=device)).cpu().numpy() for a in (X, X_test)]
    scaler = StandardScaler().fit(features[0])
    probe = LogisticRegression(max_iter=2000).fit(scaler.transform(features[0]), y)
    return float(probe.score(scaler.transform(features[1]), y_test))


def _zero_shot(model, tokenizer, X, y, shifts, n_classes, class_words, held_classes, held_shift, seed) -> dict[str, float]:
    device = next(model.parameters()).device
    prompts = tokenizer([caption(class_words[c]) for c in range(n_classes)]).to(device)
    scores = {"chance": 1.0 / n_classes, "clean": zero_shot_accuracy(model, torch.as_tensor(X, device=device), y, prompts)}
    if held_classes and held_shift is not None:
        rows = np.isin(y, list(held_classes))
        scores["held_out_classes_clean"] = zero_shot_accuracy(model, torch.as_tensor(X[rows], device=device), y[rows], prompts)
        shifted = torch.as_tensor(apply_shift(X[rows], shifts[held_shift], seed + 1000), device=device)
        scores["held_out_combination"] = zero_shot_accuracy(model, shifted, y[rows], prompts)
        shift_prompts = tokenizer([caption(class_words[c], held_shift) for c in range(n_classes)]).to(device)
        scores["held_out_combination_shift_prompt"] = zero_shot_accuracy(model, shifted, y[rows], shift_prompts)
    return scores


@dataclass
class CLIPHistory(TrainHistory):
    """:class:`TrainHistory` plus the zero-shot accuracies of :func:`train_clip`."""

    zero_shot: dict[str, float] = field(default_factory=dict)


def pretrain_clip(X: ArrayLike, y: ArrayLike, **kwargs: Any) -> tuple[nn.Module, CLIPHistory]:
    """:func:`train_clip` returning ``(image encoder, history)`` like every pretraining method;
    the history carries the zero-shot accuracies."""
    result = train_clip(X, y, **kwargs)
    return result.encoder, CLIPHistory(**asdict(result.history), zero_shot=result.zero_shot)
