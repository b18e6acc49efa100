"""Geometry for the synthetic dataset: coordinate grids, ellipsoids, smooth unions, smooth deformations.

Every shape is described by an approximate signed distance in millimetres (negative inside). Working in
mm rather than voxels lets the same anatomy be sampled on isotropic or anisotropic grids, and lets a
shape be smoothly deformed by warping the coordinates before the distance is evaluated.
"""
from typing import Sequence, Tuple

import numpy as np
from scipy.ndimage import gaussian_filter


def centered_mm_grid(shape: Sequence[int], spacing: Sequence[float]) -> np.ndarray:
    """Coordinates in mm of every voxel centre, origin in the middle of the field of view.

    Returns an array of shape (ndim, *shape) in array axis order."""
    axes = [(np.arange(n, dtype=np.float64) - (n - 1) / 2.0) * s for n, s in zip(shape, spacing)]
    return np.stack(np.meshgrid(*axes, indexing="ij"))


def random_rotation(rng: np.random.Generator, ndim: int) -> np.ndarray:
    """A uniformly random proper rotation matrix (QR of a Gaussian matrix with the sign fixed)."""
    q, r = np.linalg.qr(rng.normal(size=(ndim, ndim)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:  # a reflection would mirror the anatomy; flip one axis to keep a rotation
        q[:, 0] = -q[:, 0]
    return q


def rotation_2d(angle_rad: float) -> np.ndarray:
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[c, -s], [s, c]])


def ellipsoid_distance(coords: np.ndarray, center: Sequence[float], radii: Sequence[float],
                       rotation: np.ndarray = None) -> np.ndarray:
    """Approximate signed distance (mm) to an ellipsoid: (normalised radius - 1) * mean radius.

    Exact on spheres, a good enough proxy for mildly elongated ellipsoids; what matters here is a
    smooth field whose zero level set is the ellipsoid and whose scale is roughly millimetres."""
    ndim = coords.shape[0]
    offset = coords - np.asarray(center, dtype=np.float64).reshape((ndim,) + (1,) * ndim)
    if rotation is not None:
        # express the offset in the ellipsoid's own axes
        offset = np.tensordot(np.asarray(rotation).T, offset, axes=1)
    radii = np.asarray(radii, dtype=np.float64).reshape((ndim,) + (1,) * ndim)
    normalised_radius = np.sqrt(np.sum((offset / radii) ** 2, axis=0))
    return (normalised_radius - 1.0) * float(np.mean(radii))


def capsule_distance(coords: np.ndarray, start: Sequence[float], end: Sequence[float], radius: float) -> np.ndarray:
    """Exact signed distance (mm) to a capsule (a tube with round caps), e.g. a vessel segment."""
    ndim = coords.shape[0]
    a = np.asarray(start, dtype=np.float64).reshape((ndim,) + (1,) * ndim)
    b = np.asarray(end, dtype=np.float64).reshape((ndim,) + (1,) * ndim)
    ab = b - a
    t = np.clip(np.sum((coords - a) * ab, axis=0) / max(float(np.sum(ab ** 2)), 1e-12), 0.0, 1.0)
    closest = a + t[None] * ab
    return np.sqrt(np.sum((coords - closest) ** 2, axis=0)) - radius


def smooth_union(distances: Sequence[np.ndarray], smoothness_mm: float) -> np.ndarray:
    """Smooth minimum of several distance fields: merges lobes without creases at their junctions."""
    stacked = np.stack(distances)
    lowest = stacked.min(axis=0)
    # log-sum-exp around the minimum for numerical stability
    return lowest - smoothness_mm * np.log(np.sum(np.exp(-(stacked - lowest) / smoothness_mm), axis=0))


def smooth_random_field(rng: np.random.Generator, shape: Sequence[int], spacing: Sequence[float],
                        correlation_mm: float) -> np.ndarray:
    """Zero-mean, unit-std random field, smooth on the scale `correlation_mm` (Gaussian-filtered white noise)."""
    sigma_voxels = [correlation_mm / s for s in spacing]
    field = gaussian_filter(rng.normal(size=tuple(shape)), sigma_voxels, mode="reflect")
    field -= field.mean()
    return field / max(float(field.std()), 1e-12)


def random_displacement(rng: np.random.Generator, shape: Sequence[int], spacing: Sequence[float],
                        amplitude_mm: float, correlation_mm: float) -> np.ndarray:
    """A smooth random displacement field (ndim, *shape) in mm, used to deform shapes organically."""
    return np.stack([amplitude_mm * smooth_random_field(rng, shape, spacing, correlation_mm)
                     for _ in range(len(shape))])


def soft_mask(distance_mm: np.ndarray, edge_mm: float) -> np.ndarray:
    """Partial-volume occupancy in [0, 1]: the image gets blurred edges, the label stays `distance <= 0`."""
    return 1.0 / (1.0 + np.exp(np.clip(distance_mm / edge_mm, -50, 50)))


def random_unit_vector(rng: np.random.Generator, ndim: int) -> np.ndarray:
    v = rng.normal(size=ndim)
    return v / max(float(np.linalg.norm(v)), 1e-12)


def field_of_view_mm(shape: Sequence[int], spacing: Sequence[float]) -> Tuple[float, ...]:
    return tuple(float(n * s) for n, s in zip(shape, spacing))
