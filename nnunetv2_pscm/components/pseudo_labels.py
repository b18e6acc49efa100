"""Hard pseudo-labels from teacher probabilities: confidence thresholding and largest-component cleanup.

Both are what BCP's LA code does to its teacher output (`get_cut_mask`: threshold, then keep the largest
connected component, `nms=1`), made explicit and multi-class."""
from typing import Iterable, Tuple

import numpy as np
import torch


def confident_pseudo_labels(probs: torch.Tensor, threshold: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """(argmax (B, 1, ...) long, weight (B, 1, ...) float): weight 0 where the top probability is below
    `threshold` (ignored by a weighted loss), 1 elsewhere. threshold <= 0 keeps every voxel."""
    top, labels = probs.max(1, keepdim=True)
    weight = (top >= threshold).float() if threshold > 0 else torch.ones_like(top)
    return labels, weight


def connected_components(mask: np.ndarray) -> Tuple[np.ndarray, int]:
    """Full-connectivity components (26 in 3D, 8 in 2D and 1D) of a boolean array: (id map, count); cc3d is an
    nnU-Net dependency."""
    import cc3d

    array = mask.astype(np.uint8)
    flat = array.ndim == 1  # cc3d has no 1D mode
    labels, n = cc3d.connected_components(array[None] if flat else array,
                                          connectivity=26 if array.ndim == 3 else 8, return_N=True)
    return (labels[0] if flat else labels), int(n)


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest connected component (full connectivity) of a boolean array; empty stays empty."""
    labels, n = connected_components(mask)
    if n <= 1:
        return mask.astype(bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == sizes.argmax()


@torch.no_grad()
def keep_largest_component(labels: torch.Tensor, classes: Iterable[int]) -> Tuple[torch.Tensor, float]:
    """Per sample and listed class, voxels outside the class's largest component become background (0).
    labels: (B, 1, ...) integer. Returns (cleaned labels, fraction of voxels changed)."""
    classes = list(classes)
    if not classes:
        return labels, 0.0
    array = labels[:, 0].cpu().numpy()
    cleaned = array.copy()
    for b in range(array.shape[0]):
        for c in classes:
            mask = array[b] == c
            if mask.any():
                cleaned[b][mask & ~largest_component(mask)] = 0
    changed = float((cleaned != array).mean())
    return torch.from_numpy(cleaned).to(labels.device, labels.dtype)[:, None], changed
