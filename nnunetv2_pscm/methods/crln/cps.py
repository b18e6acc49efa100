"""CPS, cooperative positive supervision (spec 4.3; the form is our reconstruction): uncertain voxels are pulled
towards an "unassertive" positive of their pseudo-class,

    r+_c = normalize(gamma * r^proto_c(x) / |r^proto_c(x)| + (1 - gamma) * rbar_c / |rbar_c|),

r^proto_c(x) the class's DIM-updated prototypes of image x averaged over k, rbar_c the mean feature of the batch's
confident class-c voxels, and pushed from the same constructs of the other classes (InfoNCE). Both parts are unit
vectors before blending, so gamma is the share of direction each contributes whatever the feature norms."""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from nnunetv2_pscm.components.boundary import one_hot
from nnunetv2_pscm.components.contrastive import info_nce
from nnunetv2_pscm.components.prototypes import soft_class_prototypes


def sample_voxels(mask: torch.Tensor, max_count: int,
                  generator: Optional[torch.Generator] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """(sample index, flat voxel index within the sample) of the voxels a (B, 1, ...) bool mask keeps; at most
    max_count, drawn uniformly without replacement when there are more (keeps the contrast's cost bounded)."""
    flat = mask.reshape(mask.shape[0], -1)
    chosen = torch.nonzero(flat.reshape(-1)).flatten()
    if chosen.numel() > max_count:
        pick = torch.randperm(chosen.numel(), generator=generator)[:max_count].to(chosen.device)
        chosen = chosen[pick]
    n_voxels = flat.shape[1]
    return chosen // n_voxels, chosen % n_voxels


def gather_voxel_features(features: torch.Tensor, sample_index: torch.Tensor,
                          voxel_index: torch.Tensor) -> torch.Tensor:
    """(N, F) features of the given voxels of (B, F, ...), without copying the whole map."""
    return features.flatten(2)[sample_index, :, voxel_index]


def class_means_of_confident_voxels(features: torch.Tensor, labels: torch.Tensor, confident: torch.Tensor,
                                    num_classes: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """rbar_c: mean feature of the confident voxels labeled c, pooled over the whole batch. features (B, F, ...),
    labels (B, 1, ...) integer, confident (B, 1, ...) bool. Returns ((C, F), (C,) flag of the classes with at least
    one confident voxel); an absent class gets a zero row, never NaN."""
    weights = one_hot(labels, num_classes) * confident.float()  # (B, C, ...)
    # the batch as one sample: pooled over all voxels of all images
    pooled_f = features.float().transpose(0, 1).flatten(1)[None]  # (1, F, B*V)
    pooled_w = weights.transpose(0, 1).flatten(1)[None]  # (1, C, B*V)
    return soft_class_prototypes(pooled_f, pooled_w)


def positive_representations(class_representations: torch.Tensor, class_means: torch.Tensor, present: torch.Tensor,
                              gamma: float) -> torch.Tensor:
    """r+ (B, C, D), unit vectors: the gamma-blend of the unit prototype representation (B, C, D) and the unit class
    mean (C, D); a class without confident voxels (present False) falls back to the prototype alone."""
    proto = F.normalize(class_representations.float(), dim=-1)
    mean = F.normalize(class_means.float(), dim=-1).unsqueeze(0)
    blended = gamma * proto + (1.0 - gamma) * mean
    return F.normalize(torch.where(present.view(1, -1, 1), blended, proto), dim=-1)


def cooperative_positive_supervision(anchors: torch.Tensor, sample_index: torch.Tensor, classes: torch.Tensor,
                                     positives: torch.Tensor, temperature: float) -> Optional[torch.Tensor]:
    """InfoNCE of anchors (N, D) (uncertain voxels of sample sample_index[i], pseudo-class classes[i]) over the C
    positives r+ of their own image (B, C, D): the own class is the positive, the other classes the negatives.
    None without anchors."""
    return info_nce(anchors, positives[sample_index], classes, temperature)
