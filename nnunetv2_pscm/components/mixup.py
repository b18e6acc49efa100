"""Mixup-style fusion of two batches (DuCiSC's fused image): a voxel-wise linear blend of sample i of one batch with
sample i of the other, one weight per pair. Applied with the same weights to images and to one-hot labels it gives
the fused image and its soft label. It is not copy-paste: every voxel is a mixture."""
from typing import Optional

import torch


def sample_blend_weights(n: int, low: float = 0.25, high: float = 0.75, device=None,
                         generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """(n,) weights drawn from U(low, high), one per pair (DuCiSC: U(0.25, 0.75))."""
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"blend weights must satisfy 0 <= low <= high <= 1, got low={low}, high={high}")
    u = torch.rand(n, generator=generator, device=None if generator is not None else device)
    return (low + (high - low) * u).to(device)


def linear_blend(a: torch.Tensor, b: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """weights[i] * a[i] + (1 - weights[i]) * b[i]; a and b (B, C, ...), weights (B,)."""
    if a.shape != b.shape or weights.shape != (a.shape[0],):
        raise ValueError(f"linear_blend needs a, b of one shape and one weight per sample; got {tuple(a.shape)}, "
                         f"{tuple(b.shape)} and weights {tuple(weights.shape)}")
    w = weights.to(a.dtype).view(-1, *([1] * (a.ndim - 1)))
    return w * a + (1 - w) * b
