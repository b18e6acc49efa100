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
