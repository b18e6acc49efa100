"""DuCiSC's pixel consistency terms (one output scale) and how its terms are combined.

Pixel consistency, as the released code computes it per scale: 1/2 (CE + soft Dice) restricted to the certain voxels,
against the teacher's hard pseudo-labels (unlabeled image) or against the blended soft label (fused image). The Dice
is nnU-Net's convention (foreground classes, per sample, smoothing 1e-5) where the code has one binary foreground
Dice over the batch with 1e-8; for two classes on one sample they agree up to the smoothing."""
import math
from typing import Dict, Optional, Tuple

import torch

from nnunetv2_pscm.components.weighted_losses import (masked_mean_cross_entropy, masked_soft_cross_entropy,
                                                      weighted_soft_dice_loss, weighted_soft_dice_loss_soft_target)


def hard_pixel_consistency(logits: torch.Tensor, pseudo_labels: torch.Tensor, certain: torch.Tensor) -> torch.Tensor:
    """1/2 (CE + soft Dice) of the student on the teacher's labels, over the certain voxels only."""
    return 0.5 * (masked_mean_cross_entropy(logits, pseudo_labels, certain)
                  + weighted_soft_dice_loss(logits, pseudo_labels, certain))


def soft_pixel_consistency(logits: torch.Tensor, soft_target: torch.Tensor, certain: torch.Tensor) -> torch.Tensor:
    """1/2 (soft CE + soft Dice) of the student on a soft (B, C, ...) target, over the certain voxels only."""
    return 0.5 * (masked_soft_cross_entropy(logits, soft_target, certain)
                  + weighted_soft_dice_loss_soft_target(logits, soft_target, certain))


def usable(term: Optional[torch.Tensor]) -> bool:
    """The code skips a term that is NaN or exactly 0 (an absent class, an empty mask); reads the value (a device
    synchronisation), so only the self-normalised mode, which divides by it, asks."""
    if term is None:
        return False
    value = float(term.detach())
    return math.isfinite(value) and value != 0.0


def combine_losses(loss_sup: torch.Tensor, weighted_terms: Dict[str, Tuple[float, Optional[torch.Tensor]]],
                   self_normalize: bool) -> torch.Tensor:
    """Plain weighted sum L_sup + sum_k w_k L_k (the paper's notation), or the released code's self-normalised
    L_sup / sg(L_sup + 1) + sum_k w_k L_k / sg(L_k), under which every term pulls with gradient w_k grad(L_k) / L_k.

    The +1: nnU-Net's Dice+CE is CE - Dice (Dice as a negative number, deep-supervision weights summing to 1), so it
    crosses zero during training and dividing by it would flip or explode the gradient; CE + (1 - Dice) >= 0 is the
    code's own L_sup form. Unusable terms (None; NaN or 0 when self-normalising) are left out."""
    total = loss_sup / (loss_sup.detach() + 1.0) if self_normalize else loss_sup
    for weight, term in weighted_terms.values():
        if weight == 0 or term is None or (self_normalize and not usable(term)):
            continue
        total = total + weight * (term / term.detach() if self_normalize else term)
    return total
