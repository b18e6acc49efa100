"""CRLN's learnable class prototypes: an nn.Parameter (C, K, D) trained on labeled voxels. Kept in an extra module so
it is optimised with the network, saved under `ssl_state` and never exported."""
import torch
from torch import nn

from nnunetv2_pscm.components.prototype_classifier import (prototype_classifier_loss, prototype_diversity,
                                                           cosine_prototype_scores)


class LearnablePrototypes(nn.Module):
    def __init__(self, num_classes: int, prototypes_per_class: int, dim: int):
        super().__init__()
        if num_classes < 2 or prototypes_per_class < 1 or dim < 1:
            raise ValueError(f"LearnablePrototypes needs >= 2 classes, >= 1 prototype per class and a width >= 1; got "
                             f"{num_classes}, {prototypes_per_class}, {dim}")
        # random directions: only the direction matters (cosine), and random directions start the K prototypes of a
        # class apart, which the diversity term then keeps
        self.prototypes = nn.Parameter(torch.randn(num_classes, prototypes_per_class, dim))

    def forward(self) -> torch.Tensor:
        return self.prototypes

    def scores(self, features: torch.Tensor, temperature: float) -> torch.Tensor:
        """(B, C, *spatial) logits max_k cos(z, pi_ck) / T of features (B, D, *spatial)."""
        return cosine_prototype_scores(features, self.prototypes, temperature)

    def classifier_loss(self, features: torch.Tensor, labels: torch.Tensor, temperature: float) -> torch.Tensor:
        return prototype_classifier_loss(features, labels, self.prototypes, temperature)

    def diversity(self) -> torch.Tensor:
        return prototype_diversity(self.prototypes)
