"""Class prototypes by masked average pooling (MAP) and a running prototype bank."""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from nnunetv2_pscm.components.boundary import one_hot


def masked_average_pool(features: torch.Tensor, mask: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """P = sum_v F(v) M(v) / sum_v M(v), pooled over the whole batch. features (B, F, ...), mask (B, 1, ...)."""
    weighted = (features * mask).sum(dim=(0, *range(2, features.ndim)))
    return weighted / (mask.sum() + eps)


def class_prototypes(features: torch.Tensor, labels: torch.Tensor, num_classes: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """(C, F) prototypes of every class present in `labels`, and a (C,) flag of the classes present."""
    onehot = one_hot(labels, num_classes)  # (B, C, ...)
    flat_f = features.flatten(2)  # (B, F, V)
    flat_m = onehot.flatten(2)  # (B, C, V)
    sums = torch.einsum("bfv,bcv->cf", flat_f, flat_m)
    counts = flat_m.sum(dim=(0, 2))
    present = counts > 0
    return sums / counts.clamp_min(1).unsqueeze(1), present


def soft_class_prototypes(features: torch.Tensor, class_weights: torch.Tensor,
                          eps: float = 1e-6) -> Tuple[torch.Tensor, torch.Tensor]:
    """DuCiSC's MAP: per sample, P_c = sum_v F(v) w_c(v) / sum_v w_c(v) with hard (one-hot) or soft class weights,
    then the mean over the samples in which class c occurs. features (B, F, ...), class_weights (B, C, ...) at the
    features' resolution. Returns (C, F) prototypes and a (C,) flag of the classes that occur at all (an absent class
    gets a zero row, never NaN)."""
    f = features.flatten(2).float()
    w = class_weights.flatten(2).to(f.dtype)
    sums = torch.einsum("bfv,bcv->bcf", f, w)
    mass = w.sum(2)  # (B, C)
    occurs = mass > eps
    per_sample = sums / mass.clamp_min(eps).unsqueeze(2)
    count = occurs.sum(0)
    prototypes = (per_sample * occurs.unsqueeze(2)).sum(0) / count.clamp_min(1).unsqueeze(1)
    return prototypes, count > 0


def prototype_alignment_mse(a: torch.Tensor, present_a: torch.Tensor, b: torch.Tensor,
                            present_b: torch.Tensor) -> Optional[torch.Tensor]:
    """Mean squared difference of two (C, F) prototype sets over the classes present in both; None when no class
    is (the term is then skipped, as DuCiSC skips its NaN prototype terms)."""
    both = present_a & present_b
    if not bool(both.any()):
        return None
    return F.mse_loss(a[both], b[both])


class PrototypeBank(nn.Module):
    """EMA of class prototypes computed on labeled data. Buffers, so they are checkpointed with the module."""

    def __init__(self, num_classes: int, num_features: int, momentum: float = 0.9):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("prototypes", torch.zeros(num_classes, num_features))
        self.register_buffer("initialized", torch.zeros(num_classes, dtype=torch.bool))

    @torch.no_grad()
    def update(self, prototypes: torch.Tensor, present: torch.Tensor) -> None:
        first = present & ~self.initialized
        later = present & self.initialized
        self.prototypes[first] = prototypes[first].to(self.prototypes.dtype)
        self.prototypes[later] = (self.momentum * self.prototypes[later]
                                  + (1 - self.momentum) * prototypes[later].to(self.prototypes.dtype))
        self.initialized |= present

    @property
    def ready(self) -> bool:
        return bool(self.initialized.all())

    def cosine_similarity(self, features: torch.Tensor) -> torch.Tensor:
        """(B, F, ...) -> (B, C, ...) cosine similarity of every voxel's feature to every prototype."""
        f = F.normalize(features.float(), dim=1)
        p = F.normalize(self.prototypes.float(), dim=1)
        return torch.einsum("bf...,cf->bc...", f, p)
