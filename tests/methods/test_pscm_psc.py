"""PSC on tiny hand-made label maps and features."""
import numpy as np
import pytest
import torch

from nnunetv2_pscm.components.prototypes import PrototypeBank
from nnunetv2_pscm.methods.pscm.psc import StructureStatistics, relative_component_sizes, self_correct

FG, BG = [1.0, 0.0], [0.0, 1.0]


def bank_fg_bg():
    bank = PrototypeBank(2, 2)
    bank.update(torch.tensor([BG, FG]), torch.tensor([True, True]))  # class 0 = background, class 1 = foreground
    return bank


def scene():
    """8x8: a 4x4 foreground square (16 voxels) and one isolated foreground voxel; features say 'foreground'
    on both, 'background' elsewhere."""
    label = torch.zeros(1, 1, 8, 8, dtype=torch.long)
    label[0, 0, 1:5, 1:5] = 1
    label[0, 0, 7, 7] = 1
    features = torch.tensor(BG).view(1, 2, 1, 1).repeat(1, 1, 8, 8)
    features[0, :, 1:5, 1:5] = torch.tensor(FG).view(2, 1, 1)
    features[0, :, 7, 7] = torch.tensor(FG)
    return label, features


def test_relative_component_sizes():
    mask = np.zeros((6, 6), bool)
    mask[:2, :2] = True  # 4 voxels
    mask[5, 5] = True  # 1 voxel
    _, rel = relative_component_sizes(mask)
    assert sorted(rel[1:].tolist()) == [0.25, 1.0]


def test_small_component_is_relabelled_background():
    label, features = scene()
    corrected, weight, stats = self_correct(label, features, bank_fg_bg(), torch.tensor([0.0, 0.5]))
    assert corrected[0, 0, 7, 7] == 0 and corrected[0, 0, 1:5, 1:5].eq(1).all()
    assert corrected.sum() == 16
    # the removed voxel now agrees with the label? no: its features say foreground -> down-weighted, not ignored
    assert weight[0, 0, 7, 7] == pytest.approx(0.5)
    assert weight[0, 0, 1:5, 1:5].eq(1).all()
    assert stats["psc_changed_fraction"].item() == pytest.approx(1 / 64)


def test_component_that_looks_like_background_is_ignored():
    label, features = scene()
    features[0, :, 1:5, 1:5] = torch.tensor(BG).view(2, 1, 1)  # the big component has background appearance
    corrected, weight, _ = self_correct(label, features, bank_fg_bg(), torch.tensor([0.0, 0.0]))
    assert corrected.equal(label)  # no size rule (floor 0): labels kept
    assert weight[0, 0, 1:5, 1:5].eq(0).all()  # but ignored
    assert weight[0, 0, 7, 7] == 1.0  # the small one looks like foreground: kept at full weight


def test_voxels_disagreeing_with_prototypes_are_down_weighted():
    label, features = scene()
    features[0, :, 0, 7] = torch.tensor(FG)  # a background-labelled voxel with foreground appearance
    _, weight, _ = self_correct(label, features, bank_fg_bg(), torch.tensor([0.0, 0.0]), disagreement_weight=0.25)
    assert weight[0, 0, 0, 7] == pytest.approx(0.25)
    assert weight.sum() == pytest.approx(63 + 0.25)


def test_nothing_happens_before_every_class_has_a_prototype():
    label, features = scene()
    bank = PrototypeBank(2, 2)
    bank.update(torch.tensor([BG, FG]), torch.tensor([True, False]))
    corrected, weight, _ = self_correct(label, features, bank, torch.tensor([0.0, 0.9]))
    assert corrected.equal(label) and weight.eq(1).all()


def test_structure_statistics_floor_from_labeled_components():
    stats = StructureStatistics(2, capacity=10)
    single = np.zeros((2, 6, 6), np.int64)
    single[:, 1:4, 1:4] = 1
    stats.update(single)  # two samples with one component each: relative sizes 1, 1
    assert stats.size_floor(quantile=0.05, tolerance=0.5).tolist() == [0.0, 0.5]
    two = np.zeros((1, 6, 6), np.int64)
    two[0, :2, :2] = 1  # 4 voxels
    two[0, 5, 5] = 1  # 1 voxel -> relative 0.25
    stats.update(two)
    sizes = torch.tensor([1.0, 1.0, 1.0, 0.25])
    assert stats.size_floor(0.05, 0.5)[1].item() == pytest.approx(0.5 * torch.quantile(sizes, 0.05).item())


def test_unseen_class_is_never_filtered():
    assert StructureStatistics(3).size_floor(0.05, 0.5).tolist() == [0.0, 0.0, 0.0]
