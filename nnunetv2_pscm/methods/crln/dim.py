"""DIM, CRLN's dynamic interaction module (training-only), and the relationship map M(x) it produces.

Confirmed by the paper: "pairwise and cross-class interactions between prototypes and multi-resolution image
features" giving a "holistic relationship map" M(x) that rectifies pseudo-labels voxel-wise. The internals are OUR
RECONSTRUCTION (spec 4.3):
  1. each decoder resolution s is projected to the prototype width D by its own 1x1 linear map, and average-pooled to
     at most `tokens_per_resolution` tokens per image (keeps attention cheap on 3D patches; a linear map commutes
     with averaging, so pooling after projecting equals projecting pooled features); a learned level embedding marks
     the resolution of each token;
  2. cross-attention: the C*K prototypes are the queries, the tokens of all resolutions of ONE image the keys and
     values (so the updated prototypes are image-specific), residual + LayerNorm;
  3. self-attention among all C*K prototypes (the cross-class interaction), residual + LayerNorm, then a linear
     projection back to the prototype space;
  4. at every resolution, the cosine similarity of each voxel's projected feature to each updated prototype,
     upsampled (linear interpolation) to the output size, averaged over resolutions, max over the K prototypes of a
     class, divided by a temperature and softmaxed over classes: M(x) in [0, 1]^{C x V}.
torch.nn.MultiheadAttention does the attention."""
import math
from typing import List, NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nnunetv2_pscm.components.prototype_classifier import prototype_cosine_similarity


class Relationship(NamedTuple):
    logits: torch.Tensor  # (B, C, *output_size): max_k mean_s cos / T; M(x) = softmax over C
    class_representations: torch.Tensor  # (B, C, D): r^proto_c(x), the updated prototypes averaged over k

    @property
    def relationship_map(self) -> torch.Tensor:
        return torch.softmax(self.logits, 1)


def token_grid(spatial: Sequence[int], budget: int) -> List[int]:
    """The pooled grid for one resolution: halve the longest axis (rounding up) until at most `budget` cells remain;
    unchanged when the map is already small enough."""
    grid = list(spatial)
    while math.prod(grid) > max(1, budget) and max(grid) > 1:
        axis = grid.index(max(grid))
        grid[axis] = math.ceil(grid[axis] / 2)
    return grid


def adaptive_avg_pool(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    pool = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}[x.ndim - 2]
    return pool(x, list(size))


def upsample(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    if tuple(x.shape[2:]) == tuple(size):
        return x
    mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[x.ndim - 2]
    return F.interpolate(x, size=list(size), mode=mode, align_corners=False)


class DynamicInteractionModule(nn.Module):
    def __init__(self, in_widths: Sequence[int], dim: int, num_heads: int = 4, tokens_per_resolution: int = 256,
                 temperature: float = 0.1):
        super().__init__()
        if not in_widths:
            raise ValueError("DynamicInteractionModule needs at least one feature resolution")
        if dim % num_heads:
            raise ValueError(f"DIM width {dim} is not divisible by {num_heads} attention heads")
        self.tokens_per_resolution = tokens_per_resolution
        self.temperature = temperature
        self.projections = nn.ModuleList(nn.Linear(w, dim) for w in in_widths)
        self.level_embedding = nn.Parameter(torch.zeros(len(in_widths), dim))
        self.cross_attention = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        self.cross_norm = nn.LayerNorm(dim)
        self.self_attention = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        self.self_norm = nn.LayerNorm(dim)
        self.output_projection = nn.Linear(dim, dim)

    @property
    def num_resolutions(self) -> int:
        return len(self.projections)

    def embed(self, features: torch.Tensor, level: int) -> torch.Tensor:
        """(B, F_s, *spatial) -> (B, D, *spatial): the 1x1 linear projection of resolution `level`."""
        return self.projections[level](features.movedim(1, -1)).movedim(-1, 1)

    def embed_vectors(self, vectors: torch.Tensor, level: int) -> torch.Tensor:
        """(..., F_s) -> (..., D), the same projection on feature vectors (CPS anchors and class means)."""
        return self.projections[level](vectors)

    def update_prototypes(self, prototypes: torch.Tensor, embedded: Sequence[torch.Tensor]) -> torch.Tensor:
        """Image-specific prototypes (B, C, K, D) from the shared ones (C, K, D) and the embedded features
        (B, D, *spatial_s) of every resolution."""
        n_classes, k, dim = prototypes.shape
        batch = embedded[0].shape[0]
        tokens = [adaptive_avg_pool(e, token_grid(e.shape[2:], self.tokens_per_resolution)).flatten(2).transpose(1, 2)
                  + self.level_embedding[s] for s, e in enumerate(embedded)]
        tokens = torch.cat(tokens, 1)  # (B, T, D)
        queries = prototypes.reshape(1, n_classes * k, dim).expand(batch, -1, -1).to(tokens.dtype)
        attended, _ = self.cross_attention(queries, tokens, tokens, need_weights=False)
        queries = self.cross_norm(queries + attended)
        interacted, _ = self.self_attention(queries, queries, queries, need_weights=False)
        queries = self.self_norm(queries + interacted)
        return self.output_projection(queries).reshape(batch, n_classes, k, dim)

    def forward(self, prototypes: torch.Tensor, features: Sequence[torch.Tensor],
                output_size: Sequence[int]) -> Relationship:
        """prototypes (C, K, D); features: decoder features fine -> coarse, one per projection; output_size: the
        spatial size of M (the network's full-resolution output)."""
        if len(features) != self.num_resolutions:
            raise ValueError(f"DIM was built for {self.num_resolutions} resolutions, got {len(features)} feature maps")
        embedded = [self.embed(f, s) for s, f in enumerate(features)]
        updated = self.update_prototypes(prototypes, embedded)
        n_classes, k = prototypes.shape[:2]
        fused = 0.0
        for e in embedded:
            similarity = prototype_cosine_similarity(e, updated)  # (B, C, K, *spatial_s)
            fused = fused + upsample(similarity.flatten(1, 2), output_size)
        fused = fused / len(embedded)
        logits = fused.unflatten(1, (n_classes, k)).amax(2) / self.temperature
        return Relationship(logits, updated.mean(2))
