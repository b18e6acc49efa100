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


def test_region_normalised_loss_by_hand():
    """BCP's mix_loss: each region's CE is a mean over that region; pseudo region weighted 0.5."""
    from nnunetv2_pscm.components.weighted_losses import region_normalised_ce_dice

    # 4 voxels, 2 classes; background is certain where correct (CE ~0), p = 0.5 on voxel 3 (CE = log 2)
    logits = torch.tensor([[[20.0, 20.0, 20.0, 0.0], [-20.0, -20.0, -20.0, 0.0]]])
    target = torch.zeros(1, 1, 4, dtype=torch.long)
    gt = torch.tensor([[[1.0, 1.0, 1.0, 0.0]]])  # 3 ground-truth voxels, all right
    pseudo = torch.tensor([[[0.0, 0.0, 0.0, 1.0]]])  # 1 pseudo voxel at p = 0.5
    # ground truth: CE 0, Dice of an absent foreground class predicted absent = 0 -> 0
    # pseudo: CE = log 2 (mean over ITS one voxel, not over 4), Dice: fg prob 0.5 where target bg -> 1 - s/(0.5+s) ~ 1
    loss = region_normalised_ce_dice(logits, target, [(gt, 1.0), (pseudo, 0.5)])
    assert loss.item() == pytest.approx(0.5 * (math.log(2) + 1.0), abs=1e-3)
    # the size of the other region does not change a region's share (this is what voxel-mean weighting got wrong)
    wider = torch.tensor([[[1.0, 1.0, 0.0, 0.0]]])
    assert region_normalised_ce_dice(logits, target, [(wider, 1.0), (pseudo, 0.5)]).item() == pytest.approx(
        loss.item(), abs=1e-3)
    # an empty region contributes nothing
    assert region_normalised_ce_dice(logits, target, [(torch.zeros(1, 1, 4), 1.0)]).item() == pytest.approx(0.0)


def test_region_normalised_loss_reliability_weights_scale_voxels_inside_a_region():
    from nnunetv2_pscm.components.weighted_losses import region_normalised_ce_dice

    logits = torch.randn(2, 3, 5, requires_grad=True)
    target = torch.randint(0, 3, (2, 1, 5))
    region = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0]).view(1, 1, 5).expand(2, 1, 5)
    region_normalised_ce_dice(logits, target, [(region, 1.0)]).backward()
    assert logits.grad[..., 1].abs().sum() == 0 and logits.grad[..., 3].abs().sum() == 0
    assert logits.grad[..., 0].abs().sum() > 0


def test_masked_mean_cross_entropy_by_hand_and_gradient_only_on_kept_voxels():
    from nnunetv2_pscm.components.weighted_losses import masked_mean_cross_entropy

    # 3 voxels, 2 classes; logits (0, 0) -> CE log 2 whatever the label; voxel 2 has CE log(1 + e^2)
    logits = torch.tensor([[[0.0, 0.0, 2.0], [0.0, 0.0, 0.0]]], requires_grad=True)
    target = torch.tensor([[[0, 1, 1]]])
    mask = torch.tensor([[[1.0, 0.0, 1.0]]])
    loss = masked_mean_cross_entropy(logits, target, mask)
    assert loss.item() == pytest.approx((math.log(2) + math.log(1 + math.e ** 2)) / 2)  # mean over the 2 kept
    loss.backward()
    assert torch.all(logits.grad[..., 1] == 0) and torch.all(logits.grad[..., [0, 2]] != 0)
    assert masked_mean_cross_entropy(logits, target, torch.zeros_like(mask)).item() == 0.0


def test_dice_skipping_empty_targets_by_hand():
    # 2 samples, 3 classes (background + 2), 3 voxels each, all kept (weight 1)
    # sample 0: class 1 target on voxel 0, predicted there with p = 1 -> Dice 1; class 2 has no target voxel
    # sample 1: no class-1 and no class-2 target voxel (all background), class 2 predicted on voxel 2
    big = 20.0
    logits = torch.full((2, 3, 3), -big)
    logits[0, 1, 0] = logits[0, 0, 1] = logits[0, 0, 2] = big
    logits[1, 0, 0] = logits[1, 0, 1] = logits[1, 2, 2] = big
    target = torch.tensor([[[1, 0, 0]], [[0, 0, 0]]])
    weight = torch.ones(2, 1, 3)
    # counted: pairs (s0,c1) 0, (s0,c2) 1 - s/(0+s) = 0, (s1,c1) 0, (s1,c2) 1 - s/(1+s) ~ 1 -> mean ~ 1/4
    assert weighted_soft_dice_loss(logits, target, weight).item() == pytest.approx(0.25, abs=1e-3)
    # skipped: only (s0,c1) has a target -> 0
    assert weighted_soft_dice_loss(logits, target, weight, skip_empty_targets=True).item() == pytest.approx(0, abs=1e-4)
    # no pair with a target at all: 0, and the graph stays connected (backward works, no gradient)
    empty = torch.zeros(2, 1, 3, dtype=torch.long)
    live = logits.clone().requires_grad_(True)
    loss = weighted_soft_dice_loss(live, empty, weight, skip_empty_targets=True)
    loss.backward()
    assert loss.item() == 0.0 and live.grad.abs().sum() == 0


def test_dice_skipping_empty_targets_takes_the_weight_map_into_account():
    # the class-1 target voxel 0 is not kept (weight 0), so the pair is empty; class 1 is also predicted on the kept
    # voxel 1: counted, the pair adds 1 - s / (1 + s) ~ 1; skipped, nothing
    logits = torch.tensor([[[-20.0, -20.0, 20.0], [20.0, 20.0, -20.0]]])
    target = torch.tensor([[[1, 0, 0]]])
    kept = torch.tensor([[[0.0, 1.0, 1.0]]])
    assert weighted_soft_dice_loss(logits, target, kept).item() == pytest.approx(1.0, abs=1e-4)
    assert weighted_soft_dice_loss(logits, target, kept, skip_empty_targets=True).item() == 0.0


def test_dice_skipping_empty_targets_sends_no_gradient_to_a_sample_whose_pairs_are_all_empty():
    # sample 0 has a class-1 target voxel, sample 1 none (all background): counted, sample 1's empty pair pushes its
    # class-1 probability down (gradient); skipped, sample 1 gets no gradient and sample 0 still does
    target = torch.tensor([[[1, 0, 0]], [[0, 0, 0]]])
    weight = torch.ones(2, 1, 3)
    for skip, sample_1_has_gradient in ((False, True), (True, False)):
        logits = torch.zeros(2, 2, 3, requires_grad=True)
        weighted_soft_dice_loss(logits, target, weight, skip_empty_targets=skip).backward()
        assert logits.grad[0].abs().sum() > 0
        assert (logits.grad[1].abs().sum() > 0) == sample_1_has_gradient
