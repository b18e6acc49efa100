import numpy as np
import torch

from nnunetv2_pscm.components.pseudo_labels import (confident_pseudo_labels, keep_largest_component,
                                                    largest_component)


def test_confidence_threshold_by_hand():
    probs = torch.tensor([[[0.95, 0.6, 0.1], [0.05, 0.4, 0.9]]])  # (B=1, C=2, 3 voxels)
    labels, weight = confident_pseudo_labels(probs, 0.8)
    assert labels[0, 0].tolist() == [0, 0, 1]
    assert weight[0, 0].tolist() == [1.0, 0.0, 1.0]
    _, keep_all = confident_pseudo_labels(probs, 0.0)
    assert keep_all.sum() == 3


def test_largest_component_and_multi_class_cleanup():
    labels = torch.tensor([[1, 1, 0, 1, 0, 2, 2, 0, 2]]).view(1, 1, 9)
    mask = labels[0, 0].numpy() == 1
    assert largest_component(mask).tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 0]
    cleaned, changed = keep_largest_component(labels.view(1, 1, 1, 9), classes=[1])
    # class 1 keeps its 2-voxel component; class 2 (not listed: multi-structure) keeps both of its components
    assert cleaned.view(-1).tolist() == [1, 1, 0, 0, 0, 2, 2, 0, 2]
    assert changed == 1 / 9
    same, none_changed = keep_largest_component(labels, classes=[])
    assert torch.equal(same, labels) and none_changed == 0.0


def test_largest_component_uses_full_connectivity():
    mask = np.zeros((3, 3, 3), dtype=bool)
    mask[0, 0, 0] = mask[1, 1, 1] = True  # corner neighbours: one component with 26-connectivity
    assert largest_component(mask).sum() == 2
