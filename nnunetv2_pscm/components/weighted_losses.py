"""Cross-entropy and soft Dice with a per-voxel weight map (reliability / region weights, 0 = ignore).

Both are normalised by the number of voxels, not by the sum of weights, so down-weighting a region
lowers its contribution instead of being renormalised away.

``sample_weight`` (B,), where a loss takes it, scales each sample's share of the loss (QG-SSL's per-sample
pseudo-label weights): voxel weights cannot do that for a Dice, whose ratio ignores a per-sample factor."""
from typing import Optional

import torch
import torch.nn.functional as F

from nnunetv2_pscm.components.boundary import one_hot


def weighted_cross_entropy(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """mean_v w(v) * CE(v). logits (B, C, ...), target (B, 1, ...) integer, weight (B, 1, ...)."""
    ce = F.cross_entropy(logits.float(), target[:, 0].long(), reduction="none")
    return (weight[:, 0] * ce).mean()


def per_sample(sample_weight: Optional[torch.Tensor], like: torch.Tensor) -> torch.Tensor:
    """(B,) weights reshaped to broadcast over ``like`` (B, ...); 1 when None."""
    if sample_weight is None:
        return like.new_ones(())
    return sample_weight.detach().float().view(-1, *([1] * (like.ndim - 1)))


def masked_mean_cross_entropy(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                              sample_weight: Optional[torch.Tensor] = None) -> torch.Tensor:
    """CE averaged over the voxels the mask keeps (FixMatch's loss on confident pseudo-labels): sum_v s_b m(v) CE(v)
    / sum_v m(v); 0 when the mask is empty. Unlike `weighted_cross_entropy`, few kept voxels still pull at full
    strength."""
    ce = F.cross_entropy(logits.float(), target[:, 0].long(), reduction="none")
    return (per_sample(sample_weight, ce) * mask[:, 0] * ce).sum() / mask.sum().clamp_min(1.0)


def masked_soft_cross_entropy(logits: torch.Tensor, soft_target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against a soft target, averaged over the voxels the mask keeps:
    sum_v m(v) * (-sum_c q_c(v) log p_c(v)) / sum_v m(v); 0 when the mask is empty. soft_target (B, C, ...) sums to 1
    over C (e.g. DuCiSC's blended label), mask (B, 1, ...)."""
    ce = -(soft_target.float() * torch.log_softmax(logits.float(), 1)).sum(1)
    return (mask[:, 0] * ce).sum() / mask.sum().clamp_min(1.0)


def weighted_soft_dice_loss_soft_target(logits: torch.Tensor, soft_target: torch.Tensor, weight: torch.Tensor,
                                        smooth: float = 1e-5, include_background: bool = False,
                                        sample_weight: Optional[torch.Tensor] = None,
                                        skip_empty_targets: bool = False) -> torch.Tensor:
    """`weighted_soft_dice_loss` against a soft (B, C, ...) target instead of integer labels."""
    probs = torch.softmax(logits.float(), 1)
    target = soft_target.float()
    axes = tuple(range(2, logits.ndim))
    intersection = (weight * probs * target).sum(axes)
    target_mass = (weight * target).sum(axes)
    denominator = (weight * probs).sum(axes) + target_mass
    dice = (2 * intersection + smooth) / (denominator + smooth)
    if not include_background and dice.shape[1] > 1:
        dice, target_mass = dice[:, 1:], target_mass[:, 1:]
    loss = per_sample(sample_weight, dice) * (1 - dice)
    if not skip_empty_targets:
        return loss.mean()
    present = (target_mass > 0).float()
    return (loss * present).sum() / present.sum().clamp_min(1.0)


def weighted_soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor,
                            smooth: float = 1e-5, include_background: bool = False,
                            sample_weight: Optional[torch.Tensor] = None,
                            skip_empty_targets: bool = False) -> torch.Tensor:
    """mean over samples b and (foreground) classes of s_b (1 - weighted soft Dice), the Dice being
    (2 sum w p y + s) / (sum w p + sum w y + s), nnU-Net's smoothing and no-background convention.

    skip_empty_targets: average only over the (sample, class) pairs whose weighted target is not empty (0 when none
    is). For pseudo-labels with a confidence mask an empty pair means "no voxel of this class was confident", not
    "the class is absent"; counted, it adds 1 - s / (sum w p + s), whose gradient drives the class's probability
    to 0 on every kept voxel (on the demo's 3 classes this capped Mean Teacher's hardest class below its 0.9
    threshold, README)."""
    return weighted_soft_dice_loss_soft_target(logits, one_hot(target, logits.shape[1]), weight, smooth,
                                               include_background, sample_weight, skip_empty_targets)


def weighted_ce_dice(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """nnU-Net's Dice + CE compound, voxel-weighted."""
    return weighted_cross_entropy(logits, target, weight) + weighted_soft_dice_loss(logits, target, weight)


def region_normalised_ce_dice(logits: torch.Tensor, target: torch.Tensor, regions) -> torch.Tensor:
    """BCP's `mix_loss`, generalised: sum over regions of weight_r * (CE + soft Dice) on that region, where the
    CE is normalised by the region's own (weighted) voxel count, not by the patch size.

    regions: iterable of (voxel weight map (B, 1, ...) in [0, 1], region weight) or (map, region weight, (B,)
    sample weights or None). So the ground-truth part of a copy-paste mixture contributes with weight 1 and the
    pseudo-labelled part with weight 0.5 whatever the size of the pasted cuboid (with `weighted_ce_dice` a bigger
    pseudo region would take the labeled signal away). Sample weights scale each sample's share of that region's
    CE and Dice (QG-SSL's PL-QW). An empty region contributes 0."""
    ce = F.cross_entropy(logits.float(), target[:, 0].long(), reduction="none")
    total = logits.new_zeros((), dtype=torch.float32)
    for voxel_weight, region_weight, *rest in regions:
        sample_weight = rest[0] if rest else None
        w = voxel_weight[:, 0].float()
        ce_region = (per_sample(sample_weight, w) * w * ce).sum() / w.sum().clamp_min(1e-8)
        dice_region = weighted_soft_dice_loss(logits, target, voxel_weight, sample_weight=sample_weight)
        total = total + region_weight * (ce_region + dice_region)
    return total
