"""FGSM and PGD against hand-computed cases; adversarial training raises robust accuracy."""

import math

import torch
from torch import nn

from transfer_lab.methods.regularisation import adversarial
from transfer_lab.methods.regularisation.protocol import Setting, run_adversarial_training, run_mlp
from transfer_lab.methods.training import TrainConfig


def _linear():
    """logits = W x with W = [[1, -2], [0, 0]]."""
    model = nn.Linear(2, 2, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -2.0], [0.0, 0.0]]))
    return model


def test_fgsm_is_epsilon_times_the_sign_of_the_hand_computed_input_gradient():
    model, x, y = _linear(), torch.tensor([[0.5, 0.5]], dtype=torch.float64), torch.tensor([0])
    # logits (-0.5, 0); p = softmax; dL/dx = W^T (p - e_0) = (p0 - 1) * (1, -2)
    p0 = 1 / (1 + math.exp(0.5))
    gradient = torch.tensor([[p0 - 1, -2 * (p0 - 1)]], dtype=torch.float64)
    torch.testing.assert_close(adversarial.input_gradient(model, x, y), gradient)
    torch.testing.assert_close(adversarial.fgsm(model, x, y, 0.1), torch.tensor([[0.4, 0.6]], dtype=torch.float64))
    # clipped to the pixel range
    edge = torch.tensor([[0.05, 0.98]], dtype=torch.float64)
    torch.testing.assert_close(adversarial.fgsm(model, edge, y, 0.1), torch.tensor([[0.0, 1.0]], dtype=torch.float64))
    torch.testing.assert_close(adversarial.fgsm(model, edge, y, 0.1, clip=None), torch.tensor([[-0.05, 1.08]], dtype=torch.float64))


def test_pgd_stays_in_the_ball_and_hurts_at_least_as_much_as_fgsm():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
    x, y = torch.rand(64, 6), torch.randint(0, 3, (64,))
    adv = adversarial.pgd(model, x, y, 0.1, 0.02, 20, generator=torch.Generator().manual_seed(0))
    assert (adv - x).abs().max() <= 0.1 + 1e-6 and adv.min() >= 0 and adv.max() <= 1
    loss = lambda inputs: nn.functional.cross_entropy(model(inputs), y).item()  # noqa: E731
    assert loss(adv) >= loss(adversarial.fgsm(model, x, y, 0.1)) - 1e-6 > loss(x)
    # one step of size epsilon from no random start is FGSM
    torch.testing.assert_close(adversarial.pgd(model, x, y, 0.1, 0.1, 1, random_start=False), adversarial.fgsm(model, x, y, 0.1))


def test_adversarial_training_raises_fgsm_accuracy(digits_view):
    setting = Setting(TrainConfig(epochs=40, batch_size=64, lr=3e-3, patience=None, progress=False), n_classes=10, hidden=(64,), epsilon=0.1)
    plain = run_mlp(digits_view, setting)["mlp"]
    robust = run_adversarial_training(digits_view, setting)["adversarial_training"]
    assert robust["fgsm_accuracy"][1] > plain["fgsm_accuracy"][1] + 0.15
    assert robust["pgd_accuracy"][1] > plain["pgd_accuracy"][1]
    assert plain["pgd_accuracy"][1] <= plain["fgsm_accuracy"][1] + 0.02  # PGD is the stronger attack
    assert robust["accuracy"][1] > 0.85 and plain["accuracy"][1] > 0.85
