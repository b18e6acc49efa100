"""Agreement (1e-6) with two independent references on small random masks, 2D and 3D, iso- and anisotropic:

* a brute-force implementation written here: surfaces from explicit face-neighbour checks (no erosion),
  distances from all pairs of surface voxels (no distance transform, no cropping);
* medpy (test-only dependency; those tests are skipped when it is not installed).
"""
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from nnunetv2_pscm.evaluation.metrics import compute_binary_metrics, compute_case_metrics
from nnunetv2_pscm.evaluation.surface_distances import surface_distances

TOLERANCE = 1e-6


# ----------------------------------------------------------------------------- brute-force reference
def brute_force_surface(mask: np.ndarray) -> np.ndarray:
    """Foreground voxels with at least one face neighbour that is background or outside the array."""
    padded = np.pad(mask, 1, constant_values=False)
    inner = tuple(slice(1, -1) for _ in range(mask.ndim))
    all_neighbours_foreground = np.ones_like(mask)
    for axis in range(mask.ndim):
        for step in (-1, 1):
            all_neighbours_foreground &= np.roll(padded, step, axis=axis)[inner]
    return mask & ~all_neighbours_foreground


def brute_force_directed(from_mask, to_mask, spacing):
    scale = np.ones(from_mask.ndim) if spacing is None else np.asarray(spacing, dtype=np.float64)
    from_points = np.argwhere(brute_force_surface(from_mask)) * scale
    to_points = np.argwhere(brute_force_surface(to_mask)) * scale
    pairwise = np.sqrt(((from_points[:, None, :] - to_points[None, :, :]) ** 2).sum(-1))
    return pairwise.min(axis=1)


def brute_force_metrics(pred, ref, spacing):
    intersection = np.logical_and(pred, ref).sum()
    to_ref = brute_force_directed(pred, ref, spacing)
    to_pred = brute_force_directed(ref, pred, spacing)
    return {
        "dice": 2 * intersection / (pred.sum() + ref.sum()),
        "jaccard": intersection / np.logical_or(pred, ref).sum(),
        "hd95": np.percentile(np.concatenate([to_ref, to_pred]), 95),
        "asd": to_ref.mean(),
        "assd": (to_ref.mean() + to_pred.mean()) / 2,
    }


# ----------------------------------------------------------------------------- random test masks
SHAPES = {"2d": (23, 19), "3d": (13, 11, 9)}
SPACINGS = {"2d": (0.7, 2.5), "3d": (3.0, 0.8, 1.3)}


def random_blob(rng, shape, noise_fraction=0.0):
    """A smooth random blob, optionally with salt noise, never empty; may touch the array border."""
    field = gaussian_filter(rng.standard_normal(shape), sigma=1.5)
    mask = field > np.quantile(field, rng.uniform(0.5, 0.85))
    if noise_fraction:
        mask ^= rng.random(shape) < noise_fraction
    if not mask.any():
        mask[tuple(s // 2 for s in shape)] = True
    return mask


def random_pair(seed, dim, noise_fraction=0.0):
    rng = np.random.default_rng(seed)
    shape = SHAPES[dim]
    return random_blob(rng, shape, noise_fraction), random_blob(rng, shape, noise_fraction)


CASES = [(seed, dim, noise) for dim in ("2d", "3d") for seed in range(4) for noise in (0.0, 0.05)]


@pytest.mark.parametrize("seed,dim,noise", CASES)
@pytest.mark.parametrize("anisotropic", [False, True])
def test_directed_distances_match_all_pairs(seed, dim, noise, anisotropic):
    pred, ref = random_pair(seed, dim, noise)
    spacing = SPACINGS[dim] if anisotropic else None
    to_ref, to_pred = surface_distances(pred, ref, spacing)
    # both list surface voxels in C order (the crop preserves it), so compare element by element
    np.testing.assert_allclose(to_ref, brute_force_directed(pred, ref, spacing), atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(to_pred, brute_force_directed(ref, pred, spacing), atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("seed,dim,noise", CASES)
def test_metrics_match_brute_force_in_both_modes(seed, dim, noise):
    pred, ref = random_pair(seed, dim, noise)
    result = compute_binary_metrics(pred, ref, spacing=SPACINGS[dim], modes=("voxel", "mm"))
    for mode, spacing in (("voxel", None), ("mm", SPACINGS[dim])):
        expected = brute_force_metrics(pred, ref, spacing)
        for metric, value in expected.items():
            assert result[mode][metric] == pytest.approx(value, abs=TOLERANCE), (mode, metric)


def test_multiclass_and_regions_match_brute_force():
    rng = np.random.default_rng(7)
    shape = SHAPES["3d"]
    ref = np.zeros(shape, dtype=np.uint8)
    pred = np.zeros(shape, dtype=np.uint8)
    for value in (1, 2, 3):  # later labels overwrite earlier ones, like a real label map
        ref[random_blob(rng, shape)] = value
        pred[random_blob(rng, shape)] = value
    classes = [1, 2, 3, (1, 2), (2, 3)]
    rows = compute_case_metrics(pred, ref, classes, spacing=SPACINGS["3d"], modes=("voxel", "mm"))
    for row in rows:
        members = row["label_or_region"] if isinstance(row["label_or_region"], tuple) else (row["label_or_region"],)
        pred_mask, ref_mask = np.isin(pred, members), np.isin(ref, members)
        if not pred_mask.any() or not ref_mask.any():
            continue
        spacing = SPACINGS["3d"] if row["mode"] == "mm" else None
        for metric, value in brute_force_metrics(pred_mask, ref_mask, spacing).items():
            assert row[metric] == pytest.approx(value, abs=TOLERANCE), (row["class"], row["mode"], metric)


def test_brute_force_surface_agrees_with_a_hand_example():
    mask = np.zeros((5, 5), dtype=bool)
    mask[1:4, 1:4] = True
    expected = mask.copy()
    expected[2, 2] = False
    np.testing.assert_array_equal(brute_force_surface(mask), expected)


# ----------------------------------------------------------------------------- medpy
@pytest.mark.parametrize("seed,dim,noise", CASES)
def test_metrics_match_medpy(seed, dim, noise):
    medpy_binary = pytest.importorskip("medpy.metric.binary")
    pred, ref = random_pair(seed, dim, noise)
    result = compute_binary_metrics(pred, ref, spacing=SPACINGS[dim], modes=("voxel", "mm"))
    for mode, spacing in (("voxel", None), ("mm", SPACINGS[dim])):
        expected = {
            "dice": medpy_binary.dc(pred, ref),
            "jaccard": medpy_binary.jc(pred, ref),
            "hd95": medpy_binary.hd95(pred, ref, voxelspacing=spacing),
            "asd": medpy_binary.asd(pred, ref, voxelspacing=spacing),
            # medpy <= 0.4 definition: mean of the two directed means (0.5 pools the distances instead)
            "assd": (
                medpy_binary.asd(pred, ref, voxelspacing=spacing) + medpy_binary.asd(ref, pred, voxelspacing=spacing)
            )
            / 2,
        }
        for metric, value in expected.items():
            assert result[mode][metric] == pytest.approx(value, abs=TOLERANCE), (mode, metric)

