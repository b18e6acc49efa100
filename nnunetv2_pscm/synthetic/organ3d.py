"""3D synthetic case: one lobulated "organ" (label 1) among look-alike blobs and tubes that are never labeled.

Field of view: 48 mm cube (48^3 voxels at the default 1 mm spacing). What tells the organ apart:
* shape: 2-4 merged, smoothly deformed ellipsoids (lobulated), while distractors are single
  near-spherical "cysts" or straight "vessel" tubes;
* context: the organ sits in one region of the body (on the +x side), distractors anywhere;
* texture: the organ has a smooth, low-contrast texture, distractors a finer, stronger grain.
Intensity does not: a distractor's mean is 85-115 % of the organ's, then bias field and noise blur
the rest. Only shape and context separate them, which is what a few labels teach poorly and
many unlabeled images help with.
"""
from typing import List, Sequence

import numpy as np

from nnunetv2_pscm.synthetic.appearance import (multiplicative_bias_field, paint, rician_noise, scanner_scaling,
                                                textured_intensity)
from nnunetv2_pscm.synthetic.case import SyntheticCase
from nnunetv2_pscm.synthetic.shapes import (capsule_distance, centered_mm_grid, ellipsoid_distance,
                                            random_displacement, random_rotation, random_unit_vector, smooth_union,
                                            soft_mask)

FIELD_OF_VIEW_MM = 48.0
PARTIAL_VOLUME_EDGE_MM = 0.4
MIN_GAP_DISTRACTOR_TO_ORGAN_MM = 2.0


def grid_shape_for_spacing(spacing: Sequence[float]) -> tuple:
    """Voxels per axis so that the field of view stays 48 mm whatever the spacing."""
    return tuple(max(8, int(round(FIELD_OF_VIEW_MM / s))) for s in spacing)


def make_organ_case(rng: np.random.Generator, spacing: Sequence[float] = (1.0, 1.0, 1.0)) -> SyntheticCase:
    spacing = tuple(float(s) for s in spacing)
    shape = grid_shape_for_spacing(spacing)
    coords = centered_mm_grid(shape, spacing)
    half_fov = FIELD_OF_VIEW_MM / 2

    # body: a deformed ellipsoid of soft tissue filling most of the field of view, air outside
    body_warp = random_displacement(rng, shape, spacing, amplitude_mm=1.5, correlation_mm=12.0)
    body_radii = half_fov * rng.uniform(0.85, 0.97, size=3)
    body_distance = ellipsoid_distance(coords + body_warp, rng.uniform(-1.0, 1.0, size=3), body_radii)

    organ_distance = _make_organ(rng, coords, shape, spacing)
    organ_mask = organ_distance <= 0

    distractor_distances = _place_distractors(rng, coords, body_distance, body_radii, organ_distance)
    distractor_mask = np.zeros(shape, dtype=bool)
    for distance in distractor_distances:
        distractor_mask |= distance <= 0

    # per-case tissue contrasts, relative to the organ (1.0); the scanner scaling later changes all of them
    image = np.zeros(shape)
    image = paint(image, soft_mask(body_distance, PARTIAL_VOLUME_EDGE_MM),
                  textured_intensity(rng, shape, spacing, rng.uniform(0.3, 0.45), 0.08, 4.0))
    for _ in range(2):  # large, dimmer "other organs" as clutter
        clutter_center = rng.uniform(-0.5, 0.5, size=3) * body_radii
        clutter = ellipsoid_distance(coords + body_warp, clutter_center, rng.uniform(6.0, 11.0, size=3),
                                     random_rotation(rng, 3))
        image = paint(image, soft_mask(np.maximum(clutter, body_distance), PARTIAL_VOLUME_EDGE_MM),
                      textured_intensity(rng, shape, spacing, rng.uniform(0.5, 0.7), 0.08, 4.0))
    for distance in distractor_distances:
        image = paint(image, soft_mask(distance, PARTIAL_VOLUME_EDGE_MM),
                      textured_intensity(rng, shape, spacing, rng.uniform(0.85, 1.15), 0.12, 1.0))
    image = paint(image, soft_mask(organ_distance, PARTIAL_VOLUME_EDGE_MM),
                  textured_intensity(rng, shape, spacing, 1.0, 0.06, 3.0))

    image = image * multiplicative_bias_field(rng, shape, spacing, rng.uniform(0.1, 0.3), 16.0)
    image = rician_noise(rng, image, sigma=rng.uniform(0.03, 0.07))
    image = scanner_scaling(rng, image)

    label = (organ_mask & ~distractor_mask).astype(np.uint8)
    return SyntheticCase(image.astype(np.float32), label, distractor_mask, spacing)


def _make_organ(rng, coords, shape, spacing) -> np.ndarray:
    """Approximate signed distance of the lobulated organ, already deformed."""
    center = np.array([rng.uniform(-4, 4), rng.uniform(-6, 2), rng.uniform(3, 9)])
    main_radius = rng.uniform(6.0, 8.5)
    warp = random_displacement(rng, shape, spacing, amplitude_mm=rng.uniform(1.0, 2.5), correlation_mm=6.0)
    # deforming the coordinates (not the mask) keeps the shape smooth and the distance meaningful
    warped = coords + warp
    main_radii = main_radius * np.array([1.0, rng.uniform(0.65, 0.9), rng.uniform(0.5, 0.8)])
    lobes = [ellipsoid_distance(warped, center, main_radii, random_rotation(rng, 3))]
    for _ in range(rng.integers(1, 4)):
        lobe_center = center + random_unit_vector(rng, 3) * main_radius * rng.uniform(0.6, 1.0)
        lobe_radii = rng.uniform(3.5, 5.5) * np.array([1.0, rng.uniform(0.7, 1.0), rng.uniform(0.6, 1.0)])
        lobes.append(ellipsoid_distance(warped, lobe_center, lobe_radii, random_rotation(rng, 3)))
    return smooth_union(lobes, smoothness_mm=2.0)


def _place_distractors(rng, coords, body_distance, body_radii, organ_distance) -> List[np.ndarray]:
    """2-3 look-alikes inside the body, each at least 2 mm away from the organ (so none is ever labeled)."""
    placed = []
    for _ in range(rng.integers(2, 4)):
        for _attempt in range(30):
            shift = rng.uniform(-0.6, 0.6, size=3) * body_radii
            distance = _distractor_distance(rng, coords - shift.reshape(3, 1, 1, 1))
            inside = distance <= 0
            if not inside.any():
                continue
            fits_in_body = body_distance[inside].max() < -1.0
            clear_of_organ = organ_distance[inside].min() > MIN_GAP_DISTRACTOR_TO_ORGAN_MM
            clear_of_others = all(other[inside].min() > 1.0 for other in placed)
            if fits_in_body and clear_of_organ and clear_of_others:
                placed.append(distance)
                break
    return placed


def _distractor_distance(rng, coords) -> np.ndarray:
    """A single look-alike: a near-spherical cyst or a straight vessel segment."""
    if rng.uniform() < 0.6:
        radius = rng.uniform(3.5, 7.0)
        radii = radius * np.array([1.0, rng.uniform(0.85, 1.0), rng.uniform(0.8, 1.0)])
        return ellipsoid_distance(coords, np.zeros(3), radii, random_rotation(rng, 3))
    half_length = rng.uniform(5.0, 10.0)
    direction = random_unit_vector(rng, 3)
    return capsule_distance(coords, -half_length * direction, half_length * direction, rng.uniform(2.0, 3.5))
