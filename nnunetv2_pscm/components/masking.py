"""Block masks with an exact budget and a straight-through gradient (for learned masking, PSCM's BOM).

Scores (any resolution) are averaged over a grid of blocks; the top `ratio` fraction of blocks is masked
(1) and the rest kept (0). The hard top-k has no gradient, so the straight-through estimator passes the
gradient of the hard mask to the block scores unchanged: d mask / d score = 1.
Masking blocks rather than voxels matters: isolated masked voxels are trivially filled in by
interpolation, so the reconstruction task would teach nothing.
"""
import math
from typing import Sequence

import torch
import torch.nn.functional as F


def block_grid(spatial_shape: Sequence[int], block_size: int) -> list:
    return [max(1, math.ceil(s / block_size)) for s in spatial_shape]


def block_topk_mask(scores: torch.Tensor, output_shape: Sequence[int], block_size: int, ratio: float) -> torch.Tensor:
    """scores (B, 1, ...) -> mask (B, 1, *output_shape) in {0, 1} (forward), gradient to scores (backward)."""
    if not 0 < ratio < 1:
        raise ValueError(f"mask ratio must be in (0, 1), got {ratio}")
    grid = block_grid(output_shape, block_size)
    pool = F.adaptive_avg_pool3d if len(grid) == 3 else F.adaptive_avg_pool2d
    pooled = pool(scores, grid).flatten(1)  # (B, n_blocks)
    n_blocks = pooled.shape[1]
    k = min(n_blocks - 1, max(1, round(ratio * n_blocks)))
    hard = torch.zeros_like(pooled).scatter_(1, pooled.topk(k, dim=1).indices, 1.0)
    straight_through = hard + (pooled - pooled.detach())  # exactly 0/1 forward, identity gradient
    grid_mask = straight_through.view(scores.shape[0], 1, *grid)
    return F.interpolate(grid_mask, size=tuple(output_shape), mode="nearest")


def random_block_mask(batch_size: int, output_shape: Sequence[int], block_size: int, ratio: float,
                      device=None) -> torch.Tensor:
    """Uniformly random blocks under the same budget (the mask of the no-BOM ablation)."""
    scores = torch.rand(batch_size, 1, *block_grid(output_shape, block_size), device=device)
    return block_topk_mask(scores, output_shape, block_size, ratio)
