import math

import pytest
import torch

from nnunetv2_pscm.components.weighted_losses import weighted_cross_entropy, weighted_soft_dice_loss


def test_weighted_ce_by_hand():
    logits = torch.zeros(1, 2, 2)  # p = 0.5 everywhere -> CE = log 2
    target = torch.tensor([[[0, 1]]])
    weight = torch.tensor([[[1.0, 0.0]]])
    assert weighted_cross_entropy(logits, target, weight).item() == pytest.approx(math.log(2) / 2)


def test_weighted_dice_by_hand():
    # foreground probabilities 1, 1, 0 on targets 1, 0, 0 with weights 1, 1, 1 -> 2*1 / (2 + 1) = 2/3
    logits = torch.tensor([[[-20.0, -20.0, 20.0], [20.0, 20.0, -20.0]]])
    target = torch.tensor([[[1, 0, 0]]])
    assert weighted_soft_dice_loss(logits, target, torch.ones(1, 1, 3)).item() == pytest.approx(1 / 3, abs=1e-4)
    # weight 0 on the false positive: perfect Dice
    assert weighted_soft_dice_loss(logits, target, torch.tensor([[[1.0, 0.0, 1.0]]])).item() == pytest.approx(0, abs=1e-4)


def test_zero_weight_voxels_get_no_gradient():
    logits = torch.randn(1, 3, 4, requires_grad=True)
    target = torch.tensor([[[0, 1, 2, 1]]])
    weight = torch.tensor([[[1.0, 0.0, 1.0, 0.0]]])
    (weighted_cross_entropy(logits, target, weight) + weighted_soft_dice_loss(logits, target, weight)).backward()
    assert logits.grad[..., 1].abs().sum() == 0 and logits.grad[..., 3].abs().sum() == 0
    assert logits.grad[..., 0].abs().sum() > 0
