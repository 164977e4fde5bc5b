"""Tangent propagation and the manifold tangent classifier against their formulas."""

import numpy as np
import torch
from torch import nn

from transfer_lab.methods.regularisation import tangent_prop
from transfer_lab.methods.regularisation.protocol import Setting, fit_autoencoder, run_manifold_tangent, run_tangent_prop
from transfer_lab.methods.regularisation.tangents import tangent_vectors
from transfer_lab.methods.training import TrainConfig


class InkModel(nn.Module):
    """A function of the mean ink only: invariant to circular shifts by construction."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 3))

    def forward(self, x):
        return self.net(x.flatten(1).mean(1, keepdim=True))


def test_penalty_is_zero_for_a_model_invariant_by_construction():
    torch.manual_seed(0)
    x = torch.rand(6, 1, 8, 8, dtype=torch.float64)
    tangents = torch.from_numpy(tangent_vectors(x.numpy(), ["translate_x", "translate_y"], mode="wrap"))
    model = InkModel().double()
    assert tangent_prop.tangent_prop_penalty(model, x, tangents).item() < 1e-20
    # the same model is not invariant to thickening (it adds ink)
    thicken = torch.from_numpy(tangent_vectors(x.numpy(), ["thicken"], mode="wrap"))
    assert tangent_prop.tangent_prop_penalty(model, x, thicken).item() > 1e-6


def test_penalty_equals_a_loop_over_finite_difference_directional_derivatives():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 10), nn.Tanh(), nn.Linear(10, 3)).double()
    x, t = torch.rand(4, 1, 4, 4, dtype=torch.float64), torch.randn(4, 2, 1, 4, 4, dtype=torch.float64)
    h, want = 1e-6, 0.0
    for i in range(4):
        for j in range(2):
            derivative = (model(x[i : i + 1] + h * t[i : i + 1, j]) - model(x[i : i + 1] - h * t[i : i + 1, j])) / (2 * h)
            want += derivative.pow(2).sum().item() / 4
    got = tangent_prop.tangent_prop_penalty(model, x, t)
    assert abs(got.item() - want) < 1e-6 * max(want, 1)
    got.backward()  # differentiable in the parameters
    assert model[1].weight.grad.abs().sum() > 0


def test_contractive_autoencoder_jacobian_and_tangents_match_autograd():
    torch.manual_seed(2)
    autoencoder = tangent_prop.ContractiveAutoencoder(16, 6).double()
    x = torch.rand(3, 1, 4, 4, dtype=torch.float64)
    for i in range(3):
        reference = torch.autograd.functional.jacobian(lambda v: autoencoder.encode(v), x[i : i + 1])[0].reshape(6, 16)
        torch.testing.assert_close(autoencoder.jacobian(x[i : i + 1])[0], reference)
        torch.testing.assert_close(autoencoder.contraction(x[i : i + 1])[0], reference.pow(2).sum())
    tangents = tangent_prop.manifold_tangents(autoencoder, x, 2)
    assert tangents.shape == (3, 2, 1, 4, 4)
    flat = tangents.reshape(3, 2, 16)
    torch.testing.assert_close(flat @ flat.transpose(1, 2), torch.eye(2, dtype=torch.float64).expand(3, 2, 2))
    # the leading tangent is the direction the code moves most along: |J v1| = largest singular value
    J = autoencoder.jacobian(x)
    top = torch.linalg.svdvals(J)[:, 0]
    torch.testing.assert_close((J @ flat[:, 0].unsqueeze(-1)).squeeze(-1).norm(dim=1), top)


def test_tangent_prop_and_manifold_tangent_runners_on_digits(digits_view):
    setting = Setting(TrainConfig(epochs=10, batch_size=64, lr=3e-3, patience=None, progress=False), n_classes=10, hidden=(64,))
    measured = run_tangent_prop(digits_view, setting, weight=0.01, sigma=0.5)["tangent_prop"]
    assert measured["accuracy"][1] > 0.85
    autoencoder = fit_autoencoder(digits_view.X_labeled, 32, 0.1, TrainConfig(epochs=10, progress=False), setting.device, 0)
    measured = run_manifold_tangent(digits_view, setting, autoencoder, k=4, weight=0.1)["manifold_tangent"]
    assert measured["accuracy"][1] > 0.85 and np.isfinite(measured["fgsm_accuracy"][1])
