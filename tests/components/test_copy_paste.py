import torch

from nnunetv2_pscm.components.copy_paste import bidirectional_copy_paste, random_cuboid_mask


def test_cuboid_has_two_thirds_of_each_side():
    torch.manual_seed(0)
    mask = random_cuboid_mask((9, 12, 6))
    assert mask.shape == (1, 1, 9, 12, 6) and mask.sum() == 6 * 8 * 4
    nz = mask[0, 0].nonzero()
    assert (nz.max(0).values - nz.min(0).values + 1).tolist() == [6, 8, 4]


def test_labels_and_weights_of_both_directions_by_hand():
    mask = torch.tensor([[0.0, 1.0, 1.0, 0.0]]).view(1, 1, 4)
    x_l = torch.full((2, 1, 4), 1.0)
    x_u = torch.full((2, 1, 4), 2.0)
    y_l = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 1]]).view(2, 1, 4)
    y_u = torch.tensor([[2, 2, 2, 2], [2, 2, 2, 2]]).view(2, 1, 4)
    w_u = torch.tensor([[1.0, 0.5, 0.0, 1.0], [1.0, 0.5, 0.0, 1.0]]).view(2, 1, 4)
    x, y, gt, pseudo = bidirectional_copy_paste(x_l, y_l, x_u, y_u, w_u, mask, unlabeled_inside=[True, False])
    # pair 0: unlabeled cuboid pasted into the labeled patch
    assert x[0, 0].tolist() == [1, 2, 2, 1] and y[0, 0].tolist() == [1, 2, 2, 1]
    assert gt[0, 0].tolist() == [1, 0, 0, 1] and pseudo[0, 0].tolist() == [0, 0.5, 0.0, 0]
    # pair 1: labeled cuboid pasted into the unlabeled patch
    assert x[1, 0].tolist() == [2, 1, 1, 2] and y[1, 0].tolist() == [2, 1, 1, 2]
    assert gt[1, 0].tolist() == [0, 1, 1, 0] and pseudo[1, 0].tolist() == [1.0, 0, 0, 1.0]


def test_gradient_flows_to_both_images_where_they_show():
    x_l = torch.zeros(1, 1, 4, requires_grad=True)
    x_u = torch.zeros(1, 1, 4, requires_grad=True)
    mask = torch.tensor([[[1.0, 1.0, 0.0, 0.0]]])
    lab = torch.zeros(1, 1, 4, dtype=torch.long)
    x, _, _, _ = bidirectional_copy_paste(x_l, lab, x_u, lab, torch.ones(1, 1, 4), mask, [True])
    x.sum().backward()
    assert x_u.grad[0, 0].tolist() == [1, 1, 0, 0] and x_l.grad[0, 0].tolist() == [0, 0, 1, 1]
