"""DuCiSC's building blocks on tensors small enough to check by hand: the blend, self-aware thresholds, soft-mask
prototypes and their alignment, soft-target CE and Dice."""
import math

import pytest
import torch

from nnunetv2_pscm.components.consistency import with_clamped_noise
from nnunetv2_pscm.components.deep_supervision import resize_soft
from nnunetv2_pscm.components.mixup import linear_blend, sample_blend_weights
from nnunetv2_pscm.components.prototypes import prototype_alignment_mse, soft_class_prototypes
from nnunetv2_pscm.components.thresholds import SelfAwareThresholds
from nnunetv2_pscm.components.weighted_losses import (masked_soft_cross_entropy, weighted_soft_dice_loss,
                                                      weighted_soft_dice_loss_soft_target)


def test_blend_weights_stay_in_their_range_and_blend_per_sample():
    w = sample_blend_weights(1000, 0.25, 0.75, generator=torch.Generator().manual_seed(0))
    assert w.min() >= 0.25 and w.max() <= 0.75 and w.std() > 0.1
    a, b = torch.ones(2, 1, 3), torch.zeros(2, 1, 3)
    torch.testing.assert_close(linear_blend(a, b, torch.tensor([0.25, 0.75])),
                               torch.tensor([[[0.25] * 3], [[0.75] * 3]]))
    with pytest.raises(ValueError, match="one weight per sample"):
        linear_blend(a, b, torch.tensor([0.5]))
    with pytest.raises(ValueError, match="low=0.8, high=0.2"):
        sample_blend_weights(2, 0.8, 0.2)


def test_blended_one_hot_label_is_a_soft_label():
    y_l = torch.nn.functional.one_hot(torch.tensor([[0, 1, 2]]), 3).movedim(-1, 1).float()  # (1, 3, 3)
    y_u = torch.nn.functional.one_hot(torch.tensor([[0, 2, 2]]), 3).movedim(-1, 1).float()
    soft = linear_blend(y_l, y_u, torch.tensor([0.25]))
    torch.testing.assert_close(soft[0, :, 1], torch.tensor([0.0, 0.25, 0.75]))  # class 1 from l, class 2 from u
    torch.testing.assert_close(soft.sum(1), torch.ones(1, 3))


def test_thresholds_move_towards_the_student_confidence_and_are_clipped():
    t = SelfAwareThresholds(num_scales=2, num_classes=2)
    torch.testing.assert_close(t.values, torch.full((2, 2), 0.5))
    student = torch.tensor([[[0.2, 0.1], [0.8, 0.9]]])  # (B=1, C=2, V=2): fg probability 0.8 and 0.9
    teacher_labels = torch.tensor([[[1, 1]]])  # the teacher says foreground everywhere: no background voxel
    t.update(1, student, teacher_labels)
    assert t.values[1, 1].item() == pytest.approx(0.99 * 0.5 + 0.01 * 0.85)
    assert t.values[1, 0].item() == 0.5 and t.values[0].tolist() == [0.5, 0.5]  # no voxel: unchanged; other scale
    t.values[0, 1] = 0.95
    t.update(0, torch.tensor([[[0.0], [1.0]]]), torch.tensor([[[1]]]))
    assert t.values[0, 1].item() == pytest.approx(0.95)  # upper clip
    four = SelfAwareThresholds(1, 4)
    four.update(0, torch.zeros(1, 4, 1), torch.tensor([[[3]]]))
    assert four.values[0, 3].item() == pytest.approx(0.25)  # 0.99 * 0.25 clipped back up to 1/C


def test_a_voxel_is_certain_when_its_top_class_beats_that_class_threshold():
    t = SelfAwareThresholds(1, 3)
    t.values[0] = torch.tensor([0.7, 0.5, 0.4])
    probs = torch.tensor([[[0.6, 0.1, 0.2, 0.35], [0.3, 0.6, 0.1, 0.3], [0.1, 0.3, 0.7, 0.35]]])  # (1, 3, 4)
    # top classes 0 (0.6 < 0.7), 1 (0.6 > 0.5), 2 (0.7 > 0.4), 2 (0.35 < 0.4)
    assert t.certain(0, probs)[0, 0].tolist() == [0.0, 1.0, 1.0, 0.0]


def test_soft_prototypes_by_hand_and_absent_classes():
    features = torch.tensor([[[1.0, 2.0, 3.0, 4.0]]])  # (B=1, F=1, V=4)
    hard = torch.tensor([[[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]])
    protos, present = soft_class_prototypes(features, hard)
    torch.testing.assert_close(protos, torch.tensor([[1.5], [3.5]]))
    soft = torch.tensor([[[1.0, 0.5, 0.5, 0.0], [0.0, 0.5, 0.5, 1.0]]])
    protos, _ = soft_class_prototypes(features, soft)
    assert protos[1].item() == pytest.approx((2 * 0.5 + 3 * 0.5 + 4) / 2)
    # two samples; class 1 occurs only in the first: averaged over the samples in which it occurs, no NaN
    features2 = torch.tensor([[[1.0, 2.0]], [[5.0, 7.0]]])
    masks2 = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0], [0.0, 0.0]]])
    protos, present = soft_class_prototypes(features2, masks2)
    torch.testing.assert_close(protos, torch.tensor([[(1.0 + 6.0) / 2], [2.0]]))
    assert present.tolist() == [True, True]
    protos, present = soft_class_prototypes(features2, torch.stack([masks2[:, 0], torch.zeros(2, 2)], 1))
    assert present.tolist() == [True, False] and torch.isfinite(protos).all() and protos[1].item() == 0.0


def test_prototype_alignment_uses_the_classes_present_in_both():
    a, b = torch.tensor([[0.0, 0.0], [1.0, 1.0]]), torch.tensor([[0.0, 0.0], [3.0, 1.0]])
    both = torch.tensor([True, True])
    assert prototype_alignment_mse(a, both, b, both).item() == pytest.approx(1.0)  # (0 + 0 + 4 + 0) / 4
    assert prototype_alignment_mse(a, both, b, torch.tensor([True, False])).item() == 0.0
    assert prototype_alignment_mse(a, torch.tensor([False, True]), b, torch.tensor([True, False])) is None


def test_prototypes_carry_gradient_to_the_features():
    features = torch.randn(2, 3, 5, requires_grad=True)
    masks = torch.softmax(torch.randn(2, 2, 5), 1)
    a = soft_class_prototypes(features, masks)
    b = soft_class_prototypes(features.flip(2), masks)
    prototype_alignment_mse(*a, *b).backward()
    assert features.grad is not None and features.grad.abs().sum() > 0


def test_soft_cross_entropy_by_hand():
    logits = torch.tensor([[[0.0], [math.log(3.0)]]])  # p = (0.25, 0.75)
    target = torch.tensor([[[0.5], [0.5]]])
    expected = -0.5 * math.log(0.25) - 0.5 * math.log(0.75)
    assert masked_soft_cross_entropy(logits, target, torch.ones(1, 1, 1)).item() == pytest.approx(expected, rel=1e-6)
    assert masked_soft_cross_entropy(logits, target, torch.zeros(1, 1, 1)).item() == 0.0


def test_soft_target_dice_by_hand_and_equal_to_the_hard_one_on_one_hot_targets():
    logits = torch.tensor([[[0.0, 0.0], [math.log(3.0), -math.log(3.0)]]])  # p_fg = 0.75, 0.25
    soft = torch.tensor([[[0.5, 0.5], [0.5, 0.5]]])
    # intersection 0.375 + 0.125 = 0.5, denominator (0.75 + 0.25) + (0.5 + 0.5) = 2
    loss = weighted_soft_dice_loss_soft_target(logits, soft, torch.ones(1, 1, 2), smooth=0.0)
    assert loss.item() == pytest.approx(0.5, rel=1e-6)
    labels = torch.tensor([[[1, 0]]])
    onehot = torch.tensor([[[0.0, 1.0], [1.0, 0.0]]])
    weight = torch.tensor([[[1.0, 0.5]]])
    assert weighted_soft_dice_loss_soft_target(logits, onehot, weight).item() == pytest.approx(
        weighted_soft_dice_loss(logits, labels, weight).item(), rel=1e-6)


def test_soft_resize_averages_and_keeps_a_distribution():
    soft = torch.tensor([[[1.0, 0.0, 0.5, 0.5], [0.0, 1.0, 0.5, 0.5]]])  # (1, 2, 4)
    half = resize_soft(soft, (2,))
    torch.testing.assert_close(half, torch.tensor([[[0.5, 0.5], [0.5, 0.5]]]))
    assert resize_soft(soft, (4,)) is soft


def test_clamped_noise():
    x = torch.zeros(10000)
    noisy = with_clamped_noise(x, 0.1, 0.2)
    assert noisy.abs().max() <= 0.2 + 1e-7 and 0.08 < noisy.std() < 0.1
    assert with_clamped_noise(x, 0.0, 0.2) is x
