"""Dice, Jaccard, HD95, ASD and ASSD for binary masks and label maps, as the SSL literature computes them.

Conventions (numerically identical to ``medpy.metric.binary`` ``dc``, ``jc``, ``hd95``, ``asd``, on the
same inputs; see :mod:`nnunetv2_pscm.evaluation.surface_distances` for how surfaces are defined):

* ``dice`` = 2|P & R| / (|P| + |R|),  ``jaccard`` = |P & R| / |P | R|.
* ``hd95`` = 95th percentile (numpy's default linear interpolation) of the *pooled* symmetric surface
  distances: pred->ref and ref->pred distances concatenated, then one percentile. (MONAI and PyMIC take
  the max of the two directed percentiles instead; the values differ.)
* ``asd`` = *directed* mean surface distance, prediction -> reference (medpy ``asd(result, reference)``).
* ``assd`` = mean of the two directed means, (mean(pred->ref) + mean(ref->pred)) / 2, as medpy <= 0.4
  defined it. Note: medpy 0.5 changed ``assd`` to the mean of the pooled distances, which weights each
  direction by its number of surface voxels; we keep the symmetric definition.

Modes:

* ``"voxel"``: distances in voxel units (spacing ignored), what the SSL papers report.
* ``"mm"``: distances in physical units, the image spacing is used as sampling of the distance transform.
  Dice and Jaccard do not depend on the mode; they are repeated so that every row is self-contained.

Empty-mask policy (named constants below; medpy itself raises on empty masks and every SSL repository
adds its own, often silent, guard):

* Both prediction and reference empty: ``dice = jaccard = 1`` and ``hd95 = asd = assd = 0`` (a perfect
  answer: nothing to find, nothing found). This is what medpy's ``dc``/``jc`` intend (their
  ZeroDivisionError branch returns 1), although with numpy integer counts medpy 0.5 actually returns NaN;
  nnU-Net's own evaluation reports NaN Dice here.
* Exactly one of them empty: ``dice = jaccard = 0`` and ``hd95 = asd = assd = NaN``: a surface distance to
  nothing is undefined, and any finite number (0 in particular) would look better than a real miss. The
  rows carry ``pred_empty`` / ``ref_empty`` flags so these cases can be counted.
* Aggregation (see :mod:`nnunetv2_pscm.evaluation.summary`) reports ``nanmean`` over cases *together with*
  ``n_undefined``, the number of cases where the metric was NaN, so a mean over fewer cases is visible.

Ignore label (nnU-Net's ``"ignore"`` entry in dataset.json): voxels where the reference holds the ignore
label are removed from both masks before any metric. For Dice/Jaccard this is exactly nnU-Net's rule; for
surface metrics it means the ignored region counts as background.

Largest connected component (``lcc=True``): applied to each class's (or region's) binary *prediction*
mask before the metrics, with full connectivity (26-neighbourhood in 3D, 8 in 2D) like
``skimage.measure.label`` as used by the SSL repositories' ``getLargestCC``. Ties keep the component with
the lowest label index.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from scipy.ndimage import generate_binary_structure, label

from nnunetv2_pscm.evaluation.surface_distances import SurfacePair

LabelOrRegion = Union[int, Tuple[int, ...]]

MODES: Tuple[str, ...] = ("voxel", "mm")
METRIC_NAMES: Tuple[str, ...] = ("dice", "jaccard", "hd95", "asd", "assd")
SURFACE_METRIC_NAMES: Tuple[str, ...] = ("hd95", "asd", "assd")
HAUSDORFF_PERCENTILE = 95.0

# Empty-mask policy (see module docstring).
BOTH_EMPTY_DICE = 1.0
BOTH_EMPTY_JACCARD = 1.0
BOTH_EMPTY_SURFACE_DISTANCE = 0.0
ONE_EMPTY_DICE = 0.0
ONE_EMPTY_JACCARD = 0.0
ONE_EMPTY_SURFACE_DISTANCE = float("nan")


def largest_connected_component(mask: np.ndarray) -> np.ndarray:
    """Keep only the largest connected component of a binary mask (full connectivity).

    Args:
        mask: boolean array; an empty mask is returned unchanged (as a copy).

    Returns:
        Boolean array of the same shape holding the largest component.
    """
    mask = np.asarray(mask, dtype=bool)
    components, num_components = label(mask, structure=generate_binary_structure(mask.ndim, mask.ndim))
    if num_components <= 1:
        return mask.copy()
    sizes = np.bincount(components.ravel())
    sizes[0] = 0  # background is not a component
    return components == int(np.argmax(sizes))


def _resolve_spacings(
    modes: Sequence[str], spacing: Optional[Sequence[float]], ndim: int
) -> Dict[str, Optional[Tuple[float, ...]]]:
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise ValueError(f"modes must be a non-empty subset of {MODES}, got {tuple(modes)}")
    resolved: Dict[str, Optional[Tuple[float, ...]]] = {}
    for mode in modes:
        if mode == "voxel":
            resolved[mode] = None
            continue
        if spacing is None:
            raise ValueError("mode 'mm' needs the image spacing")
        if len(spacing) != ndim:
            raise ValueError(f"spacing {tuple(spacing)} has {len(spacing)} entries for {ndim}D masks")
        resolved[mode] = tuple(float(s) for s in spacing)
    return resolved


def _surface_metrics(pred_to_ref: np.ndarray, ref_to_pred: np.ndarray) -> Dict[str, float]:
    pooled = np.concatenate([pred_to_ref, ref_to_pred])
    return {
        "hd95": float(np.percentile(pooled, HAUSDORFF_PERCENTILE)),
        "asd": float(pred_to_ref.mean()),
        "assd": float((pred_to_ref.mean() + ref_to_pred.mean()) / 2.0),
    }


def compute_binary_metrics(
    pred: np.ndarray,
    ref: np.ndarray,
    spacing: Optional[Sequence[float]] = None,
    modes: Sequence[str] = ("voxel",),
) -> Dict[str, Dict[str, Union[float, int, bool]]]:
    """Dice, Jaccard, HD95, ASD, ASSD of one binary prediction against one binary reference.

    Args:
        pred: prediction mask (any dtype; nonzero = foreground), 2D or 3D (any ndim works).
        ref: reference mask of the same shape.
        spacing: voxel size per axis, required for mode ``"mm"``.
        modes: any of ``"voxel"`` and ``"mm"``.

    Returns:
        ``{mode: {"dice", "jaccard", "hd95", "asd", "assd", "n_pred", "n_ref", "pred_empty", "ref_empty"}}``.
        Empty masks follow the module's empty-mask policy (NaN surface metrics if exactly one is empty).

    Raises:
        ValueError: on a shape mismatch, an unknown mode, or mode ``"mm"`` without a valid spacing.
    """
    pred = np.asarray(pred).astype(bool, copy=False)
    ref = np.asarray(ref).astype(bool, copy=False)
    if pred.shape != ref.shape:
        raise ValueError(f"pred and ref shapes differ: {pred.shape} vs {ref.shape}")
    spacings = _resolve_spacings(modes, spacing, pred.ndim)

    n_pred, n_ref = int(np.count_nonzero(pred)), int(np.count_nonzero(ref))
    counts = {"n_pred": n_pred, "n_ref": n_ref, "pred_empty": n_pred == 0, "ref_empty": n_ref == 0}

    if n_pred == 0 and n_ref == 0:
        overlap = {"dice": BOTH_EMPTY_DICE, "jaccard": BOTH_EMPTY_JACCARD}
        surface = {name: BOTH_EMPTY_SURFACE_DISTANCE for name in SURFACE_METRIC_NAMES}
        return {mode: {**overlap, **surface, **counts} for mode in spacings}
    if n_pred == 0 or n_ref == 0:
        overlap = {"dice": ONE_EMPTY_DICE, "jaccard": ONE_EMPTY_JACCARD}
        surface = {name: ONE_EMPTY_SURFACE_DISTANCE for name in SURFACE_METRIC_NAMES}
        return {mode: {**overlap, **surface, **counts} for mode in spacings}

    intersection = int(np.count_nonzero(pred & ref))
    overlap = {
        "dice": 2.0 * intersection / (n_pred + n_ref),
        "jaccard": intersection / (n_pred + n_ref - intersection),
    }
    surfaces = SurfacePair(pred, ref)
    distances_by_spacing: Dict[Optional[Tuple[float, ...]], Dict[str, float]] = {}
    results = {}
    for mode, mode_spacing in spacings.items():
        # unit spacing gives the voxel-mode distances: do not run the distance transforms twice
        key = None if mode_spacing is not None and all(s == 1.0 for s in mode_spacing) else mode_spacing
        if key not in distances_by_spacing:
            distances_by_spacing[key] = _surface_metrics(*surfaces.distances(key))
        results[mode] = {**overlap, **distances_by_spacing[key], **counts}
    return results


def label_or_region_mask(segmentation: np.ndarray, label_or_region: LabelOrRegion) -> np.ndarray:
    """Binary mask of one label (an int) or one region (a tuple/list of labels) in a label map.

    Args:
        segmentation: integer label map.
        label_or_region: a label value, or a sequence of label values whose union forms the region.

    Returns:
        Boolean array of the label map's shape.
    """
    if isinstance(label_or_region, (tuple, list)):
        return np.isin(segmentation, np.asarray(label_or_region))
    return segmentation == label_or_region


def compute_case_metrics(
    pred: np.ndarray,
    ref: np.ndarray,
    labels_or_regions: Sequence[LabelOrRegion],
    spacing: Optional[Sequence[float]] = None,
    modes: Sequence[str] = MODES,
    class_names: Optional[Sequence[str]] = None,
    lcc: bool = False,
    ignore_label: Optional[int] = None,
) -> List[Dict[str, object]]:
    """Metrics of one case for every class (label) or region, as tidy rows (one per class x mode).

    Args:
        pred: predicted label map (integers), same shape as ``ref``.
        ref: reference label map.
        labels_or_regions: foreground classes: ints for labels, tuples of ints for regions
            (nnU-Net's region-based datasets; a region's mask is the union of its labels).
        spacing: voxel size per axis of the arrays, required for mode ``"mm"``.
        modes: any of ``"voxel"`` and ``"mm"``.
        class_names: one name per entry of ``labels_or_regions``; defaults to ``str(label_or_region)``.
        lcc: keep only the largest connected component of each class's prediction mask first.
        ignore_label: reference voxels with this value are excluded from both masks.

    Returns:
        A list of dicts with keys ``class``, ``label_or_region``, ``mode``, ``dice``, ``jaccard``,
        ``hd95``, ``asd``, ``assd``, ``n_pred``, ``n_ref``, ``pred_empty``, ``ref_empty``; ordered by class,
        then mode. Empty masks follow the module's empty-mask policy.

    Raises:
        ValueError: on a shape mismatch, mismatched ``class_names``, or an invalid mode/spacing.
    """
    pred = np.asarray(pred)
    ref = np.asarray(ref)
    if pred.shape != ref.shape:
        raise ValueError(f"pred and ref shapes differ: {pred.shape} vs {ref.shape}")
    if class_names is None:
        class_names = [str(c) for c in labels_or_regions]
    if len(class_names) != len(labels_or_regions):
        raise ValueError(f"{len(class_names)} class_names for {len(labels_or_regions)} labels_or_regions")
    keep = None if ignore_label is None else ref != ignore_label

    rows: List[Dict[str, object]] = []
    for name, label_or_region in zip(class_names, labels_or_regions):
        pred_mask = label_or_region_mask(pred, label_or_region)
        ref_mask = label_or_region_mask(ref, label_or_region)
        if lcc:
            # post-processing belongs to the prediction, so it runs before the ignore mask is applied
            pred_mask = largest_connected_component(pred_mask)
        if keep is not None:
            pred_mask &= keep
            ref_mask &= keep
        per_mode = compute_binary_metrics(pred_mask, ref_mask, spacing, modes)
        for mode, values in per_mode.items():
            rows.append({"class": name, "label_or_region": label_or_region, "mode": mode, **values})
    return rows


def is_undefined(value: object) -> bool:
    """True for the NaN that the empty-mask policy uses to mark an undefined metric."""
    return isinstance(value, float) and math.isnan(value)


__all__ = [
    "MODES",
    "METRIC_NAMES",
    "SURFACE_METRIC_NAMES",
    "HAUSDORFF_PERCENTILE",
    "BOTH_EMPTY_DICE",
    "BOTH_EMPTY_JACCARD",
    "BOTH_EMPTY_SURFACE_DISTANCE",
    "ONE_EMPTY_DICE",
    "ONE_EMPTY_JACCARD",
    "ONE_EMPTY_SURFACE_DISTANCE",
    "largest_connected_component",
    "compute_binary_metrics",
    "label_or_region_mask",
    "compute_case_metrics",
    "is_undefined",
]
