"""The dual-network loss terms on tiny tensors whose answers are computed by hand (methods/dualnet/losses.py), and
their gradients: to what they train, never to a target (the KL teacher, pseudo-labels, masks)."""
import math

import pytest
import torch

from nnunetv2_pscm.methods.dualnet import losses


def binary_probs(p_fg):
    """(1, 2, N) probabilities from foreground probabilities."""
    p = torch.tensor(p_fg, dtype=torch.float32)
    return torch.stack((1 - p, p))[None]


def labels(values):
    return torch.tensor(values)[None, None]


# ------------------------------------------------------------------ consistency regularisation
def test_cr_mask_is_the_xor_of_confident_foreground():
    p_a, p_b = binary_probs([0.7, 0.7, 0.2, 0.5, 0.6]), binary_probs([0.7, 0.3, 0.9, 0.5, 0.1])
    mask = losses.confident_foreground_xor(p_a, p_b, 0.6)
    assert mask.shape == (1, 1, 5)
    assert mask.flatten().tolist() == [0, 1, 1, 0, 1]  # both / only a / only b / neither / a at exactly 0.6


def test_cr_is_the_squared_error_on_the_mask_by_hand():
    p_a, p_b = binary_probs([0.7, 0.7, 0.2, 0.5]), binary_probs([0.7, 0.3, 0.9, 0.5])
    y = labels([1, 0, 1, 1])
    mask = losses.confident_foreground_xor(p_a, p_b, 0.6)  # voxels 1 and 2
    # a: (0.7 - 0)^2 = 0.49, (0.2 - 1)^2 = 0.64 -> 0.565; b: (0.3 - 0)^2 = 0.09, (0.9 - 1)^2 = 0.01 -> 0.05
    assert losses.consistency_regularisation(p_a, y, mask).item() == pytest.approx(0.565)
    assert losses.consistency_regularisation(p_b, y, mask).item() == pytest.approx(0.05)


def test_cr_multi_class_is_per_foreground_class_and_pooled():
    # 3 classes, 2 voxels; class 1: a confident at voxel 0 only; class 2: b confident at voxel 1 only
    p_a = torch.tensor([[[0.2, 0.2], [0.7, 0.1], [0.1, 0.7]]])  # (1, C=3, V=2)
    p_b = torch.tensor([[[0.5, 0.1], [0.4, 0.1], [0.1, 0.8]]])
    mask = losses.confident_foreground_xor(p_a, p_b, 0.6)
    # class 1: a 0.7 >= 0.6 at v0, b 0.4 -> 1; v1: neither -> 0. class 2: v0 neither; v1 both (0.7, 0.8) -> 0
    assert mask[0].tolist() == [[1, 0], [0, 0]]
    y = labels([2, 2])
    # only (class 1, v0): (0.7 - 0)^2 = 0.49 for a, (0.4 - 0)^2 = 0.16 for b
    assert losses.consistency_regularisation(p_a, y, mask).item() == pytest.approx(0.49)
    assert losses.consistency_regularisation(p_b, y, mask).item() == pytest.approx(0.16)


def test_cr_empty_mask_is_zero_and_gradient_reaches_the_net_only_through_probs():
    logits = torch.randn(1, 2, 6, requires_grad=True)
    p = torch.softmax(logits, 1)
    zero = losses.consistency_regularisation(p, labels([1, 0, 1, 0, 1, 0]), torch.zeros(1, 1, 6))
    assert zero.item() == 0.0
    mask = losses.confident_foreground_xor(p, 1 - p, 0.6)
    assert not mask.requires_grad, "the confidence mask selects voxels; it is not trained"
    value = losses.consistency_regularisation(p, labels([1, 0, 1, 0, 1, 0]), torch.ones(1, 1, 6))
    (grad,) = torch.autograd.grad(value, logits)
    assert grad.abs().sum() > 0


# ------------------------------------------------------------------ cross-consistency enhancement
def test_union_pseudo_labels_binary_is_the_union_of_foregrounds():
    p_a, p_b = binary_probs([0.9, 0.9, 0.1, 0.1]), binary_probs([0.9, 0.1, 0.9, 0.1])
    assert losses.union_pseudo_labels(p_a, p_b).flatten().tolist() == [1, 1, 1, 0]


def test_union_pseudo_labels_multi_class_takes_the_more_confident_foreground():
    p_a = torch.tensor([[[0.1, 0.2, 0.6], [0.6, 0.1, 0.3], [0.3, 0.7, 0.1]]])  # argmax per voxel: 1, 2, 0
    p_b = torch.tensor([[[0.1, 0.5, 0.7], [0.1, 0.1, 0.2], [0.8, 0.4, 0.1]]])  # argmax per voxel: 2, 0, 0
    # v0: both fg (a: 1 @0.6, b: 2 @0.8) -> 2; v1: only a (2) -> 2; v2: both bg -> 0
    assert losses.union_pseudo_labels(p_a, p_b).flatten().tolist() == [2, 2, 0]


def test_cross_pseudo_labels_swap_the_peers_argmax():
    p_a, p_b = binary_probs([0.9, 0.1]), binary_probs([0.2, 0.8])
    to_a, to_b = losses.cross_pseudo_labels(p_a, p_b)
    assert to_a.flatten().tolist() == [0, 1] and to_b.flatten().tolist() == [1, 0]


def test_entropy_filter_drops_voxels_uncertain_for_both_nets():
    # a's entropy grows along the voxels, b's shrinks; 20th percentile of 5 values lies 0.8 of the way from the
    # smallest to the second smallest, so each net keeps exactly its most certain voxel
    p_a, p_b = binary_probs([0.99, 0.9, 0.8, 0.7, 0.5]), binary_probs([0.5, 0.7, 0.8, 0.9, 0.99])
    keep = losses.entropy_keep_mask(p_a, p_b, 20)
    assert keep.flatten().tolist() == [True, False, False, False, True]
    # on probabilities (the code took logits, defect (b)): shifting the logits changes nothing
    z_a, z_b = torch.log(p_a), torch.log(p_b)
    again = losses.entropy_keep_mask(torch.softmax(z_a + 3, 1), torch.softmax(z_b - 2, 1), 20)
    assert torch.equal(keep, again)


def test_filtered_cross_entropy_reweights_by_all_over_kept_by_hand():
    logits = torch.tensor([[[0.0, math.log(3), 5.0, -5.0], [0.0, 0.0, 0.0, 0.0]]], requires_grad=True)
    target = labels([1, 0, 1, 1])
    keep = torch.tensor([True, True, False, False])[None, None]
    # kept CEs: ln 2 and ln(4/3); mean ln(8/3)/2, times N_all / N_kept = 4 / 2
    value = losses.filtered_cross_entropy(logits, target, keep)
    assert value.item() == pytest.approx(math.log(8 / 3))
    (grad,) = torch.autograd.grad(value, logits)
    assert grad[..., :2].abs().sum() > 0 and grad[..., 2:].abs().sum() == 0, "dropped voxels get no gradient"
    assert losses.filtered_cross_entropy(logits, target, torch.zeros_like(keep)).item() == 0.0


# ------------------------------------------------------------------ KL weighting and agreement
def test_kl_weighted_pseudo_label_loss_by_hand_and_teacher_detached():
    student = torch.tensor([[[0.0, 0.0], [0.0, math.log(3)]]], requires_grad=True)  # p_s: (1/2, 1/2), (1/4, 3/4)
    teacher = torch.tensor([[[math.log(3), 0.0], [0.0, math.log(3)]]], requires_grad=True)  # (3/4, 1/4), (1/4, 3/4)
    value, mean_kl = losses.kl_weighted_pseudo_label_loss(student, teacher)
    kl0 = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    # voxel 0: teacher argmax 0, CE = ln 2, weight exp(-kl0); voxel 1: KL 0, weight 1, CE = ln(4/3)
    expected = (math.exp(-kl0) * math.log(2) + math.log(4 / 3)) / 2 + kl0 / 2
    assert value.item() == pytest.approx(expected, rel=1e-6)
    assert mean_kl.item() == pytest.approx(kl0 / 2, rel=1e-6)
    value.backward()
    assert student.grad.abs().sum() > 0
    assert teacher.grad is None, "the teacher of the KL term gets no gradient"


def test_cosine_disagreement_by_hand_and_gradient_to_both():
    a = torch.tensor([[[1.0, 0.6, 0.5], [0.0, 0.8, 0.5]]], requires_grad=True)
    b = torch.tensor([[[0.0, 0.8, 0.5], [1.0, 0.6, 0.5]]], requires_grad=True)
    # voxel 0: orthogonal -> 1; voxel 1: cos = 0.96 -> 0.04; voxel 2: equal -> 0
    value = losses.cosine_disagreement(a, b)
    assert value.item() == pytest.approx((1 + 0.04 + 0) / 3, abs=1e-6)
    value.backward()
    assert a.grad.abs().sum() > 0 and b.grad.abs().sum() > 0


# ------------------------------------------------------------------ prototype contrast
def contrast_setup(candidate_feature):
    """4 voxels, 2-d features: reliable class 0 at e0, reliable class 1 at e1, one uncertain candidate of class 1."""
    feats = torch.tensor([[[1.0, 0.0, candidate_feature[0], 0.0], [0.0, 1.0, candidate_feature[1], 0.0]]],
                         requires_grad=True)  # (B=1, F=2, V=4)
    reliable_labels = labels([0, 1, 1, 0])
    reliable = torch.tensor([True, True, False, False])[None, None]
    index, classes = torch.tensor([2]), torch.tensor([1])
    return feats, reliable_labels, reliable, index, classes


def test_infonce_contrast_by_hand():
    feats, y, reliable, index, classes = contrast_setup((1.0, 0.0))  # the candidate sits on the WRONG prototype
    value = losses.prototype_contrast(feats, y, reliable, index, classes, 2, "infonce", temperature=1.0)
    # logits r.P = (1, 0) against own class 1: -log(e^0 / (e^1 + e^0)) = log(1 + e)
    assert value.item() == pytest.approx(math.log(1 + math.e), rel=1e-6)


def test_margin_contrast_by_hand():
    feats, y, reliable, index, classes = contrast_setup((1.0, 0.0))
    value = losses.prototype_contrast(feats, y, reliable, index, classes, 2, "margin", margin=1.0)
    # pull: ||e0 - e1|| = sqrt 2; push: max(0, 1 - ||e0 - e0||) = 1
    assert value.item() == pytest.approx(math.sqrt(2) + 1, rel=1e-5)


@pytest.mark.parametrize("form", ["infonce", "margin"])
def test_contrast_pushes_classes_apart_not_together(form):
    """Defect (c): the code added the fg-bg prototype distance, so minimising it pulled the classes together. Here a
    candidate on its own prototype costs less than one on the other class's, and a gradient step moves a
    misplaced candidate towards its own prototype and away from the other."""
    near_own = losses.prototype_contrast(*contrast_setup((0.0, 1.0)), 2, form)
    near_other = losses.prototype_contrast(*contrast_setup((1.0, 0.0)), 2, form)
    assert near_own.item() < near_other.item()
    feats, *rest = contrast_setup((0.8, 0.6))
    (grad,) = torch.autograd.grad(losses.prototype_contrast(feats, *rest, 2, form), feats)
    moved = feats.detach()[0, :, 2] - 0.1 * grad[0, :, 2]
    before, after = feats.detach()[0, :, 2], moved
    cos = lambda v, w: float(torch.nn.functional.cosine_similarity(v, w, dim=0))
    e0, e1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    assert cos(after, e1) > cos(before, e1) and cos(after, e0) < cos(before, e0)
    assert grad[0, :, :2].abs().sum() == 0, "prototypes are detached targets by default"


def test_contrast_gradient_reaches_prototype_features_when_not_detached():
    feats, *rest = contrast_setup((0.8, 0.6))
    value = losses.prototype_contrast(feats, *rest, 2, "infonce", detach_prototypes=False)
    (grad,) = torch.autograd.grad(value, feats)
    assert grad[0, :, :2].abs().sum() > 0


def test_contrast_is_undefined_without_two_prototypes():
    feats, y, _, index, classes = contrast_setup((1.0, 0.0))
    only_class_0 = torch.tensor([True, False, False, False])[None, None]
    assert losses.prototype_contrast(feats, y, only_class_0, index, classes, 2) is None


def test_candidate_sampling_counts():
    uncertain = torch.tensor([True] * 8 + [False] * 2)[None, None]
    predicted = labels([1, 1, 1, 1, 0, 0, 0, 0, 1, 0])
    index, classes = losses.sample_candidates(uncertain, predicted, 2, fraction=1.0)
    assert sorted(index.tolist()) == list(range(8)) and classes.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    # 4 uncertain foreground voxels, fraction 0.5 -> 2 of each class, all from the uncertain ones
    index, classes = losses.sample_candidates(uncertain, predicted, 2, fraction=0.5,
                                              generator=torch.Generator().manual_seed(0))
    assert classes.tolist() == [0, 0, 1, 1]
    assert all(uncertain.flatten()[i] and predicted.flatten()[i] == c for i, c in zip(index, classes))
    # the code's 1 % of 4 is 0: we keep at least one of each class
    assert len(losses.sample_candidates(uncertain, predicted, 2, fraction=0.01)[0]) == 2
