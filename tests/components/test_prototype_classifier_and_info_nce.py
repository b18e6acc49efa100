"""Cosine prototype classifier, prototype diversity and InfoNCE against given keys, on tensors small enough to check
by hand."""
import math

import pytest
import torch

from nnunetv2_pscm.components.contrastive import info_nce
from nnunetv2_pscm.components.prototype_classifier import (cosine_prototype_scores, prototype_classifier_loss,
                                                           prototype_cosine_similarity, prototype_diversity)

# two classes, two prototypes each, in 2-D feature space
PROTOTYPES = torch.tensor([[[1.0, 0.0], [0.0, -1.0]],   # class 0: +x, -y
                           [[1.0, 1.0], [0.0, 1.0]]])   # class 1: the diagonal, +y
FEATURES = torch.tensor([[[1.0, 0.0], [0.0, 2.0]]])     # (B=1, D=2, V=2): voxel 0 = +x, voxel 1 = 2 * (+y)


def test_scores_are_the_max_cosine_over_a_class_prototypes_over_t():
    scores = cosine_prototype_scores(FEATURES, PROTOTYPES, temperature=0.5)  # (1, C=2, V=2)
    # voxel 0: class 0 max(cos(+x, +x), cos(+x, -y)) = 1; class 1 max(1/sqrt2, 0); voxel 1 (norm ignored): 0 and 1
    expected = torch.tensor([[[1.0, 0.0], [1 / math.sqrt(2), 1.0]]]) / 0.5
    torch.testing.assert_close(scores, expected)


def test_classifier_loss_by_hand():
    labels = torch.tensor([[[0, 1]]])
    loss = prototype_classifier_loss(FEATURES, labels, PROTOTYPES, temperature=0.5)
    # CE = log(1 + exp(s_other - s_own)): voxel 0: 2 vs sqrt2; voxel 1: 2 vs 0
    expected = (math.log(1 + math.exp(math.sqrt(2) - 2)) + math.log(1 + math.exp(-2.0))) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_per_sample_prototypes_and_spatial_shapes():
    features = torch.randn(2, 3, 4, 5, 6)
    assert prototype_cosine_similarity(features, torch.randn(3, 4, 3)).shape == (2, 3, 4, 4, 5, 6)
    assert prototype_cosine_similarity(features, torch.randn(2, 3, 4, 3)).shape == (2, 3, 4, 4, 5, 6)
    assert cosine_prototype_scores(features[..., 0], torch.randn(2, 1, 3), 0.1).shape == (2, 2, 4, 5)
    with pytest.raises(ValueError, match="prototypes must be"):
        prototype_cosine_similarity(features, torch.randn(3, 3, 4, 3))


def test_diversity_counts_only_positive_cosines_between_a_class_prototypes():
    s = 1 / math.sqrt(2)
    prototypes = torch.tensor([[[1.0, 0.0], [s, s], [-1.0, 0.0]]])  # one class, K = 3
    # ordered off-diagonal pairs: cos(p0, p1) = cos(p1, p0) = 1/sqrt2; p2 is opposite or at 135 deg: clamped to 0
    assert prototype_diversity(prototypes).item() == pytest.approx(2 * s / 6, rel=1e-6)
    assert prototype_diversity(torch.randn(3, 1, 4)).item() == 0.0
    identical = torch.ones(2, 4, 3)
    assert prototype_diversity(identical).item() == pytest.approx(1.0)


def test_diversity_gradient_pushes_prototypes_apart():
    prototypes = torch.tensor([[[1.0, 0.1], [1.0, -0.1]]], requires_grad=True)
    prototype_diversity(prototypes).backward()
    # descending the gradient rotates the two towards +y and -y respectively
    assert prototypes.grad[0, 0, 1] < 0 < prototypes.grad[0, 1, 1]


def test_info_nce_by_hand_with_shared_and_per_anchor_keys():
    anchors = torch.tensor([[1.0, 0.0], [0.0, 3.0]], requires_grad=True)
    keys = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    positive = torch.tensor([0, 0])
    # anchor 0: cosines (1, 0), own first; anchor 1: cosines (0, 1), own first. T = 1.
    expected = (math.log(1 + math.exp(-1.0)) + math.log(1 + math.exp(1.0))) / 2
    loss = info_nce(anchors, keys, positive, temperature=1.0)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    per_anchor = info_nce(anchors, keys.expand(2, 2, 2), positive, temperature=1.0)
    assert per_anchor.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    assert anchors.grad.abs().sum() > 0


def test_info_nce_without_anchors_is_none_not_nan():
    assert info_nce(torch.zeros(0, 2), torch.randn(3, 2), torch.zeros(0, dtype=torch.long), 0.1) is None
