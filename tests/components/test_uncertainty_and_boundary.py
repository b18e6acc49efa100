import math

import pytest
import torch

from nnunetv2_pscm.components.boundary import boundary_map
from nnunetv2_pscm.components.uncertainty import confidence, normalized_entropy


def test_confidence_and_entropy_by_hand():
    probs = torch.tensor([[0.5, 1.0], [0.5, 0.0]]).view(1, 2, 2)  # voxel 0 uniform, voxel 1 certain
    assert confidence(probs).flatten().tolist() == [0.5, 1.0]
    assert normalized_entropy(probs).flatten().tolist() == pytest.approx([1.0, 0.0], abs=1e-6)
    p3 = torch.tensor([0.5, 0.25, 0.25]).view(1, 3, 1)
    expected = -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25)) / math.log(3)
    assert normalized_entropy(p3).item() == pytest.approx(expected)


def test_boundary_of_a_square_is_everything_but_its_centre():
    labels = torch.zeros(1, 1, 5, 5, dtype=torch.long)
    labels[0, 0, 1:4, 1:4] = 1
    expected = torch.ones(5, 5)
    expected[2, 2] = 0  # dilation covers the 5x5 image, erosion leaves only the centre
    assert torch.equal(boundary_map(labels, 2)[0, 0], expected)


def test_no_boundary_at_the_image_border_and_3d():
    labels = torch.ones(1, 1, 4, 4, 4, dtype=torch.long)
    assert boundary_map(labels, 2).sum() == 0
    labels[0, 0, :2] = 0  # two halves along z: boundary = the two slices touching the interface
    b = boundary_map(labels, 2)[0, 0]
    assert b[1].sum() == 16 and b[2].sum() == 16 and b[0].sum() == 0 and b[3].sum() == 0
