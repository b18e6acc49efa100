import pytest
import torch

from nnunetv2_pscm.components.masking import block_topk_mask, random_block_mask


def test_top_blocks_are_masked_and_budget_is_exact():
    scores = torch.zeros(1, 1, 4, 4)
    scores[0, 0, :2, :2] = 5.0  # the top-left 2x2 block scores highest
    mask = block_topk_mask(scores, (4, 4), block_size=2, ratio=0.25)
    expected = torch.zeros(4, 4)
    expected[:2, :2] = 1
    assert torch.equal(mask[0, 0], expected)


@pytest.mark.parametrize("ratio", [0.1, 0.4, 0.75])
def test_budget_respected_in_3d(ratio):
    mask = block_topk_mask(torch.rand(3, 1, 8, 8, 8), (32, 32, 32), block_size=8, ratio=ratio)
    n_blocks = 64
    k = round(ratio * n_blocks)
    assert mask.shape == (3, 1, 32, 32, 32)
    assert torch.allclose(mask.mean(dim=(1, 2, 3, 4)), torch.full((3,), k / n_blocks))
    assert set(mask.unique().tolist()) <= {0.0, 1.0}


def test_straight_through_gradient_reaches_the_scores():
    scores = torch.rand(1, 1, 4, 4, requires_grad=True)
    mask = block_topk_mask(scores, (4, 4), block_size=2, ratio=0.5)
    (mask * torch.arange(16.0).view(1, 1, 4, 4)).sum().backward()
    # each block score gets the summed upstream gradient of its block / 4 (average pooling of 4 voxels)
    block_grad = torch.tensor([[0 + 1 + 4 + 5, 2 + 3 + 6 + 7], [8 + 9 + 12 + 13, 10 + 11 + 14 + 15]]) / 4
    assert torch.allclose(scores.grad[0, 0], block_grad.repeat_interleave(2, 0).repeat_interleave(2, 1))


def test_random_block_mask_budget():
    mask = random_block_mask(2, (16, 16), 4, 0.5)
    assert torch.allclose(mask.mean(dim=(1, 2, 3)), torch.full((2,), 0.5))
