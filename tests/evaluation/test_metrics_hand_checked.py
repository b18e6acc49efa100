"""Metric values small enough to check on paper, the empty-mask policy, LCC, regions, ignore label."""
import math

import numpy as np
import pytest

from nnunetv2_pscm.evaluation.metrics import (
    BOTH_EMPTY_DICE,
    BOTH_EMPTY_JACCARD,
    BOTH_EMPTY_SURFACE_DISTANCE,
    ONE_EMPTY_DICE,
    ONE_EMPTY_JACCARD,
    compute_binary_metrics,
    compute_case_metrics,
    largest_connected_component,
)
from nnunetv2_pscm.evaluation.surface_distances import extract_surface, surface_distances, union_bounding_box


def single_voxel(shape, index):
    mask = np.zeros(shape, dtype=bool)
    mask[index] = True
    return mask


def test_two_single_voxels_3d_at_distance_five():
    pred = single_voxel((6, 6, 10), (2, 2, 2))
    ref = single_voxel((6, 6, 10), (2, 2, 7))
    result = compute_binary_metrics(pred, ref, spacing=(3.0, 2.0, 0.5), modes=("voxel", "mm"))
    for metric in ("hd95", "asd", "assd"):
        assert result["voxel"][metric] == pytest.approx(5.0)
        assert result["mm"][metric] == pytest.approx(2.5)  # 5 voxels along the 0.5 mm axis
    assert result["voxel"]["dice"] == 0.0 and result["voxel"]["jaccard"] == 0.0


def test_two_single_voxels_2d_diagonal_is_euclidean():
    pred = single_voxel((8, 8), (0, 0))
    ref = single_voxel((8, 8), (3, 4))
    result = compute_binary_metrics(pred, ref, spacing=(2.0, 1.0), modes=("voxel", "mm"))
    assert result["voxel"]["hd95"] == pytest.approx(5.0)
    assert result["mm"]["asd"] == pytest.approx(math.hypot(6.0, 4.0))


def cube(shape, start, size=4):
    mask = np.zeros(shape, dtype=bool)
    mask[tuple(slice(s, s + size) for s in start)] = True
    return mask


def test_cube_vs_cube_shifted_by_one_voxel():
    # 4^3 cubes, the prediction shifted by one voxel along axis 0: overlap 3*4*4 = 48 voxels.
    # Each surface has 64 - 2^3 = 56 voxels; 20 of them (4 inner voxels of the leading face + the 16 of the
    # trailing face) are 1 voxel from the other surface, the other 36 lie on it.
    ref = cube((10, 10, 10), (2, 2, 2))
    pred = cube((10, 10, 10), (3, 2, 2))
    result = compute_binary_metrics(pred, ref, spacing=(2.0, 1.0, 1.0), modes=("voxel", "mm"))
    voxel = result["voxel"]
    assert voxel["dice"] == pytest.approx(2 * 48 / 128)
    assert voxel["jaccard"] == pytest.approx(48 / 80)
    assert voxel["asd"] == pytest.approx(20 / 56)
    assert voxel["assd"] == pytest.approx(20 / 56)
    assert voxel["hd95"] == pytest.approx(1.0)  # 40 of 112 pooled distances are 1
    # 2 mm along axis 0: the 4 inner voxels of the leading face now find the in-plane ring at 1 mm,
    # the 16 trailing-face voxels are 2 mm away.
    assert result["mm"]["asd"] == pytest.approx((4 * 1 + 16 * 2) / 56)
    assert result["mm"]["dice"] == voxel["dice"]


def test_identical_masks_are_perfect():
    mask = cube((9, 9, 9), (1, 2, 3), size=5)
    result = compute_binary_metrics(mask, mask.copy(), spacing=(1.0, 2.0, 3.0), modes=("voxel", "mm"))
    for mode in ("voxel", "mm"):
        assert result[mode]["dice"] == 1.0 and result[mode]["jaccard"] == 1.0
        assert result[mode]["hd95"] == 0.0 and result[mode]["asd"] == 0.0 and result[mode]["assd"] == 0.0


def test_asd_is_directed_and_hd95_is_pooled():
    # ref: one voxel; pred: that voxel plus one 4 voxels away. pred->ref: [0, 4]; ref->pred: [0].
    ref = single_voxel((1, 12), (0, 2))
    pred = ref | single_voxel((1, 12), (0, 6))
    result = compute_binary_metrics(pred, ref)["voxel"]
    assert result["asd"] == pytest.approx(2.0)  # mean(0, 4)
    assert result["assd"] == pytest.approx((2.0 + 0.0) / 2)  # mean of the two directed means
    assert result["hd95"] == pytest.approx(np.percentile([0.0, 4.0, 0.0], 95))
    swapped = compute_binary_metrics(ref, pred)["voxel"]
    assert swapped["asd"] == pytest.approx(0.0)
    assert swapped["hd95"] == pytest.approx(result["hd95"])


def test_both_empty_policy():
    empty = np.zeros((5, 6, 7), dtype=bool)
    result = compute_binary_metrics(empty, empty, spacing=(1, 1, 1), modes=("voxel", "mm"))
    for mode in ("voxel", "mm"):
        row = result[mode]
        assert (row["dice"], row["jaccard"]) == (BOTH_EMPTY_DICE, BOTH_EMPTY_JACCARD) == (1.0, 1.0)
        assert row["hd95"] == row["asd"] == row["assd"] == BOTH_EMPTY_SURFACE_DISTANCE == 0.0
        assert row["pred_empty"] and row["ref_empty"]


@pytest.mark.parametrize("empty_side", ["pred", "ref"])
def test_one_empty_policy_is_nan_not_zero(empty_side):
    empty = np.zeros((5, 6, 7), dtype=bool)
    full = cube((5, 6, 7), (1, 1, 1), size=3)
    pred, ref = (empty, full) if empty_side == "pred" else (full, empty)
    row = compute_binary_metrics(pred, ref, spacing=(1, 1, 1), modes=("voxel", "mm"))["mm"]
    assert (row["dice"], row["jaccard"]) == (ONE_EMPTY_DICE, ONE_EMPTY_JACCARD) == (0.0, 0.0)
    assert all(math.isnan(row[m]) for m in ("hd95", "asd", "assd"))
    assert row["pred_empty"] == (empty_side == "pred") and row["ref_empty"] == (empty_side == "ref")


def test_surface_distances_raise_on_empty_mask():
    with pytest.raises(ValueError, match="empty"):
        surface_distances(np.zeros((3, 3), bool), single_voxel((3, 3), (1, 1)))


def test_voxels_on_the_array_border_are_surface_voxels():
    # medpy erodes with background outside the array, so a full array is all surface except its interior
    full = np.ones((4, 5, 6), dtype=bool)
    surface = extract_surface(full)
    assert surface.sum() == full.size - 2 * 3 * 4
    assert not surface[1:-1, 1:-1, 1:-1].any()


def test_union_bounding_box_grows_by_margin_and_clips():
    a = single_voxel((10, 10), (0, 4))
    b = single_voxel((10, 10), (3, 6))
    assert union_bounding_box(a, b) == (slice(0, 5), slice(3, 8))
    assert union_bounding_box(np.zeros((3, 3), bool), np.zeros((3, 3), bool)) is None


def test_largest_connected_component_uses_full_connectivity():
    mask = np.zeros((7, 7), dtype=bool)
    mask[0, 0] = mask[1, 1] = mask[2, 2] = True  # diagonal chain: one component of 3 under 8-connectivity
    mask[5:7, 5:7] = True  # 4 voxels
    kept = largest_connected_component(mask)
    assert kept.sum() == 4 and kept[5:7, 5:7].all()
    mask[3, 3] = mask[4, 4] = True  # now the diagonal (5 voxels, touching the square diagonally) joins it
    assert largest_connected_component(mask).sum() == 9
    assert not largest_connected_component(np.zeros((3, 3), bool)).any()


def label_map_two_classes():
    ref = np.zeros((8, 8, 8), dtype=np.int16)
    ref[1:4, 1:4, 1:4] = 1
    ref[4:7, 4:7, 4:7] = 2
    pred = ref.copy()
    pred[4:7, 4:7, 4] = 1  # one slab of class 2 predicted as class 1
    return pred, ref


def test_case_metrics_rows_per_class_and_mode():
    pred, ref = label_map_two_classes()
    rows = compute_case_metrics(pred, ref, [1, 2], spacing=(1.0, 1.0, 2.0), class_names=["a", "b"])
    assert [(r["class"], r["mode"]) for r in rows] == [("a", "voxel"), ("a", "mm"), ("b", "voxel"), ("b", "mm")]
    class_b = rows[2]
    assert class_b["n_ref"] == 27 and class_b["n_pred"] == 18
    assert class_b["dice"] == pytest.approx(2 * 18 / 45)
    class_a = rows[0]
    assert class_a["jaccard"] == pytest.approx(27 / 36)


def test_regions_are_unions_of_labels():
    pred, ref = label_map_two_classes()
    rows = compute_case_metrics(pred, ref, [(1, 2), (2,)], modes=("voxel",), class_names=["whole", "core"])
    assert rows[0]["dice"] == 1.0 and rows[0]["hd95"] == 0.0  # label confusion inside the union is invisible
    assert rows[1]["dice"] == pytest.approx(2 * 18 / 45)
    assert rows[0]["label_or_region"] == (1, 2)


def test_lcc_removes_a_far_false_positive():
    ref = np.zeros((20, 20), dtype=np.uint8)
    ref[2:6, 2:6] = 1
    pred = ref.copy()
    pred[17, 17] = 1  # a stray voxel far away
    plain = compute_case_metrics(pred, ref, [1], modes=("voxel",))[0]
    cleaned = compute_case_metrics(pred, ref, [1], modes=("voxel",), lcc=True)[0]
    assert plain["asd"] > 0 and cleaned["asd"] == 0.0 and cleaned["dice"] == 1.0


def test_ignore_label_voxels_are_excluded_from_both_masks():
    ref = np.zeros((10, 10), dtype=np.uint8)
    ref[2:5, 2:5] = 1
    ref[:, 8:] = 3  # ignore label
    pred = np.where(ref == 3, 1, ref)  # predicting foreground inside the ignored area costs nothing
    row = compute_case_metrics(pred, ref, [1], modes=("voxel",), ignore_label=3)[0]
    assert row["dice"] == 1.0 and row["hd95"] == 0.0
    assert compute_case_metrics(pred, ref, [1], modes=("voxel",))[0]["dice"] < 1.0


def test_invalid_arguments_raise():
    mask = single_voxel((4, 4), (1, 1))
    with pytest.raises(ValueError, match="shapes differ"):
        compute_binary_metrics(mask, np.zeros((4, 5), bool))
    with pytest.raises(ValueError, match="spacing"):
        compute_binary_metrics(mask, mask, modes=("mm",))
    with pytest.raises(ValueError, match="2 entries|entries"):
        compute_binary_metrics(mask, mask, spacing=(1.0, 1.0, 1.0), modes=("mm",))
    with pytest.raises(ValueError, match="modes"):
        compute_binary_metrics(mask, mask, modes=("cm",))
    with pytest.raises(ValueError, match="class_names"):
        compute_case_metrics(mask, mask, [1], class_names=["a", "b"])
