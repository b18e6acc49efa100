"""What the labeled ground truth says about the shape of each class: is it one connected structure?

BCP keeps the largest connected component of its LA pseudo-labels because a left atrium is one structure. We
let the labeled cases decide instead of the dataset name: a class is "single-structure" when, in every labeled
case that contains it, its largest component holds at least `min_share` of its voxels (a little tolerance for
stray voxels of the annotation). Multi-lesion classes fail the test and keep all their components."""
from typing import Iterable, List

import numpy as np

from nnunetv2_pscm.components.pseudo_labels import largest_component


def single_structure_classes(segmentations: Iterable[np.ndarray], num_classes: int,
                             min_share: float = 0.9) -> List[int]:
    """Foreground classes 1..num_classes-1 that form one structure in every given segmentation where they occur
    (and occur at least once)."""
    seen = np.zeros(num_classes, dtype=bool)
    single = np.ones(num_classes, dtype=bool)
    for seg in segmentations:
        for c in range(1, num_classes):
            mask = seg == c
            n = int(mask.sum())
            if n == 0:
                continue
            seen[c] = True
            if largest_component(mask).sum() < min_share * n:
                single[c] = False
    return [c for c in range(1, num_classes) if seen[c] and single[c]]
