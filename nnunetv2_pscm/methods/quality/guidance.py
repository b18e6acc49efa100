"""Stage 2 of QG-SSL (spec section 3.3): a frozen quality predictor used inside semi-supervised training.

Confirmed by the paper [PAPER summaries, spec 3.2]: Q is frozen while the segmenter trains; its prediction
reweights pseudo-labelled samples (PL-QW) and a differentiable quality-aware regulariser (QAR) is added. Our
reconstruction [INF], each choice named:

* `QualityGuide.score(image, mask)`: Q's predicted Dice per sample, the MEAN over foreground classes (the binned
  quantity the predictor was trained to rank), no gradient. ``mask`` is an integer label map or class probabilities.
* `QualityGuide.qar_loss(image, logits)`: mean over samples of ``1 - Q(image, softmax(logits))``; the gradient
  reaches the segmenter through the soft mask only (Q's parameters are frozen, the image is detached).
* `sample_weights(q, rule, threshold)`: PL-QW's weight per sample from ``q``; ``rule`` is ``"q"`` (w = q),
  ``"q_over_mean"`` (w = q / mean_batch(q): the host's unsupervised loss keeps its scale, only the emphasis among
  samples changes) or ``"threshold"`` (w = q where q >= threshold, else 0). The weight is detached.
* Patches smaller than the predictor's training patch (the training patch grows for tiny plans,
  `training.quality_patch_size`) are zero-padded to it, centred, image with 0 and mask with background, exactly as
  the predictor's training patches were padded where a case was smaller.
"""
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nnunetv2_pscm.methods.quality.network import QualityNet, mask_to_channels

WEIGHTING_RULES = ("q", "q_over_mean", "threshold")


def sample_weights(q: torch.Tensor, rule: str = "q_over_mean", threshold: float = 0.5) -> torch.Tensor:
    """(B,) detached PL-QW weights from (B,) predicted qualities (see the module docstring)."""
    q = q.detach().float()
    if rule == "q":
        return q
    if rule == "q_over_mean":
        return q / q.mean().clamp_min(1e-6)
    if rule == "threshold":
        return q * (q >= threshold).float()
    raise ValueError(f"quality weighting rule must be one of {WEIGHTING_RULES}, got {rule!r}")


def pad_centred(x: torch.Tensor, size: Sequence[int], value: float = 0.0) -> torch.Tensor:
    """Zero-pad the spatial axes of (B, C, *spatial) symmetrically (extra voxel at the end) up to ``size``; axes
    already at least that large are left as they are."""
    pads = []
    for s, target in reversed(list(zip(x.shape[2:], size))):
        extra = max(0, int(target) - s)
        pads += [extra // 2, extra - extra // 2]
    return F.pad(x, pads, value=value) if any(pads) else x


class QualityGuide(nn.Module):
    """A frozen QualityNet with the patch size it was trained on (see the module docstring)."""

    def __init__(self, net: QualityNet, patch_size: Sequence[int]):
        super().__init__()
        self.net = net.eval()
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.patch_size = tuple(int(s) for s in patch_size)

    def train(self, mode: bool = True):  # frozen: always in eval mode, whatever the trainer asks of its modules
        return super().train(False)

    def _inputs(self, image: torch.Tensor, mask: torch.Tensor):
        channels = mask_to_channels(mask, self.net.num_classes).float()
        if channels.shape[0] != image.shape[0] or channels.shape[2:] != image.shape[2:]:
            raise ValueError(f"mask of shape {tuple(mask.shape)} does not match image of shape {tuple(image.shape)}")
        image = pad_centred(image.detach().float(), self.patch_size)
        background = pad_centred(channels[:, :1], self.patch_size, value=1.0)
        foreground = pad_centred(channels[:, 1:], self.patch_size)
        return image, torch.cat((background, foreground), 1)

    @torch.no_grad()
    def score(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B,) predicted mean foreground Dice of ``mask`` (labels or probabilities) for ``image``."""
        return self.net(*self._inputs(image, mask)).float().mean(1)

    def qar_loss(self, image: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """mean_i (1 - Q(image_i, softmax(logits_i))), differentiable in the logits."""
        probs = torch.softmax(logits.float(), 1)
        return (1 - self.net(*self._inputs(image, probs)).float().mean(1)).mean()
