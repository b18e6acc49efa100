"""Bidirectional copy-paste (BCP, Bai et al. CVPR 2023) between labeled and unlabeled patches.

One cuboid (side = `ratio` x each patch side, random position) is shared by the batch. For each
labeled/unlabeled pair, either the unlabeled cuboid is pasted into the labeled patch
("unlabeled inside") or the labeled cuboid into the unlabeled patch. The mixed label takes the ground
truth where the labeled image shows and the pseudo-label where the unlabeled image shows. The two regions
come back as separate voxel maps (ground truth 1; pseudo-label = its reliability), so a loss can normalise
each by its own size the way BCP's `mix_loss` does (`region_normalised_ce_dice`).
"""
from typing import Optional, Sequence, Tuple

import torch


def random_cuboid_mask(spatial_shape: Sequence[int], ratio: float = 2 / 3, device=None,
                       generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """(1, 1, *spatial_shape) float mask, 1 inside one random cuboid."""
    mask = torch.zeros(1, 1, *spatial_shape, device=device)
    index = [slice(None), slice(None)]
    for s in spatial_shape:
        size = max(1, round(s * ratio))
        start = int(torch.randint(0, s - size + 1, (1,), generator=generator))
        index.append(slice(start, start + size))
    mask[tuple(index)] = 1.0
    return mask


def mix(inside: torch.Tensor, outside: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return inside * mask + outside * (1 - mask)


def bidirectional_copy_paste(x_l: torch.Tensor, y_l: torch.Tensor, x_u: torch.Tensor, y_u: torch.Tensor,
                             w_u: torch.Tensor, mask: torch.Tensor, unlabeled_inside: Sequence[bool]
                             ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pair i of the batches gives one mixed sample. Returns (images, labels (B, 1, ...), ground-truth region
    (B, 1, ...) 0/1, pseudo-label region (B, 1, ...) = reliability where the unlabeled image shows, else 0).

    x_*: (B, C, ...) images; y_l: ground truth, y_u: pseudo-label, (B, 1, ...) integers;
    w_u: (B, 1, ...) pseudo-label reliability in [0, 1] (0 = ignore); mask: (1 or B, 1, ...) cuboid mask."""
    n = min(x_l.shape[0], x_u.shape[0])
    inside = torch.tensor(list(unlabeled_inside[:n]), device=x_l.device, dtype=torch.bool)
    inside = inside.view(n, *([1] * (x_l.ndim - 1)))
    m = mask.expand(n, *mask.shape[1:]).bool()
    shows_unlabeled = torch.where(inside, m, ~m)  # where the unlabeled image is visible
    x = torch.where(shows_unlabeled, x_u[:n], x_l[:n])
    y = torch.where(shows_unlabeled, y_u[:n].to(y_l.dtype), y_l[:n])
    ground_truth_region = (~shows_unlabeled).float()
    pseudo_region = shows_unlabeled.float() * w_u[:n].float()
    return x, y, ground_truth_region, pseudo_region
