"""Corruptions of integer label maps (numpy, 2D or 3D, any number of classes) that make masks of graded quality for
training the QG-SSL quality predictor, and the Dice that is its regression target.

Confirmed by the paper [PAPER summaries, spec section 3.2]: the predictor is trained on image-mask pairs of variable
quality made by **synthetic corruptions of the ground truth** (plus outputs of partially trained models) and regresses
a DSC-like score. Which corruptions, their strengths and how they are chained are NOT known: the list below is our
reconstruction [INF, spec section 3.3].

Every corruption has the signature ``f(label, rng, **strength) -> new label map`` of the same shape and dtype and
only ever writes labels that are already in the map (or, for `add_blobs`, a label in ``[1, num_classes)``), so the
output stays in ``[0, C)``. Our choices, each a named parameter:

* `erosion` / `dilation`: Euclidean ball of ``radius`` voxels, exact, computed with scipy's distance transform
  (O(N) whatever the radius). Eroded voxels become background; dilation grows every class into BACKGROUND only, each
  background voxel taking its nearest class (so nested classes do not grow into each other). The image border is not
  a boundary (an object cut by the patch edge is not eroded from it), as in `components.boundary`.
* `shift`: translation by ``offset`` voxels (nearest-voxel for fractions); vacated voxels become background.
* `elastic_warp`: smooth random displacement field (Gaussian-smoothed normal noise, ``smoothness`` = sigma in voxels),
  scaled so its largest component is ``magnitude`` voxels; labels resampled with nearest-neighbour.
* `boundary_jitter`: the same warp with a nearly uncorrelated field (sigma ``smoothness`` ~ 1 voxel) of
  ``amplitude`` voxels: interior voxels keep their label, boundaries become ragged.
* `add_blobs` (false positives): ellipsoids (radii ``radius`` x U(0.5, 1.5) per axis) centred anywhere, painted with a
  random foreground class over background only.
* `remove_blobs` (false negatives): ellipsoids centred on random foreground voxels set to background; a hole inside
  the object, a bite at its border.
* `class_swap` (multi-class only): two foreground classes present in the map exchange their labels everywhere.

`RandomCorruption` (and the default `random_corruption`) draws a chain of 1..``max_chain`` of them with strengths
relative to the object's size, all from the caller's ``numpy.random.Generator`` (same seed, same mask).

`dice_per_class` follows the empty-mask policy of :mod:`nnunetv2_pscm.evaluation.metrics` (its constants are reused:
class absent in both -> 1.0, in exactly one -> 0.0); it does not call `compute_binary_metrics`, which also computes
surface distances (far too slow for sampling thousands of candidates), but gives the same Dice (a test checks it).
"""
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from scipy import ndimage

from nnunetv2_pscm.evaluation.metrics import BOTH_EMPTY_DICE, ONE_EMPTY_DICE


def _check_label(label: np.ndarray) -> np.ndarray:
    label = np.asarray(label)
    if not (np.issubdtype(label.dtype, np.integer) or label.dtype == bool):
        raise TypeError(f"corruptions take integer label maps, got dtype {label.dtype}")
    return label


def _foreground_classes(label: np.ndarray) -> np.ndarray:
    classes = np.unique(label)
    return classes[classes > 0]


def erosion(label: np.ndarray, rng: Optional[np.random.Generator] = None, radius: float = 1) -> np.ndarray:
    """Erode every foreground class by a Euclidean ball of ``radius`` voxels; removed voxels become background."""
    label = _check_label(label)
    out = label.copy()
    for c in _foreground_classes(label):
        mask = label == c
        if not mask.all():  # a class filling the whole map has no boundary inside it (and EDT needs a zero)
            out[mask & (ndimage.distance_transform_edt(mask) <= radius)] = 0
    return out


def dilation(label: np.ndarray, rng: Optional[np.random.Generator] = None, radius: float = 1) -> np.ndarray:
    """Grow the foreground into background voxels within ``radius`` voxels; each takes its nearest class."""
    label = _check_label(label)
    background = label == 0
    if background.all() or not background.any():
        return label.copy()
    distance, nearest = ndimage.distance_transform_edt(background, return_indices=True)
    grow = background & (distance <= radius)
    out = label.copy()
    out[grow] = label[tuple(nearest)][grow]
    return out


def shift(label: np.ndarray, rng: Optional[np.random.Generator] = None, offset: Sequence[float] = (1, 0)) -> np.ndarray:
    """Translate by ``offset`` voxels (one entry per axis); what moves in from outside is background."""
    label = _check_label(label)
    if len(offset) != label.ndim:
        raise ValueError(f"shift offset {tuple(offset)} has {len(offset)} entries for a {label.ndim}D label map")
    return ndimage.shift(label, offset, order=0, mode="constant", cval=0, prefilter=False)


def _random_field(shape: Tuple[int, ...], rng: np.random.Generator, magnitude: float, sigma: float) -> np.ndarray:
    field = np.stack([ndimage.gaussian_filter(rng.standard_normal(shape), sigma) for _ in shape])
    peak = np.abs(field).max()
    return field * (magnitude / peak) if peak > 0 else field


def _warp(label: np.ndarray, displacement: np.ndarray) -> np.ndarray:
    coordinates = np.indices(label.shape, dtype=np.float64) + displacement
    return ndimage.map_coordinates(label, coordinates, order=0, mode="nearest", prefilter=False).astype(label.dtype)


def elastic_warp(label: np.ndarray, rng: np.random.Generator, magnitude: float = 3.0,
                 smoothness: float = 6.0) -> np.ndarray:
    """Resample along a smooth random displacement field: Gaussian sigma ``smoothness``, peak ``magnitude`` voxels."""
    label = _check_label(label)
    return _warp(label, _random_field(label.shape, rng, magnitude, smoothness))


def boundary_jitter(label: np.ndarray, rng: np.random.Generator, amplitude: float = 1.5,
                    smoothness: float = 1.0) -> np.ndarray:
    """Ragged boundaries: a nearly uncorrelated displacement (sigma ``smoothness``) of peak ``amplitude`` voxels."""
    label = _check_label(label)
    return _warp(label, _random_field(label.shape, rng, amplitude, smoothness))


def _ellipsoid(shape: Tuple[int, ...], centre: np.ndarray, radii: np.ndarray) -> Tuple[Tuple[slice, ...], np.ndarray]:
    """Bounding-box slices and the boolean ellipsoid inside them (the box is clipped to the array)."""
    lo = np.maximum(np.floor(centre - radii).astype(int), 0)
    hi = np.minimum(np.ceil(centre + radii).astype(int) + 1, shape)
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    grids = np.ogrid[box]
    inside = sum(((g - c) / r) ** 2 for g, c, r in zip(grids, centre, radii)) <= 1.0
    return box, inside


def _radii(rng: np.random.Generator, radius: float, ndim: int) -> np.ndarray:
    return np.maximum(radius * rng.uniform(0.5, 1.5, ndim), 0.5)


def add_blobs(label: np.ndarray, rng: np.random.Generator, num_blobs: int = 1, radius: float = 3.0,
              num_classes: Optional[int] = None) -> np.ndarray:
    """False positives: ``num_blobs`` ellipsoids anywhere, each a random foreground class, painted over background.

    The class is drawn from ``[1, num_classes)`` when given, else from the classes present (class 1 if none is)."""
    label = _check_label(label)
    classes = np.arange(1, num_classes) if num_classes is not None else _foreground_classes(label)
    if len(classes) == 0:
        classes = np.array([1])
    out = label.copy()
    for _ in range(num_blobs):
        centre = rng.uniform(0, label.shape)
        box, inside = _ellipsoid(label.shape, centre, _radii(rng, radius, label.ndim))
        region = out[box]
        region[inside & (label[box] == 0)] = rng.choice(classes)
    return out


def remove_blobs(label: np.ndarray, rng: np.random.Generator, num_blobs: int = 1, radius: float = 3.0) -> np.ndarray:
    """False negatives: ``num_blobs`` ellipsoids centred on random foreground voxels become background."""
    label = _check_label(label)
    foreground = np.flatnonzero(label > 0)
    out = label.copy()
    if len(foreground) == 0:
        return out
    for _ in range(num_blobs):
        centre = np.array(np.unravel_index(rng.choice(foreground), label.shape), dtype=float)
        box, inside = _ellipsoid(label.shape, centre, _radii(rng, radius, label.ndim))
        out[box][inside] = 0
    return out


def class_swap(label: np.ndarray, rng: np.random.Generator, pair: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """Exchange two foreground labels everywhere (``pair``, or two distinct classes present drawn at random)."""
    label = _check_label(label)
    if pair is None:
        present = _foreground_classes(label)
        if len(present) < 2:
            raise ValueError(f"class_swap needs two foreground classes in the map; it holds {present.tolist()}")
        pair = tuple(rng.choice(present, 2, replace=False))
    a, b = pair
    out = label.copy()
    out[label == a], out[label == b] = b, a
    return out


CORRUPTIONS: Dict[str, Callable[..., np.ndarray]] = {
    "erosion": erosion, "dilation": dilation, "shift": shift, "elastic_warp": elastic_warp,
    "boundary_jitter": boundary_jitter, "add_blobs": add_blobs, "remove_blobs": remove_blobs, "class_swap": class_swap}


@dataclass
class RandomCorruption:
    """A random chain of corruptions whose strengths scale with the object's size ``s`` (side of the cube, or square,
    of the foreground's volume; a quarter of the smallest axis for an empty map). All choices are ours [INF]."""
    max_chain: int = 3
    names: Tuple[str, ...] = tuple(CORRUPTIONS)
    max_radius_fraction: float = 0.5  # erosion/dilation/blob radius up to this x s/2 (at least 1 voxel)
    max_shift_fraction: float = 1.0  # |offset| per axis up to this x s: 1.0 reaches no overlap at all
    max_warp_fraction: float = 0.3  # elastic peak displacement up to this x s/2
    warp_smoothness_fraction: float = 0.25  # elastic sigma = this x s
    max_jitter_amplitude: float = 3.0  # voxels
    max_blobs: int = 3

    def __call__(self, label: np.ndarray, rng: np.random.Generator, num_classes: Optional[int] = None) -> np.ndarray:
        out = _check_label(label)
        for name, kwargs in self.sample_chain(out, rng, num_classes):
            out = CORRUPTIONS[name](out, rng, **kwargs)
        return out

    def sample_chain(self, label: np.ndarray, rng: np.random.Generator,
                     num_classes: Optional[int] = None) -> List[Tuple[str, dict]]:
        """The (name, strength kwargs) chain drawn for ``label``; class_swap only where two classes are present."""
        names = [n for n in self.names if n != "class_swap" or len(_foreground_classes(label)) >= 2]
        if not names:
            raise ValueError(f"no applicable corruption among {self.names} for this label map")
        count = np.count_nonzero(label)
        size = count ** (1.0 / label.ndim) if count else min(label.shape) / 4.0
        return [(str(name), self._strength(str(name), size, label, rng, num_classes))
                for name in rng.choice(names, int(rng.integers(1, self.max_chain + 1)))]

    def _strength(self, name: str, size: float, label: np.ndarray, rng: np.random.Generator,
                  num_classes: Optional[int]) -> dict:
        radius = max(1.0, self.max_radius_fraction * size / 2)
        if name in ("erosion", "dilation"):
            return {"radius": int(rng.integers(1, int(round(radius)) + 1))}
        if name == "shift":
            reach = max(1, int(round(self.max_shift_fraction * size)))
            offset = rng.integers(-reach, reach + 1, label.ndim)
            if not offset.any():
                offset[rng.integers(label.ndim)] = rng.choice([-1, 1])
            return {"offset": tuple(int(o) for o in offset)}
        if name == "elastic_warp":
            return {"magnitude": rng.uniform(1.0, max(1.0, self.max_warp_fraction * size / 2)),
                    "smoothness": max(1.0, self.warp_smoothness_fraction * size)}
        if name == "boundary_jitter":
            return {"amplitude": rng.uniform(1.0, self.max_jitter_amplitude)}
        if name in ("add_blobs", "remove_blobs"):
            kwargs = {"num_blobs": int(rng.integers(1, self.max_blobs + 1)), "radius": rng.uniform(1.0, radius)}
            return {**kwargs, "num_classes": num_classes} if name == "add_blobs" else kwargs
        # class_swap: the pair is drawn from the INPUT map, so an earlier link that removes a class cannot break it
        return {"pair": tuple(int(c) for c in rng.choice(_foreground_classes(label), 2, replace=False))}


def random_corruption(label: np.ndarray, rng: np.random.Generator, num_classes: Optional[int] = None) -> np.ndarray:
    """One random chain of 1..3 corruptions with the default `RandomCorruption` settings."""
    return RandomCorruption()(label, rng, num_classes)


def dice_per_class(pred: np.ndarray, truth: np.ndarray, num_classes: int) -> np.ndarray:
    """(num_classes - 1,) Dice of every foreground class 1..C-1 of two label maps, by one joint histogram.

    Class absent from both: `BOTH_EMPTY_DICE` (1.0); from exactly one: `ONE_EMPTY_DICE` (0.0)."""
    pred, truth = _check_label(pred), _check_label(truth)
    if pred.shape != truth.shape:
        raise ValueError(f"pred and truth shapes differ: {pred.shape} vs {truth.shape}")
    for name, array in (("pred", pred), ("truth", truth)):
        if array.size and (array.min() < 0 or array.max() >= num_classes):
            raise ValueError(f"{name} holds labels outside [0, {num_classes}): {np.unique(array).tolist()}")
    joint = np.bincount(truth.ravel().astype(np.int64) * num_classes + pred.ravel(),
                        minlength=num_classes * num_classes).reshape(num_classes, num_classes)  # [truth, pred]
    intersection, n_truth, n_pred = np.diag(joint), joint.sum(1), joint.sum(0)
    total = n_truth + n_pred
    dice = np.where(total > 0, 2.0 * intersection / np.maximum(total, 1), BOTH_EMPTY_DICE)
    dice[(n_truth == 0) != (n_pred == 0)] = ONE_EMPTY_DICE
    return dice[1:]
