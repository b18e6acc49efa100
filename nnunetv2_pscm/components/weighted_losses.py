"""Cross-entropy and soft Dice with a per-voxel weight map (reliability / region weights, 0 = ignore).

Both are normalised by the number of voxels, not by the sum of weights, so down-weighting a region
lowers its contribution instead of being renormalised away."""
import torch
import torch.nn.functional as F

from nnunetv2_pscm.components.boundary import one_hot


def weighted_cross_entropy(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """mean_v w(v) * CE(v). logits (B, C, ...), target (B, 1, ...) integer, weight (B, 1, ...)."""
    ce = F.cross_entropy(logits.float(), target[:, 0].long(), reduction="none")
    return (weight[:, 0] * ce).mean()


def weighted_soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor,
                            smooth: float = 1e-5, include_background: bool = False) -> torch.Tensor:
    """1 - mean over samples and (foreground) classes of the weighted soft Dice
    (2 sum w p y + s) / (sum w p + sum w y + s), nnU-Net's smoothing and no-background convention."""
    probs = torch.softmax(logits.float(), 1)
    onehot = one_hot(target, logits.shape[1])
    axes = tuple(range(2, logits.ndim))
    intersection = (weight * probs * onehot).sum(axes)
    denominator = (weight * probs).sum(axes) + (weight * onehot).sum(axes)
    dice = (2 * intersection + smooth) / (denominator + smooth)
    if not include_background and dice.shape[1] > 1:
        dice = dice[:, 1:]
    return 1 - dice.mean()


def weighted_ce_dice(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """nnU-Net's Dice + CE compound, voxel-weighted."""
    return weighted_cross_entropy(logits, target, weight) + weighted_soft_dice_loss(logits, target, weight)
