"""DuCiSC's pixel consistency terms and its two ways of combining terms, by hand."""
import math

import pytest
import torch

from nnunetv2_pscm.methods.ducisc.losses import combine_losses, hard_pixel_consistency, soft_pixel_consistency


def test_uncertain_voxels_contribute_nothing():
    logits = torch.randn(1, 2, 4, requires_grad=True)
    labels = torch.tensor([[[0, 1, 1, 0]]])
    loss = hard_pixel_consistency(logits, labels, torch.zeros(1, 1, 4))
    assert loss.item() == pytest.approx(0.0, abs=1e-6)  # CE over no voxel = 0; Dice of nothing = smooth/smooth
    loss.backward()
    assert logits.grad.abs().max() == 0


def test_hard_pixel_consistency_by_hand():
    logits = torch.tensor([[[0.0, 0.0], [math.log(3.0), -math.log(3.0)]]])  # p_fg = 0.75, 0.25
    labels = torch.tensor([[[1, 0]]])
    certain = torch.tensor([[[1.0, 0.0]]])  # only the first voxel: p_fg 0.75, label 1
    ce = -math.log(0.75)
    dice = (2 * 0.75 + 1e-5) / (0.75 + 1 + 1e-5)
    assert hard_pixel_consistency(logits, labels, certain).item() == pytest.approx(0.5 * (ce + 1 - dice), rel=1e-5)


def test_soft_pixel_consistency_by_hand():
    logits = torch.tensor([[[0.0], [math.log(3.0)]]])
    soft = torch.tensor([[[0.5], [0.5]]])
    ce = -0.5 * math.log(0.25) - 0.5 * math.log(0.75)
    dice = (2 * 0.375 + 1e-5) / (0.75 + 0.5 + 1e-5)
    assert soft_pixel_consistency(logits, soft, torch.ones(1, 1, 1)).item() == pytest.approx(
        0.5 * (ce + 1 - dice), rel=1e-5)


def _leaves():
    return torch.tensor(2.0, requires_grad=True), torch.tensor(4.0, requires_grad=True)


def test_plain_weighted_sum():
    sup, term = _leaves()
    total = combine_losses(sup, {"a": (0.3, term), "skipped_none": (0.1, None)}, self_normalize=False)
    assert total.item() == pytest.approx(2.0 + 0.3 * 4.0)
    total.backward()
    assert sup.grad.item() == 1.0 and term.grad.item() == pytest.approx(0.3)


def test_self_normalised_sum_divides_each_term_by_its_detached_value():
    sup, term = _leaves()
    total = combine_losses(sup, {"a": (0.3, term), "zero": (0.1, torch.tensor(0.0)),
                                 "nan": (0.1, torch.tensor(float("nan"))), "none": (0.1, None)}, self_normalize=True)
    assert total.item() == pytest.approx(2.0 / 3.0 + 0.3)
    total.backward()
    assert sup.grad.item() == pytest.approx(1 / 3) and term.grad.item() == pytest.approx(0.3 / 4)


def test_self_normalised_supervised_loss_keeps_its_sign_when_nnunet_loss_is_negative():
    """nnU-Net's Dice+CE is CE - Dice and goes below 0: normalising by sg(L + 1) keeps a descent direction."""
    sup = torch.tensor(-0.6, requires_grad=True)
    combine_losses(sup, {}, self_normalize=True).backward()
    assert sup.grad.item() == pytest.approx(1 / 0.4) and sup.grad.item() > 0


def test_zero_weight_terms_are_left_out():
    sup, term = _leaves()
    assert combine_losses(sup, {"a": (0.0, term)}, self_normalize=True).item() == pytest.approx(2.0 / 3.0)
