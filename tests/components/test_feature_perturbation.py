"""Channel dropout on the unlabeled part of a batch, and the hook that applies it to module outputs."""
import pytest
import torch
from torch import nn

from nnunetv2_pscm.components.feature_hooks import channel_dropout, feature_perturbation


def test_first_samples_pass_and_the_others_lose_whole_channels_scaled():
    x = torch.arange(1, 2 * 6 * 3 * 4 + 1, dtype=torch.float32).reshape(2, 6, 3, 4)  # 2D: (B, C, H, W)
    x = torch.cat((x, x + 1000))  # 4 samples
    y = channel_dropout(x, 0.5, first_sample=2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(y[:2], x[:2])
    for b in (2, 3):
        for c in range(6):
            ratio = y[b, c] / x[b, c]
            assert torch.all(ratio == 0) or torch.allclose(ratio, torch.full_like(ratio, 2.0)), (b, c)
    dropped = (y[2:].flatten(2) == 0).all(2)
    assert 0 < int(dropped.sum()) < 12, "some channels dropped, not all (seed 0)"


def test_rate_and_expectation_over_many_channels():
    x = torch.ones(3, 4000, 2, 2, 2)  # 3D
    y = channel_dropout(x, 0.25, first_sample=1, generator=torch.Generator().manual_seed(1))
    zero = (y[1:] == 0).all(-1).all(-1).all(-1).float().mean().item()
    assert zero == pytest.approx(0.25, abs=0.02)
    assert y[1:].mean().item() == pytest.approx(1.0, abs=0.03), "1 / (1 - p) keeps the expectation"
    assert torch.equal(channel_dropout(x, 0.0, 1), x) and torch.equal(channel_dropout(x, 0.5, 3), x)
    with pytest.raises(ValueError, match="< 1"):
        channel_dropout(x, 1.0, 1)


def test_hooks_perturb_only_inside_the_block_and_pass_gradient():
    torch.manual_seed(0)
    stage = nn.Conv2d(2, 64, 1)
    net = nn.Sequential(stage, nn.Conv2d(64, 1, 1))
    x = torch.randn(4, 2, 5, 5)
    clean = net(x)
    with feature_perturbation([stage], 0.5, first_sample=2):
        perturbed = net(x)
    assert torch.allclose(perturbed[:2], clean[:2]) and not torch.allclose(perturbed[2:], clean[2:])
    assert torch.equal(net(x), clean), "the hook is removed after the block"
    perturbed[2:].sum().backward()
    assert stage.weight.grad.abs().sum() > 0
    with feature_perturbation([stage], 0.0, first_sample=2):
        assert torch.equal(net(x), clean)
