"""BOM, bi-level optimal mask learning (our reconstruction of what the paper leaves open).

Masks: R_phi scores voxels from teacher encoder features, confidence C(v), uncertainty U(v) and the
pseudo-label boundary B(v); `prior_strength` x (U + B) is added to its logit so that masks start on
uncertain and boundary voxels before R_phi has learned anything. The top `mask_ratio` fraction of blocks
is masked (exact budget, straight-through gradient, see components/masking.py).

The two levels, explicitly (one backward pass per iteration, single-loop first-order approximation):
* inner level, parameters theta = encoder + D1 + D2 (+ D3): DESCEND on the total loss, which contains
  the masked reconstruction loss L_BOM (and, with AUD, the losses on masked / counterfactual images),
  for the current mask;
* outer level, parameters phi = R_phi: ASCEND on those same mask-dependent losses (the mask is passed
  through a gradient-reversal layer with `adversarial_coefficient`), i.e. R_phi learns to place the
  budgeted mask where reconstructing and segmenting are hardest for the current network.
Both gradients come from the same backward; the optimizer of theta (nnU-Net's SGD) steps first, then
the optimizer of phi (Adam), at every iteration.
"""
import torch

from nnunetv2_pscm.components.gradient_reversal import reverse_gradient
from nnunetv2_pscm.components.masking import block_topk_mask


def learned_mask(mask_generator, features: torch.Tensor, confidence: torch.Tensor, uncertainty: torch.Tensor,
                 boundary: torch.Tensor, patch_shape, block_size: int, mask_ratio: float, prior_strength: float,
                 adversarial_coefficient: float) -> torch.Tensor:
    """(B, 1, *patch_shape) binary mask; its gradient reaches R_phi reversed (outer level ascends)."""
    logits = mask_generator(features, confidence, uncertainty, boundary)
    size = logits.shape[2:]
    pool = torch.nn.functional.adaptive_avg_pool3d if logits.ndim == 5 else torch.nn.functional.adaptive_avg_pool2d
    prior = pool(uncertainty, size) + pool(boundary, size)
    scores = torch.sigmoid(logits + prior_strength * prior)
    mask = block_topk_mask(scores, patch_shape, block_size, mask_ratio)
    return reverse_gradient(mask, adversarial_coefficient)


def masked_reconstruction_l1(image: torch.Tensor, reconstruction: torch.Tensor, mask: torch.Tensor,
                             eps: float = 1e-6) -> torch.Tensor:
    """L_BOM = sum |x - x_hat| M / (sum M x channels): L1 on masked voxels only, per masked volume (PICK)."""
    error = (image - reconstruction.float()).abs() * mask
    return error.sum() / (mask.sum() * image.shape[1] + eps)
