"""A cosine prototype classifier over learnable multi-prototype banks (K prototypes per class).

score_c(v) = max_k cos(z(v), pi_{c,k}) / T: a voxel belongs to the class of its nearest prototype; K > 1 lets one
class hold several appearance modes (CRLN's "multiple learnable prototypes per class", spec 4.3). Cosine, not a dot
product, so the scores do not depend on the feature norm and T alone sets how sharp the softmax is."""
import torch
import torch.nn.functional as F


def prototype_cosine_similarity(features: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    """cos(z(v), pi_{c,k}) for every voxel, class and prototype.

    features (B, D, *spatial); prototypes (C, K, D) shared by the batch or (B, C, K, D) per sample (e.g. prototypes
    updated by attention to each image). Returns (B, C, K, *spatial), float32."""
    z = F.normalize(features.float(), dim=1)
    p = F.normalize(prototypes.float(), dim=-1)
    if p.ndim == 3:
        return torch.einsum("bd...,ckd->bck...", z, p)
    if p.ndim == 4 and p.shape[0] == z.shape[0]:
        return torch.einsum("bd...,bckd->bck...", z, p)
    raise ValueError(f"prototypes must be (C, K, D) or (B, C, K, D) with B = {z.shape[0]}, got {tuple(p.shape)}")


def cosine_prototype_scores(features: torch.Tensor, prototypes: torch.Tensor, temperature: float) -> torch.Tensor:
    """(B, C, *spatial) class logits max_k cos(z(v), pi_{c,k}) / T (see prototype_cosine_similarity for shapes)."""
    return prototype_cosine_similarity(features, prototypes).amax(2) / temperature


def prototype_classifier_loss(features: torch.Tensor, labels: torch.Tensor, prototypes: torch.Tensor,
                              temperature: float) -> torch.Tensor:
    """Mean cross-entropy of the cosine prototype classifier against integer labels (B, 1, *spatial) at the
    features' resolution. Gradient reaches features and prototypes."""
    return F.cross_entropy(cosine_prototype_scores(features, prototypes, temperature), labels[:, 0].long())


def prototype_diversity(prototypes: torch.Tensor) -> torch.Tensor:
    """Mean over classes c and ordered pairs k != k' of max(0, cos(pi_{c,k}, pi_{c,k'})), prototypes (C, K, D).

    Penalises a class's prototypes for collapsing onto one direction (then K > 1 would buy nothing); prototypes
    already orthogonal or farther cost nothing, so the term does not push them to opposite sides of the class.
    0 for K = 1."""
    n_classes, k = prototypes.shape[:2]
    if k < 2:
        return prototypes.new_zeros(())
    p = F.normalize(prototypes.float(), dim=-1)
    cos = p @ p.transpose(1, 2)  # (C, K, K)
    off_diagonal = ~torch.eye(k, dtype=torch.bool, device=p.device)
    return cos[:, off_diagonal].clamp_min(0).mean()
