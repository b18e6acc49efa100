"""Consistency losses between a student prediction and a (stop-gradient) teacher prediction."""
from typing import Optional

import torch
import torch.nn.functional as F

from nnunetv2_pscm.components.weighted_losses import per_sample


def probabilities(logits: torch.Tensor, regions: bool = False) -> torch.Tensor:
    """Class probabilities from logits (B, C, ...): softmax over C, or per-channel sigmoid for
    nnU-Net's region-based training (overlapping regions, one sigmoid per region)."""
    return torch.sigmoid(logits) if regions else torch.softmax(logits, 1)


def probability_mse(student_logits: torch.Tensor, teacher_logits: torch.Tensor, regions: bool = False,
                    sample_weight: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Mean squared difference of probabilities over all elements (SSL4MIS `softmax_mse_loss` with mean
    reduction), each sample's elements scaled by its ``sample_weight`` (B,) if given. The teacher side is
    detached: gradients reach the student only."""
    p_student = probabilities(student_logits.float(), regions)
    p_teacher = probabilities(teacher_logits.detach().float(), regions)
    if sample_weight is None:
        return F.mse_loss(p_student, p_teacher)
    return (per_sample(sample_weight, p_student) * (p_student - p_teacher) ** 2).mean()


def with_clamped_noise(x: torch.Tensor, std: float, clamp: float) -> torch.Tensor:
    """x + clip(N(0, std^2), -clamp, clamp) (UA-MT's teacher input noise); std 0 returns x unchanged. With nnU-Net's
    dropout-free network this is one of the things that make an EMA teacher's view differ from the student's."""
    if std <= 0:
        return x
    return x + (torch.randn_like(x) * std).clamp(-clamp, clamp)
