"""InfoNCE against given keys: each anchor has its own set of candidate keys, one of which is its positive."""
from typing import Optional

import torch
import torch.nn.functional as F


def info_nce(anchors: torch.Tensor, keys: torch.Tensor, positive_index: torch.Tensor,
             temperature: float) -> Optional[torch.Tensor]:
    """mean_i -log( exp(cos(a_i, k_{i,p_i}) / T) / sum_m exp(cos(a_i, k_{i,m}) / T) ).

    anchors (N, D); keys (M, D) shared by all anchors or (N, M, D) per anchor; positive_index (N,) into the M keys
    (the other M - 1 are the negatives). Cosine similarity, so neither side's norm matters. None when N = 0 (nothing
    to contrast; the caller skips the term instead of averaging over nothing, which would be NaN). Gradient flows to
    whatever side is not detached by the caller."""
    if anchors.shape[0] == 0:
        return None
    a = F.normalize(anchors.float(), dim=-1)
    k = F.normalize(keys.float(), dim=-1)
    logits = a @ k.T if k.ndim == 2 else torch.einsum("nd,nmd->nm", a, k)
    return F.cross_entropy(logits / temperature, positive_index.long())
