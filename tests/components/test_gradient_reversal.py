import torch

from nnunetv2_pscm.components.gradient_reversal import reverse_gradient


def test_identity_forward_reversed_scaled_backward():
    x = torch.tensor([1.0, -2.0], requires_grad=True)
    y = reverse_gradient(x, 0.5)
    assert torch.equal(y, x)
    (3 * y).sum().backward()
    assert torch.equal(x.grad, torch.tensor([-1.5, -1.5]))
