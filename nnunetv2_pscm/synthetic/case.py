"""The in-memory result of generating one synthetic case."""
from dataclasses import dataclass
from typing import Tuple

import numpy as np


@dataclass
class SyntheticCase:
    """One generated case, all arrays in array axis order (z, y, x); 2D cases have z of size 1.

    `distractor_mask` marks the look-alike structures. They are never labeled: keeping their mask
    lets tests prove it, and lets anyone inspect how hard the task is."""
    image: np.ndarray            # float32, MR-like intensities (arbitrary units)
    label: np.ndarray            # uint8, consecutive labels 0..K
    distractor_mask: np.ndarray  # bool
    spacing: Tuple[float, float, float]  # mm, array axis order (z, y, x)

    def __post_init__(self):
        assert self.image.shape == self.label.shape == self.distractor_mask.shape, \
            f"image {self.image.shape}, label {self.label.shape} and distractor mask " \
            f"{self.distractor_mask.shape} must have the same shape"
        assert self.image.ndim == 3 and len(self.spacing) == 3, "cases are stored as 3D arrays (z, y, x)"
