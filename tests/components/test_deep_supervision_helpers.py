"""The one unwrap of nnU-Net's deep-supervision outputs for its own loss (hand-checkable shapes and values)."""
import torch

from nnunetv2_pscm.components.deep_supervision import as_list, full_resolution, stock_loss_input


def test_stock_loss_input_keeps_every_scale_under_deep_supervision_and_slices_the_labeled_part():
    scales = [torch.arange(4.0).view(4, 1, 1), torch.arange(4.0, 8.0).view(4, 1, 1)]
    both = stock_loss_input(scales, deep_supervision=True, first=2)
    assert [s.flatten().tolist() for s in both] == [[0.0, 1.0], [4.0, 5.0]]
    assert stock_loss_input(scales, deep_supervision=False, first=3).flatten().tolist() == [0.0, 1.0, 2.0]
    assert stock_loss_input(scales[0], deep_supervision=False).flatten().tolist() == [0.0, 1.0, 2.0, 3.0]


def test_as_list_and_full_resolution_accept_a_tensor_or_a_list():
    t = torch.zeros(1)
    assert as_list(t) == [t] and full_resolution(t) is t and full_resolution((t, torch.ones(1))) is t
