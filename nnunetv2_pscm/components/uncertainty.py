"""Voxel-wise confidence and uncertainty of a softmax prediction (B, C, ...) -> (B, 1, ...)."""
import math

import torch


def confidence(probs: torch.Tensor) -> torch.Tensor:
    """Max-class probability C(v)."""
    return probs.max(1, keepdim=True).values


def normalized_entropy(probs: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Entropy divided by log(C): 0 for a one-hot prediction, 1 for a uniform one."""
    n_classes = probs.shape[1]
    entropy = -(probs * torch.log(probs.clamp_min(eps))).sum(1, keepdim=True)
    return entropy / math.log(n_classes) if n_classes > 1 else entropy


def percentile(values: torch.Tensor, q: float) -> torch.Tensor:
    """The q-th percentile (0 <= q <= 100) of all elements, with numpy's default linear interpolation
    (U2PL's `np.percentile` on entropies): position q/100 * (N - 1) in the sorted values. Unlike torch.quantile it
    has no input-size limit (a 3D batch easily exceeds 2^24 voxels). A 0-d tensor on the values' device."""
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile needs 0 <= q <= 100, got {q}")
    flat = values.detach().reshape(-1).float()
    if flat.numel() == 0:
        raise ValueError("percentile of an empty tensor")
    position = q / 100.0 * (flat.numel() - 1)
    low, high = math.floor(position), math.ceil(position)
    v_low = flat.kthvalue(low + 1).values
    if high == low:
        return v_low
    v_high = flat.kthvalue(high + 1).values
    return v_low + (position - low) * (v_high - v_low)
