"""CRLN's pieces on hand-made tensors: DIM shapes and M(x), learnable prototypes, rectification flipping a wrong
voxel, CPS positives / negatives / loss by hand, the empty-class fallback, and where gradient may flow."""
import math

import pytest
import torch

from nnunetv2_pscm.methods.crln.cps import (class_means_of_confident_voxels, cooperative_positive_supervision,
                                            gather_voxel_features, positive_representations, sample_voxels)
from nnunetv2_pscm.methods.crln.dim import DynamicInteractionModule, token_grid
from nnunetv2_pscm.methods.crln.prototypes import LearnablePrototypes
from nnunetv2_pscm.methods.crln.rectification import rectify

S = 1 / math.sqrt(2)


# ---------------------------------------------------------------- DIM and M(x)
@pytest.mark.parametrize("spatial", [(16, 12), (8, 8, 6)], ids=["2d", "3d"])
def test_dim_map_is_a_distribution_over_classes_at_the_output_size(spatial):
    torch.manual_seed(0)
    widths, n_classes, k, dim = (8, 16, 32), 3, 4, 8
    features = [torch.randn(2, w, *[max(1, n // 2 ** s) for n in spatial]) for s, w in enumerate(widths)]
    module = DynamicInteractionModule(widths, dim, num_heads=4, tokens_per_resolution=10, temperature=0.1)
    relation = module(torch.randn(n_classes, k, dim), features, spatial)
    m = relation.relationship_map
    assert m.shape == (2, n_classes, *spatial) and relation.class_representations.shape == (2, n_classes, dim)
    assert (m >= 0).all() and (m <= 1).all()
    torch.testing.assert_close(m.sum(1), torch.ones(2, *spatial))


def test_dim_prototypes_are_image_specific():
    torch.manual_seed(0)
    module = DynamicInteractionModule((4,), 4, num_heads=2, tokens_per_resolution=4)
    a, b = torch.randn(1, 4, 6, 6), torch.randn(1, 4, 6, 6)
    reps = module(torch.randn(2, 2, 4), [torch.cat((a, b))], (6, 6)).class_representations
    assert not torch.allclose(reps[0], reps[1]), "cross-attention reads each image's own tokens"
    reps_a = module(torch.randn(2, 2, 4), [torch.cat((a, a))], (6, 6)).class_representations
    torch.testing.assert_close(reps_a[0], reps_a[1])


def test_token_budget_pools_the_longest_axis_first():
    assert token_grid((32, 32, 32), 256) == [4, 8, 8]  # ties: the first axis
    assert token_grid((5, 40), 64) == [5, 10]
    assert token_grid((4, 4), 256) == [4, 4], "small maps are not pooled"
    assert token_grid((3,), 0) == [1]


def test_dim_rejects_bad_configuration():
    with pytest.raises(ValueError, match="not divisible"):
        DynamicInteractionModule((8,), 6, num_heads=4)
    module = DynamicInteractionModule((8, 16), 8)
    with pytest.raises(ValueError, match="2 resolutions"):
        module(torch.randn(2, 1, 8), [torch.randn(1, 8, 4, 4)], (4, 4))


def test_dim_and_prototypes_get_gradient_from_a_loss_on_the_map():
    torch.manual_seed(0)
    prototypes = LearnablePrototypes(2, 4, 8)
    module = DynamicInteractionModule((8, 16), 8, num_heads=4, tokens_per_resolution=8)
    features = [torch.randn(1, 8, 8, 8, requires_grad=True), torch.randn(1, 16, 4, 4, requires_grad=True)]
    logits = module(prototypes(), features, (8, 8)).logits
    torch.nn.functional.cross_entropy(logits, torch.randint(0, 2, (1, 8, 8))).backward()
    assert prototypes.prototypes.grad.abs().sum() > 0 and all(f.grad.abs().sum() > 0 for f in features)
    for name, p in module.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


# ---------------------------------------------------------------- learnable prototypes
def test_learnable_prototypes_shape_classifier_and_diversity():
    bank = LearnablePrototypes(3, 4, 8)
    assert bank.prototypes.shape == (3, 4, 8) and bank.prototypes.requires_grad
    features = torch.randn(2, 8, 5, 5)
    assert bank.scores(features, 0.1).shape == (2, 3, 5, 5)
    loss = bank.classifier_loss(features, torch.randint(0, 3, (2, 1, 5, 5)), 0.1) + bank.diversity()
    loss.backward()
    assert bank.prototypes.grad.abs().sum() > 0
    with pytest.raises(ValueError):
        LearnablePrototypes(1, 4, 8)


# ---------------------------------------------------------------- rectification
def two_voxels(values):
    """(B=1, C=2, V=2) from [[class 0 of voxel 0, of voxel 1], [class 1 of voxel 0, of voxel 1]]."""
    return torch.tensor([values])


def test_product_rectification_flips_a_wrong_voxel_and_keeps_a_right_one():
    # voxel 0: truth class 1, the teacher says 0 (0.6), M says 1 (0.8); voxel 1: both say 0
    p_t = two_voxels([[0.6, 0.9], [0.4, 0.1]])
    m = two_voxels([[0.2, 0.7], [0.8, 0.3]])
    rectified = rectify(p_t, m, "product", beta=1.0)
    # voxel 0: (0.12, 0.32) / 0.44; voxel 1: (0.63, 0.03) / 0.66
    torch.testing.assert_close(rectified, two_voxels([[0.12 / 0.44, 0.63 / 0.66], [0.32 / 0.44, 0.03 / 0.66]]))
    assert rectified.argmax(1).tolist() == [[1, 0]]
    assert rectified.max(1).values.min() >= 0.65, "both voxels pass the 0.65 confidence mask"


def test_blend_and_none():
    p_t = two_voxels([[0.6, 0.9], [0.4, 0.1]])
    m = two_voxels([[0.2, 0.7], [0.8, 0.3]])
    blended = rectify(p_t, m, "blend", beta=0.5)
    torch.testing.assert_close(blended, two_voxels([[0.4, 0.8], [0.6, 0.2]]))  # voxel 0 flips, but 0.6 < 0.65
    torch.testing.assert_close(rectify(p_t, m, "none"), p_t)
    torch.testing.assert_close(rectify(p_t, m, "product", beta=0.0), p_t)
    with pytest.raises(ValueError, match="rectify mode"):
        rectify(p_t, m, "sum")


# ---------------------------------------------------------------- CPS
def test_class_means_pool_confident_voxels_over_the_batch():
    features = torch.tensor([[[1.0, 3.0, 100.0]], [[5.0, 7.0, 9.0]]])  # (B=2, F=1, V=3)
    labels = torch.tensor([[[0, 1, 1]], [[1, 1, 0]]])
    confident = torch.tensor([[[True, True, False]], [[True, True, False]]])
    means, present = class_means_of_confident_voxels(features, labels, confident, num_classes=3)
    # class 0: only 1 (9 is not confident); class 1: (3 + 5 + 7) / 3 pooled (a per-sample mean would give 4.5)
    assert means.flatten().tolist() == pytest.approx([1.0, 5.0, 0.0])
    assert present.tolist() == [True, True, False]


def test_positives_blend_unit_parts_and_fall_back_to_the_prototype_for_an_empty_class():
    reps = torch.tensor([[[2.0, 0.0], [0.0, 3.0]]])  # (B=1, C=2, D=2): class 0 along +x, class 1 along +y
    means = torch.tensor([[0.0, 5.0], [0.0, 0.0]])  # class 0's confident voxels point +y; class 1 has none
    positives = positive_representations(reps, means, torch.tensor([True, False]), gamma=0.5)
    torch.testing.assert_close(positives, torch.tensor([[[S, S], [0.0, 1.0]]]))
    only_proto = positive_representations(reps, means, torch.tensor([True, False]), gamma=1.0)
    torch.testing.assert_close(only_proto, torch.tensor([[[1.0, 0.0], [0.0, 1.0]]]))


def test_cps_loss_by_hand():
    positives = torch.tensor([[[S, S], [0.0, 1.0]]])  # from the test above
    anchors = torch.tensor([[1.0, 0.0], [0.0, 2.0]], requires_grad=True)
    # anchor 0 (class 0): cosines (1/sqrt2, 0); anchor 1 (class 1): cosines (1/sqrt2, 1); T = 0.1
    loss = cooperative_positive_supervision(anchors, torch.tensor([0, 0]), torch.tensor([0, 1]), positives, 0.1)
    expected = (math.log(1 + math.exp(-S / 0.1)) + math.log(1 + math.exp((S - 1) / 0.1))) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert anchors.grad.abs().sum() > 0


def test_cps_uses_the_positives_of_the_anchor_own_image():
    positives = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]])  # image 1 swaps the classes
    anchor = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    low = cooperative_positive_supervision(anchor[:1], torch.tensor([0]), torch.tensor([0]), positives, 1.0)
    high = cooperative_positive_supervision(anchor[1:], torch.tensor([1]), torch.tensor([0]), positives, 1.0)
    assert low.item() == pytest.approx(math.log(1 + math.exp(-1.0)), rel=1e-6)
    assert high.item() == pytest.approx(math.log(1 + math.exp(1.0)), rel=1e-6)


def test_empty_classes_and_no_uncertain_voxels_are_safe():
    features = torch.randn(2, 4, 3, 3)
    nothing = torch.zeros(2, 1, 3, 3, dtype=torch.bool)
    means, present = class_means_of_confident_voxels(features, torch.zeros(2, 1, 3, 3, dtype=torch.long), nothing, 2)
    assert not present.any() and torch.isfinite(means).all()
    positives = positive_representations(torch.randn(2, 2, 4), means, present, 0.5)
    assert torch.isfinite(positives).all()
    sample, voxel = sample_voxels(nothing, 10)
    anchors = gather_voxel_features(features, sample, voxel)
    assert anchors.shape == (0, 4)
    assert cooperative_positive_supervision(anchors, sample, sample, positives, 0.1) is None
    everything = ~nothing
    sample, voxel = sample_voxels(everything, 100)
    loss = cooperative_positive_supervision(gather_voxel_features(features, sample, voxel), sample,
                                            torch.zeros_like(sample), positives, 0.1)
    assert torch.isfinite(loss)


def test_sample_voxels_caps_the_count_and_indexes_the_right_voxels():
    mask = torch.zeros(2, 1, 2, 3, dtype=torch.bool)
    mask[0, 0, 1, 2] = mask[1, 0, 0, 0] = mask[1, 0, 1, 1] = True
    sample, voxel = sample_voxels(mask, 10)
    assert sorted(zip(sample.tolist(), voxel.tolist())) == [(0, 5), (1, 0), (1, 4)]
    features = torch.arange(2 * 2 * 6, dtype=torch.float).reshape(2, 2, 2, 3)
    gathered = gather_voxel_features(features, sample, voxel)
    for (b, v), row in zip(zip(sample.tolist(), voxel.tolist()), gathered):
        assert row.tolist() == features[b].flatten(1)[:, v].tolist()
    sample, voxel = sample_voxels(mask, 2)
    assert len(sample) == 2 and all(mask[b].flatten()[v] for b, v in zip(sample.tolist(), voxel.tolist()))
