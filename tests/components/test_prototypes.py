import pytest
import torch

from nnunetv2_pscm.components.prototypes import PrototypeBank, class_prototypes, masked_average_pool


def test_masked_average_pool_by_hand():
    features = torch.tensor([[[1.0, 3.0, 5.0]], [[7.0, 9.0, 11.0]]])  # (B=2, F=1, V=3)
    mask = torch.tensor([[[1.0, 1.0, 0.0]], [[0.0, 0.0, 1.0]]])
    assert masked_average_pool(features, mask).item() == pytest.approx((1 + 3 + 11) / 3)


def test_class_prototypes_by_hand():
    features = torch.tensor([[[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 1.0, 1.0]]])  # (1, F=2, 4)
    labels = torch.tensor([[[0, 0, 1, 1]]])
    protos, present = class_prototypes(features, labels, 3)
    assert protos[0].tolist() == [1.5, 0.0] and protos[1].tolist() == [3.5, 1.0]
    assert present.tolist() == [True, True, False]


def test_bank_copies_first_then_averages():
    bank = PrototypeBank(2, 1, momentum=0.9)
    bank.update(torch.tensor([[1.0], [5.0]]), torch.tensor([True, False]))
    assert bank.prototypes.flatten().tolist() == [1.0, 0.0] and not bank.ready
    bank.update(torch.tensor([[2.0], [5.0]]), torch.tensor([True, True]))
    assert bank.prototypes.flatten().tolist() == pytest.approx([1.1, 5.0]) and bank.ready


def test_cosine_similarity_shape_and_values():
    bank = PrototypeBank(2, 2)
    bank.update(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([True, True]))
    features = torch.tensor([[[3.0], [0.0]]])  # one voxel along the first axis
    assert bank.cosine_similarity(features).flatten().tolist() == pytest.approx([1.0, 0.0])
