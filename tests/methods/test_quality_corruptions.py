"""QG-SSL corruptions (methods/quality/corruptions.py) on hand-made masks whose results are computed on paper, the
invariants every corruption keeps (shape, dtype, labels in [0, C), input untouched), seeded reproducibility, and the
Dice with its empty-class conventions."""
import numpy as np
import pytest
from scipy import ndimage

from nnunetv2_pscm.evaluation.metrics import compute_binary_metrics
from nnunetv2_pscm.methods.quality.corruptions import (CORRUPTIONS, RandomCorruption, add_blobs, boundary_jitter,
                                                       class_swap, dice_per_class, dilation, elastic_warp, erosion,
                                                       random_corruption, remove_blobs, shift)


def square(size: int, side: int, start: int, dtype=np.int16) -> np.ndarray:
    label = np.zeros((size, size), dtype)
    label[start:start + side, start:start + side] = 1
    return label


def multi_class(shape, num_classes: int) -> np.ndarray:
    """Nested boxes: class c fills the box c + 1 voxels in from the border (every class present, classes touch)."""
    label = np.zeros(shape, np.uint8)
    for c in range(1, num_classes):
        margin = 1 + c
        label[tuple(slice(margin, s - margin) for s in shape)] = c
    return label


def test_erosion_of_a_10x10_square_by_1_is_the_8x8_square():
    truth = square(14, 10, 2)
    eroded = erosion(truth, np.random.default_rng(0), radius=1)
    assert np.array_equal(eroded, square(14, 8, 3))
    assert dice_per_class(eroded, truth, 2) == pytest.approx([2 * 64 / (100 + 64)])


def test_erosion_3d_cube_6_by_1_is_cube_4_and_a_map_wide_class_is_kept():
    cube = np.zeros((8, 8, 8), np.int32)
    cube[1:7, 1:7, 1:7] = 1
    eroded = erosion(cube, None, radius=1)
    assert eroded.sum() == 64 and eroded[2:6, 2:6, 2:6].all()
    assert dice_per_class(eroded, cube, 2) == pytest.approx([2 * 64 / (216 + 64)])
    assert np.array_equal(erosion(np.ones((5, 5), np.int8), None, radius=2), np.ones((5, 5)))  # border is no boundary


def test_dilation_by_1_adds_the_four_sides_and_nearest_class_wins():
    truth = square(12, 8, 2)
    dilated = dilation(truth, None, radius=1)
    assert dilated.sum() == 64 + 4 * 8  # a radius-1 ball is the cross: corners stay background
    assert dilated[1, 1] == 0 and dilated[1, 2] == 1
    assert dice_per_class(dilated, truth, 2) == pytest.approx([2 * 64 / (64 + 96)])
    row = np.array([[1, 0, 0, 0, 0, 0, 2]], np.uint8)
    assert dilation(row, None, radius=2).tolist() == [[1, 1, 1, 0, 2, 2, 2]]


@pytest.mark.parametrize("offset, overlap", [((2, 0), 2 * 4), ((0, -2), 4 * 2), ((2, 2), 2 * 2), ((4, 0), 0)])
def test_shift_of_a_4x4_square(offset, overlap):
    truth = square(12, 4, 4)
    moved = shift(truth, None, offset=offset)
    assert moved.sum() == 16 and moved[4 + offset[0], 4 + offset[1]] == 1
    assert dice_per_class(moved, truth, 2) == pytest.approx([2 * overlap / (16 + 16)])


def test_shift_out_of_the_map_leaves_background():
    moved = shift(square(6, 4, 2), None, offset=(3, 0))
    assert moved.sum() == 4 and moved[5, 2:6].all()  # one row of the square is left inside


def test_class_swap_exchanges_the_two_labels():
    label = np.array([[0, 1, 1], [2, 2, 0], [1, 0, 2]], np.uint8)
    swapped = class_swap(label, np.random.default_rng(3))
    assert swapped.tolist() == [[0, 2, 2], [1, 1, 0], [2, 0, 1]]
    with pytest.raises(ValueError, match="two foreground classes"):
        class_swap(square(5, 2, 1), np.random.default_rng(0))


def test_blobs_only_add_on_background_or_only_remove_foreground():
    truth = np.zeros((30, 30), np.uint8)
    truth[8:22, 8:22] = 1
    truth[12:18, 12:18] = 2
    rng = np.random.default_rng(0)
    added = add_blobs(truth, rng, num_blobs=3, radius=4.0, num_classes=3)
    assert np.array_equal(added[truth > 0], truth[truth > 0]) and (added > 0).sum() > (truth > 0).sum()
    removed = remove_blobs(truth, rng, num_blobs=2, radius=3.0)
    assert np.all((removed == truth) | (removed == 0)) and (removed > 0).sum() < (truth > 0).sum()
    assert np.array_equal(remove_blobs(np.zeros((4, 4), np.int8), rng), np.zeros((4, 4)))


def test_warps_move_boundaries_only_within_their_amplitude():
    truth = np.zeros((40, 40), np.int16)
    truth[10:30, 8:32] = 1
    rng = np.random.default_rng(1)
    assert np.array_equal(elastic_warp(truth, rng, magnitude=0.0), truth)
    jittered = boundary_jitter(truth, rng, amplitude=2.0)
    assert not np.array_equal(jittered, truth)
    # displacement components are at most 2 (+ 0.5 of nearest-voxel rounding), so a voxel farther than 2.5 * sqrt(2)
    # from every voxel of the other label keeps its own
    to_other = np.where(truth > 0, ndimage.distance_transform_edt(truth), ndimage.distance_transform_edt(1 - truth))
    far = to_other > 2.5 * 2 ** 0.5
    assert far.sum() > 1000
    assert np.array_equal(jittered[far], truth[far])
    warped = elastic_warp(truth, rng, magnitude=3.0, smoothness=6.0)
    assert 0.6 < dice_per_class(warped, truth, 2)[0] < 1.0


def _kwargs(name: str, ndim: int, num_classes: int) -> dict:
    return {"erosion": {"radius": 2}, "dilation": {"radius": 2}, "shift": {"offset": (1,) * ndim},
            "add_blobs": {"num_blobs": 2, "radius": 3.0, "num_classes": num_classes}}.get(name, {})


@pytest.mark.parametrize("name, num_classes, dtype", [(n, 2, np.uint8) for n in CORRUPTIONS if n != "class_swap"]
                         + [(n, 4, np.int16) for n in CORRUPTIONS])  # class swaps are for multi-class maps only
@pytest.mark.parametrize("shape", [(23, 17), (13, 11, 9)])
def test_every_corruption_keeps_shape_dtype_and_label_range(name, shape, num_classes, dtype):
    label = multi_class(shape, num_classes).astype(dtype)
    before = label.copy()
    out = CORRUPTIONS[name](label, np.random.default_rng(0), **_kwargs(name, len(shape), num_classes))
    assert out.shape == label.shape and out.dtype == label.dtype
    assert out.min() >= 0 and out.max() < num_classes
    assert np.array_equal(label, before)  # the input is never modified


@pytest.mark.parametrize("shape, num_classes", [((32, 28), 2), ((16, 15, 13), 4)])
def test_random_corruption_is_reproducible_and_in_range(shape, num_classes):
    label = multi_class(shape, num_classes)
    first = [random_corruption(label, np.random.default_rng(seed), num_classes) for seed in range(6)]
    again = [random_corruption(label, np.random.default_rng(seed), num_classes) for seed in range(6)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert len({a.tobytes() for a in first}) > 1
    assert all(a.shape == label.shape and a.dtype == label.dtype and 0 <= a.min() and a.max() < num_classes
               for a in first)
    chain = RandomCorruption(max_chain=2).sample_chain(label, np.random.default_rng(0), num_classes)
    assert 1 <= len(chain) <= 2 and all(name in CORRUPTIONS for name, _ in chain)


def test_random_corruption_never_swaps_a_single_class_map():
    sampler = RandomCorruption(names=("class_swap", "erosion"))
    for seed in range(10):
        assert all(n == "erosion" for n, _ in sampler.sample_chain(square(8, 4, 2), np.random.default_rng(seed)))


def test_dice_conventions_and_agreement_with_evaluation_metrics():
    truth = np.array([[1, 1, 0, 0], [1, 1, 0, 0]], np.uint8)
    pred = np.array([[1, 0, 3, 0], [1, 0, 0, 0]], np.uint8)
    # class 1: |P|=2, |T|=4, overlap 2 -> 4/6; class 2 absent in both -> 1; class 3 predicted only -> 0
    assert dice_per_class(pred, truth, 4) == pytest.approx([4 / 6, 1.0, 0.0])
    assert dice_per_class(truth, pred, 4)[2] == 0.0  # in the truth, not predicted
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 3, (9, 8, 7)), rng.integers(0, 3, (9, 8, 7))
    expected = [compute_binary_metrics(a == c, b == c)["voxel"]["dice"] for c in (1, 2)]
    assert dice_per_class(a, b, 3) == pytest.approx(expected)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="outside"):
        dice_per_class(np.full((2, 2), 3), np.zeros((2, 2), int), 3)
    with pytest.raises(ValueError, match="shapes differ"):
        dice_per_class(np.zeros((2, 2), int), np.zeros((2, 3), int), 2)
    with pytest.raises(TypeError, match="integer"):
        erosion(np.zeros((3, 3)), None)
    with pytest.raises(ValueError, match="entries"):
        shift(np.zeros((3, 3), int), None, offset=(1, 1, 1))
