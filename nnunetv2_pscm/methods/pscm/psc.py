"""PSC, pseudo-label self-correction by structural consistency with the labeled set (our reconstruction).

The paper says only that PSC "rectifies pseudo-labels by enforcing structural consistency between labeled
and unlabeled samples" (a graph of region/structure nodes in its figure). We make that concrete with two
kinds of labeled-set knowledge, both learned from ground truth only:

1. Region structure. `StructureStatistics` records, per class, the relative sizes (component volume /
   largest component volume of that class in the same patch) of the connected components of labeled
   ground-truth patches. A pseudo-label component far smaller than anything the labeled set shows
   (relative size < `size_tolerance` x the `size_quantile` quantile) is relabelled background. For a
   single-structure target (left atrium, pancreas) this recovers the largest-connected-component rule
   that BCP applies by hand; for multi-lesion targets it keeps small lesions because the labeled set
   has them too.
2. Region appearance. A `PrototypeBank` holds class prototypes (masked average pooling of teacher
   decoder features over labeled ground truth). A pseudo-label component whose own prototype is closer
   to another class's prototype than to its own class is unreliable: weight 0 (ignored). Voxels whose
   nearest prototype disagrees with the (corrected) pseudo-label keep their label at weight
   `disagreement_weight`.

Output: the corrected hard pseudo-label and a reliability weight map in [0, 1].
"""
from typing import Dict, Tuple

import numpy as np
import torch
from torch import nn

from nnunetv2_pscm.components.prototypes import PrototypeBank
from nnunetv2_pscm.components.pseudo_labels import connected_components


def relative_component_sizes(mask: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(component id map, sizes relative to the largest component; index 0 = background, unused)."""
    labels, n = connected_components(mask)
    if n == 0:
        return labels, np.zeros(1)
    sizes = np.bincount(labels.ravel(), minlength=n + 1).astype(np.float64)
    sizes[0] = 0
    return labels, sizes / sizes[1:].max()


class StructureStatistics(nn.Module):
    """Per class, the last `capacity` relative component sizes seen in labeled ground truth (ring buffer)."""

    def __init__(self, num_classes: int, capacity: int = 1000):
        super().__init__()
        self.register_buffer("sizes", torch.full((num_classes, capacity), float("nan")))
        self.register_buffer("cursor", torch.zeros(num_classes, dtype=torch.long))

    @torch.no_grad()
    def update(self, labels: np.ndarray) -> None:
        """labels: (B, ...) integer ground truth on the CPU."""
        capacity = self.sizes.shape[1]
        for sample in labels:
            for c in range(1, self.sizes.shape[0]):
                _, rel = relative_component_sizes(sample == c)
                for value in rel[1:]:
                    self.sizes[c, self.cursor[c] % capacity] = float(value)
                    self.cursor[c] += 1

    def size_floor(self, quantile: float, tolerance: float) -> torch.Tensor:
        """(C,) relative-size threshold per class; 0 (keep everything) for a class never seen labeled."""
        floors = torch.zeros(self.sizes.shape[0])
        for c in range(1, self.sizes.shape[0]):
            seen = self.sizes[c][~torch.isnan(self.sizes[c])]
            if seen.numel() > 0:
                floors[c] = tolerance * torch.quantile(seen.cpu(), quantile)
        return floors


@torch.no_grad()
def self_correct(pseudo_label: torch.Tensor, features: torch.Tensor, bank: PrototypeBank, size_floor: torch.Tensor,
                 disagreement_weight: float = 0.5) -> Tuple[torch.Tensor, torch.Tensor, Dict[str, torch.Tensor]]:
    """pseudo_label (B, 1, ...) integer, features (B, F, ...) at the same resolution.

    Returns (corrected (B, 1, ...) long, weight (B, 1, ...) float, stats)."""
    corrected = pseudo_label.clone().long()
    weight = torch.ones_like(pseudo_label, dtype=torch.float32)
    if not bank.ready:  # no labeled prototype yet for some class: nothing to compare with
        return corrected, weight, {"psc_changed_fraction": torch.zeros(()), "psc_mean_weight": torch.ones(())}

    labels_cpu = pseudo_label[:, 0].cpu().numpy()
    prototypes = nn.functional.normalize(bank.prototypes.float(), dim=1)
    for b in range(labels_cpu.shape[0]):
        flat_features = features[b].flatten(1).float()  # (F, V)
        for c in range(1, prototypes.shape[0]):
            component_ids, rel_sizes = relative_component_sizes(labels_cpu[b] == c)
            if len(rel_sizes) <= 1:
                continue
            ids = torch.from_numpy(component_ids.astype(np.int64)).to(features.device).view(-1)
            n = len(rel_sizes)
            sums = torch.zeros(n, flat_features.shape[0], device=features.device).index_add_(0, ids, flat_features.T)
            component_prototypes = nn.functional.normalize(sums[1:], dim=1)  # (n - 1, F)
            nearest_class = (component_prototypes @ prototypes.T).argmax(1)  # (n - 1,)
            too_small = torch.from_numpy(rel_sizes[1:] < float(size_floor[c])).to(features.device)
            wrong_appearance = (nearest_class != c) & ~too_small
            # per-component decisions -> voxels, through a lookup table indexed by component id (0 = not class c)
            no_change = torch.zeros(1, dtype=torch.bool, device=features.device)
            to_background = torch.cat([no_change, too_small])[ids].view(component_ids.shape)
            to_ignore = torch.cat([no_change, wrong_appearance])[ids].view(component_ids.shape)
            corrected[b, 0][to_background] = 0
            weight[b, 0][to_ignore] = 0.0
    nearest_prototype = bank.cosine_similarity(features).argmax(1, keepdim=True)
    disagree = (nearest_prototype != corrected) & (weight > 0)
    weight = torch.where(disagree, weight * disagreement_weight, weight)
    changed = (corrected != pseudo_label) | (weight == 0)
    return corrected, weight, {"psc_changed_fraction": changed.float().mean(), "psc_mean_weight": weight.mean()}
