"""2D synthetic case, heart short-axis-like: a bright cavity (1) inside a darker ring wall (2), with a
bright crescent (3) hugging one side of the ring; look-alike rings and bright blobs are never labeled.

Field of view: 96 x 96 mm (96^2 pixels at 1 mm), stored as a one-slice 3D image (slice thickness 8 mm),
which is how nnU-Net stores 2D data in NIfTI. What makes it non-trivial:
* the cavity, the crescent and the distractor blobs all have blood-like brightness: only the ring
  around the cavity and the crescent's position against the ring tell them apart;
* a distractor "small ring" mimics the cavity + wall pattern, only smaller and thinner;
* dark "papillary muscles" sit inside the cavity and belong to it (as in ACDC), so a threshold
  carves holes into class 1.
"""
from typing import List

import numpy as np

from nnunetv2_pscm.synthetic.appearance import (multiplicative_bias_field, paint, rician_noise, scanner_scaling,
                                                textured_intensity)
from nnunetv2_pscm.synthetic.case import SyntheticCase
from nnunetv2_pscm.synthetic.shapes import centered_mm_grid, ellipsoid_distance, random_displacement, rotation_2d, \
    soft_mask

IMAGE_SIZE = (96, 96)
IN_PLANE_SPACING = (1.0, 1.0)
SLICE_THICKNESS_MM = 8.0
PARTIAL_VOLUME_EDGE_MM = 0.4
MIN_GAP_DISTRACTOR_TO_HEART_MM = 3.0

CAVITY, WALL, CRESCENT = 1, 2, 3


def make_heart_case(rng: np.random.Generator) -> SyntheticCase:
    shape, spacing = IMAGE_SIZE, IN_PLANE_SPACING
    coords = centered_mm_grid(shape, spacing)

    body_warp = random_displacement(rng, shape, spacing, amplitude_mm=2.0, correlation_mm=12.0)
    body_radii = np.array([rng.uniform(36, 42), rng.uniform(41, 46)])
    body_distance = ellipsoid_distance(coords + body_warp, rng.uniform(-2, 2, size=2), body_radii)

    heart = _heart_geometry(rng, coords, shape, spacing, body_distance)
    heart_distance = np.minimum(heart["outer"], heart["crescent"])

    distractors = _place_distractors(rng, coords, body_distance, body_radii, heart_distance)
    distractor_mask = np.zeros(shape, dtype=bool)
    for d in distractors:
        distractor_mask |= d["outer"] <= 0

    # per-case contrasts relative to blood (1.0)
    wall_intensity = rng.uniform(0.45, 0.6)
    tissue = lambda mean, amplitude=0.06, grain=3.0: textured_intensity(rng, shape, spacing, mean, amplitude, grain)

    image = np.zeros(shape)
    image = paint(image, soft_mask(body_distance, PARTIAL_VOLUME_EDGE_MM), tissue(rng.uniform(0.28, 0.42), 0.1, 4.0))
    for side in (-1, 1):  # dark lungs beside the heart: context, not a label
        lung = ellipsoid_distance(coords + body_warp, [rng.uniform(-8, 0), side * rng.uniform(20, 26)],
                                  [rng.uniform(14, 20), rng.uniform(9, 13)], rotation_2d(rng.uniform(-0.3, 0.3)))
        image = paint(image, soft_mask(np.maximum(lung, body_distance), PARTIAL_VOLUME_EDGE_MM),
                      tissue(rng.uniform(0.05, 0.12)))
    for d in distractors:
        image = paint(image, soft_mask(d["outer"], PARTIAL_VOLUME_EDGE_MM),
                      tissue(wall_intensity * rng.uniform(0.9, 1.1)))
        image = paint(image, soft_mask(d["inner"], PARTIAL_VOLUME_EDGE_MM),
                      tissue(rng.uniform(0.85, 1.1), 0.12, 1.0))
    image = paint(image, soft_mask(heart["crescent"], PARTIAL_VOLUME_EDGE_MM), tissue(rng.uniform(0.85, 1.05)))
    image = paint(image, soft_mask(heart["outer"], PARTIAL_VOLUME_EDGE_MM), tissue(wall_intensity))
    image = paint(image, soft_mask(heart["inner"], PARTIAL_VOLUME_EDGE_MM), tissue(1.0))
    for papillary in heart["papillary"]:
        image = paint(image, soft_mask(papillary, PARTIAL_VOLUME_EDGE_MM), tissue(wall_intensity))

    image = image * multiplicative_bias_field(rng, shape, spacing, rng.uniform(0.1, 0.3), 30.0)
    image = rician_noise(rng, image, sigma=rng.uniform(0.03, 0.07))
    image = scanner_scaling(rng, image)

    label = np.zeros(shape, dtype=np.uint8)
    label[heart["crescent"] <= 0] = CRESCENT
    label[heart["outer"] <= 0] = WALL
    label[heart["inner"] <= 0] = CAVITY  # papillary muscles included, they lie inside the inner contour
    label[distractor_mask] = 0  # distractors are placed clear of the heart; this only makes it explicit
    return SyntheticCase(image.astype(np.float32)[None], label[None], distractor_mask[None],
                         (SLICE_THICKNESS_MM,) + tuple(spacing))


def _heart_geometry(rng, coords, shape, spacing, body_distance) -> dict:
    center = np.array([rng.uniform(-6, 6), rng.uniform(-4, 8)])
    outer_radius = rng.uniform(14, 20)
    wall_thickness = rng.uniform(4, 7)
    orientation = rotation_2d(rng.uniform(0, np.pi))
    aspect = np.array([1.0, rng.uniform(0.85, 1.0)])
    warped = coords + random_displacement(rng, shape, spacing, amplitude_mm=rng.uniform(0.5, 1.5), correlation_mm=8.0)
    outer = ellipsoid_distance(warped, center, outer_radius * aspect, orientation)
    inner_radius = outer_radius - wall_thickness
    inner = ellipsoid_distance(warped, center + rng.uniform(-1, 1, size=2), inner_radius * aspect, orientation)

    # the crescent: a tangentially elongated ellipse leaning on one side of the ring, minus the ring
    angle = np.pi + rng.uniform(-0.5, 0.5)  # always on the same side: position is part of the task
    radial = np.array([np.sin(angle), np.cos(angle)])
    crescent_center = center + radial * outer_radius * rng.uniform(0.7, 1.0)
    crescent_radii = outer_radius * np.array([rng.uniform(0.55, 0.8), rng.uniform(1.1, 1.5)])
    crescent_rotation = np.column_stack([radial, [-radial[1], radial[0]]])
    crescent = np.maximum(ellipsoid_distance(warped, crescent_center, crescent_radii, crescent_rotation), -outer)
    crescent = np.maximum(crescent, body_distance + 2.0)  # never leave the body

    papillary = []
    for _ in range(rng.integers(0, 3)):
        direction = rotation_2d(rng.uniform(0, 2 * np.pi)) @ np.array([1.0, 0.0])
        radius = rng.uniform(1.5, 2.5)
        papillary_center = center + direction * max(inner_radius - radius - 0.5, 0.0)
        papillary.append(ellipsoid_distance(warped, papillary_center, [radius, radius]))
    return {"outer": outer, "inner": inner, "crescent": crescent, "papillary": papillary}


def _place_distractors(rng, coords, body_distance, body_radii, heart_distance) -> List[dict]:
    """1-3 look-alikes: small rings (a thin dark wall around a bright disc) or bright blobs."""
    placed = []
    for _ in range(rng.integers(1, 4)):
        for _attempt in range(40):
            center = rng.uniform(-0.75, 0.75, size=2) * body_radii
            rotation = rotation_2d(rng.uniform(0, np.pi))
            if rng.uniform() < 0.5:  # small ring: mimics cavity + wall, smaller and thinner
                outer_radius = rng.uniform(6, 10)
                radii = outer_radius * np.array([1.0, rng.uniform(0.85, 1.0)])
                outer = ellipsoid_distance(coords, center, radii, rotation)
                inner = ellipsoid_distance(coords, center, radii - rng.uniform(1.5, 3.0), rotation)
            else:  # bright blob without a wall
                radii = np.array([rng.uniform(5, 9), rng.uniform(4, 8)])
                outer = inner = ellipsoid_distance(coords, center, radii, rotation)
            inside = outer <= 0
            if not inside.any():
                continue
            fits_in_body = body_distance[inside].max() < -2.0
            clear_of_heart = heart_distance[inside].min() > MIN_GAP_DISTRACTOR_TO_HEART_MM
            clear_of_others = all(other["outer"][inside].min() > 1.0 for other in placed)
            if fits_in_body and clear_of_heart and clear_of_others:
                placed.append({"outer": outer, "inner": inner})
                break
    return placed
