"""Surface distances between two binary masks, with the conventions of medpy (the SSL literature).

Definitions (identical to ``medpy.metric.binary.__surface_distances``):

* The *surface* of a mask is ``mask XOR binary_erosion(mask)`` with the connectivity-1 structuring
  element (6-neighbourhood in 3D, 4-neighbourhood in 2D). The erosion treats everything outside the
  array as background, so foreground voxels on the array border are surface voxels.
* The *directed* distances from A to B are, for every surface voxel of A, the Euclidean distance (in
  units of ``spacing``) to the nearest surface voxel of B. They are read from the Euclidean distance
  transform of the complement of B's surface (its feature transform, evaluated at A's surface voxels).

Speed: all work happens inside the bounding box of the union of both masks, grown by a margin of one
voxel and clipped to the array. This is exact, not an approximation: every surface voxel of either mask
lies inside that box, so the nearest partner of any surface voxel does too; and the one-voxel margin means
the erosion sees the same neighbourhood as on the full array (where the box touches the array border, it
*is* the array border, so border voxels stay surface voxels as in medpy). The distance transform is then
read only at surface voxels.

Empty masks: these functions have no answer for an empty mask (there is no surface to measure to) and
raise ``ValueError``. The policy for empty masks (what the *metrics* report) lives in
:mod:`nnunetv2_pscm.evaluation.metrics`.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np
from scipy.ndimage import binary_erosion, distance_transform_edt, generate_binary_structure

# One voxel of margin is all the erosion needs to see a crop exactly like the full array (see docstring).
CROP_MARGIN_VOXELS = 1


def union_bounding_box(
    mask_a: np.ndarray, mask_b: np.ndarray, margin: int = CROP_MARGIN_VOXELS
) -> Optional[Tuple[slice, ...]]:
    """Bounding box of ``mask_a | mask_b``, grown by ``margin`` voxels and clipped to the array.

    Args:
        mask_a: boolean array.
        mask_b: boolean array of the same shape.
        margin: voxels added on every side before clipping to the array.

    Returns:
        A tuple of slices (one per axis), or ``None`` if both masks are empty.
    """
    union = mask_a | mask_b
    slices = []
    for axis in range(union.ndim):
        # projecting onto one axis at a time costs one pass over the array per axis, no coordinate lists
        other_axes = tuple(a for a in range(union.ndim) if a != axis)
        occupied = np.flatnonzero(np.any(union, axis=other_axes)) if other_axes else np.flatnonzero(union)
        if occupied.size == 0:
            return None
        start = max(int(occupied[0]) - margin, 0)
        stop = min(int(occupied[-1]) + 1 + margin, union.shape[axis])
        slices.append(slice(start, stop))
    return tuple(slices)


def extract_surface(mask: np.ndarray) -> np.ndarray:
    """Surface voxels of a binary mask: ``mask XOR erosion(mask)``, connectivity 1 (as medpy).

    Args:
        mask: boolean array of any dimensionality.

    Returns:
        Boolean array of the same shape, True on surface voxels.
    """
    structure = generate_binary_structure(mask.ndim, 1)
    # border_value=0: outside the array counts as background, so voxels touching the border are surface
    return mask ^ binary_erosion(mask, structure=structure, iterations=1, border_value=0)


def _as_sampling(spacing: Optional[Sequence[float]], ndim: int) -> Optional[np.ndarray]:
    if spacing is None:
        return None
    sampling = np.asarray(spacing, dtype=np.float64).reshape(-1)
    if sampling.size != ndim:
        raise ValueError(f"spacing {tuple(spacing)} has {sampling.size} entries but the masks have {ndim} dimensions")
    if not np.all(np.isfinite(sampling)) or np.any(sampling <= 0):
        raise ValueError(f"spacing must be finite and positive, got {tuple(spacing)}")
    return sampling


def directed_surface_distances(
    from_surface: np.ndarray, to_surface: np.ndarray, spacing: Optional[Sequence[float]] = None
) -> np.ndarray:
    """Distance from every surface voxel of ``from_surface`` to the nearest voxel of ``to_surface``.

    This is ``distance_transform_edt(~to_surface, sampling=spacing)[from_surface]`` (medpy's formula), but
    only the feature transform (which voxel of ``to_surface`` is nearest) is computed for the whole array;
    the distances themselves are evaluated at the surface voxels only, with the same arithmetic.

    Args:
        from_surface: boolean surface array (e.g. from :func:`extract_surface`).
        to_surface: boolean surface array of the same shape; must not be empty.
        spacing: physical size of a voxel along each axis; ``None`` means voxel units.

    Returns:
        1D float64 array, one distance per True voxel of ``from_surface`` (C order).
    """
    if not to_surface.any():
        raise ValueError("to_surface is empty: there is no surface to measure distances to")
    sampling = _as_sampling(spacing, to_surface.ndim)
    # the EDT measures the distance to the nearest zero, hence the complement of the target surface
    nearest = distance_transform_edt(~to_surface, sampling=sampling, return_distances=False, return_indices=True)
    query = np.nonzero(from_surface)
    offsets = np.stack([nearest[axis][query] - query[axis] for axis in range(from_surface.ndim)]).astype(np.float64)
    if sampling is not None:
        offsets *= sampling[:, None]
    return np.sqrt(np.add.reduce(offsets * offsets, axis=0))


class SurfacePair:
    """The surfaces of a prediction and a reference mask, cropped once, measured under any spacing.

    Computing the crop and the two erosions once lets the ``voxel`` and ``mm`` modes share them; only the
    distance transforms depend on the spacing.

    Args:
        pred: boolean prediction mask; must not be empty.
        ref: boolean reference mask of the same shape; must not be empty.

    Raises:
        ValueError: if the shapes differ or either mask is empty.
    """

    def __init__(self, pred: np.ndarray, ref: np.ndarray):
        pred = np.asarray(pred, dtype=bool)
        ref = np.asarray(ref, dtype=bool)
        if pred.shape != ref.shape:
            raise ValueError(f"pred and ref shapes differ: {pred.shape} vs {ref.shape}")
        box = union_bounding_box(pred, ref)
        if box is None or not pred[box].any() or not ref[box].any():
            raise ValueError(
                "surface distances are undefined when a mask is empty "
                f"(pred voxels: {int(pred.sum())}, ref voxels: {int(ref.sum())})"
            )
        self.pred_surface = extract_surface(pred[box])
        self.ref_surface = extract_surface(ref[box])

    def distances(self, spacing: Optional[Sequence[float]] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Directed surface distances in both directions.

        Args:
            spacing: voxel size per axis (``mm`` mode); ``None`` for voxel units.

        Returns:
            ``(pred_to_ref, ref_to_pred)``: 1D float64 arrays, one entry per surface voxel of pred / ref.
        """
        pred_to_ref = directed_surface_distances(self.pred_surface, self.ref_surface, spacing)
        ref_to_pred = directed_surface_distances(self.ref_surface, self.pred_surface, spacing)
        return pred_to_ref, ref_to_pred


def surface_distances(
    pred: np.ndarray, ref: np.ndarray, spacing: Optional[Sequence[float]] = None
) -> Tuple[np.ndarray, np.ndarray]:
    """Directed surface distances pred->ref and ref->pred, medpy conventions, computed in the union box.

    Args:
        pred: boolean prediction mask; must not be empty.
        ref: boolean reference mask of the same shape; must not be empty.
        spacing: voxel size per axis; ``None`` for voxel units.

    Returns:
        ``(pred_to_ref, ref_to_pred)`` as 1D float64 arrays.

    Raises:
        ValueError: if the shapes differ or either mask is empty.
    """
    return SurfacePair(pred, ref).distances(spacing)
