"""AUD, auxiliary decoder with factual / counterfactual views (our reconstruction of G and L_cf).

G (counterfactual generator, our choice, parameter-free): the masked blocks of an image are refilled with
the content at the same place in ANOTHER image of the batch (the spatially flipped image when the batch
holds one), so x_cf shows the same visible context with foreign content where the mask is. D3 sees the
masked image (factual: masked content removed) and x_cf (counterfactual: masked content replaced):
* L_AUD: D3(x_masked) is supervised by the corrected pseudo-label through a stop-gradient, weighted by
  the PSC reliability map;
* L_cf: the two D3 predictions are aligned (mean squared difference of class probabilities, gradient to
  both), so the auxiliary branch must segment from context and ignore what occupies the masked region.
"""
import torch

from nnunetv2_pscm.components.consistency import probability_mse


def counterfactual_donors(batch: torch.Tensor, n: int) -> torch.Tensor:
    """For the first n images of a batch, another image of the batch (the spatially flipped image itself when
    the batch holds only one)."""
    if batch.shape[0] > 1:
        return torch.roll(batch, 1, dims=0)[:n]
    return torch.flip(batch[:n], dims=tuple(range(2, batch.ndim)))


def counterfactual_fill(images: torch.Tensor, mask: torch.Tensor, donors: torch.Tensor = None) -> torch.Tensor:
    """x_cf: the visible context of `images`, the donors' content where the mask is."""
    donors = counterfactual_donors(images, images.shape[0]) if donors is None else donors
    return images * (1 - mask) + donors * mask


def counterfactual_alignment(logits_masked: torch.Tensor, logits_counterfactual: torch.Tensor) -> torch.Tensor:
    # probability_mse detaches its second argument; align symmetrically so both views are pulled together
    return 0.5 * (probability_mse(logits_masked, logits_counterfactual)
                  + probability_mse(logits_counterfactual, logits_masked))
