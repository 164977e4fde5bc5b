"""L2-SP against its formula and weight decay; the L1 activation penalty makes units sparse."""

import torch
from torch import nn

from transfer_lab.methods.encoders import build_encoder, encoder_checkpoint
from transfer_lab.methods.regularisation import penalties
from transfer_lab.methods.regularisation.protocol import Setting, run_l1_activation, run_l2_sp, run_mlp
from transfer_lab.methods.training import TrainConfig


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(3, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(torch.relu(self.encoder(x)))


def test_l2_sp_is_its_formula_and_weight_decay_when_the_anchor_is_zero():
    torch.manual_seed(0)
    net = Net()
    reference = {k: v + torch.randn_like(v) for k, v in penalties.reference_weights(net.encoder, "encoder.").items()}
    alpha, beta = 0.3, 0.7
    tied = sum((p - reference[n]).pow(2).sum() for n, p in net.named_parameters() if n.startswith("encoder."))
    free = sum(p.pow(2).sum() for n, p in net.named_parameters() if n.startswith("head."))
    torch.testing.assert_close(penalties.l2_sp_penalty(net, reference, alpha, beta), alpha / 2 * tied + beta / 2 * free)
    decay = sum(p.pow(2).sum() for p in net.parameters())
    zero = penalties.zero_reference(reference)
    torch.testing.assert_close(penalties.l2_sp_penalty(net, zero, 0.5, 0.5), 0.25 * decay)
    # its gradient pulls toward the anchor: alpha (w - w0)
    penalties.l2_sp_penalty(net, reference, alpha, beta).backward()
    torch.testing.assert_close(net.encoder.weight.grad, alpha * (net.encoder.weight - reference["encoder.weight"]).detach())
    torch.testing.assert_close(net.head.weight.grad, beta * net.head.weight.detach())


def test_l2_sp_keeps_fine_tuned_weights_nearer_the_source_than_weight_decay():
    torch.manual_seed(1)
    x, y = torch.randn(64, 3), torch.randint(0, 2, (64,))
    distances = {}
    for anchor in ("pretrained", "zero"):
        torch.manual_seed(2)
        net = Net()
        source = penalties.reference_weights(net.encoder, "encoder.")
        reference = source if anchor == "pretrained" else penalties.zero_reference(source)
        optimiser = torch.optim.SGD(net.parameters(), lr=0.1)
        for _ in range(200):
            optimiser.zero_grad()
            loss = nn.functional.cross_entropy(net(x), y) + penalties.l2_sp_penalty(net, reference, 1.0, 0.0)
            loss.backward()
            optimiser.step()
        distances[anchor] = (net.encoder.weight - source["encoder.weight"]).norm().item()
    assert distances["pretrained"] < 0.5 * distances["zero"], distances


def test_activation_sparsity_counts_zero_units():
    assert penalties.activation_sparsity(torch.tensor([[0.0, 1.0], [0.0, 0.0]])) == 0.75
    torch.testing.assert_close(penalties.l1_activation_penalty(torch.tensor([[1.0, -2.0], [0.0, 3.0]]), 0.5), torch.tensor(1.5))


def test_l1_activation_penalty_raises_measured_sparsity(digits_view):
    setting = Setting(TrainConfig(epochs=15, batch_size=64, lr=3e-3, patience=None, progress=False), n_classes=10, hidden=(64,))
    plain = run_mlp(digits_view, setting)["mlp"]
    sparse = run_l1_activation(digits_view, setting, weight=0.01)["l1_activation"]
    assert sparse["activation_sparsity"][1] > plain["activation_sparsity"][1] + 0.2
    assert sparse["accuracy"][1] > 0.85


def test_l2_sp_runner_fine_tunes_a_pretrained_encoder_checkpoint(digits_view):
    torch.manual_seed(0)
    encoder = build_encoder("cnn2d", (1, 8, 8), width=8, depth=2, out_features=16)
    checkpoint = encoder_checkpoint(encoder, "cnn2d", (1, 8, 8), {"width": 8, "depth": 2, "out_features": 16})
    setting = Setting(TrainConfig(epochs=12, batch_size=64, lr=3e-3, patience=None, progress=False), n_classes=10)
    for anchor in ("pretrained", "zero"):
        measured = run_l2_sp(digits_view, setting, checkpoint, alpha=0.1, beta=0.01, anchor=anchor)
        assert 0.3 < measured["accuracy"][1] <= 1 and "fgsm_accuracy" in measured
