"""In-memory properties of the synthetic cases: determinism, labels, distractors, difficulty."""
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from nnunetv2_pscm.synthetic import LABELS, make_case


@pytest.mark.parametrize("kind", ["3d", "2d"])
def test_same_seed_gives_identical_bytes_and_other_seed_differs(kind):
    a, b = make_case(kind, seed=3, index=1), make_case(kind, seed=3, index=1)
    assert a.image.tobytes() == b.image.tobytes()
    assert a.label.tobytes() == b.label.tobytes()
    other = make_case(kind, seed=4, index=1)
    assert a.image.tobytes() != other.image.tobytes()


def test_unlabeled_stream_is_independent_of_labeled_stream():
    assert make_case("3d", 0, 0).image.tobytes() != make_case("3d", 0, 0, unlabeled=True).image.tobytes()


@pytest.mark.parametrize("kind, expected_shape", [("3d", (48, 48, 48)), ("2d", (1, 96, 96))])
def test_every_class_present_and_distractors_never_labeled(kind, expected_shape):
    expected_labels = sorted(LABELS[kind].values())
    cases_with_distractors = 0
    for index in range(6):
        case = make_case(kind, seed=0, index=index)
        assert case.image.shape == expected_shape and case.image.dtype == np.float32
        assert case.label.dtype == np.uint8
        assert sorted(np.unique(case.label).tolist()) == expected_labels, f"case {index}"
        assert not np.any(case.label[case.distractor_mask]), f"case {index}: a distractor voxel is labeled"
        cases_with_distractors += bool(case.distractor_mask.any())
    assert cases_with_distractors >= 5


def test_2d_is_a_single_slice_with_thick_spacing():
    case = make_case("2d", 0, 0)
    assert case.spacing[0] > max(case.spacing[1:]), "slice axis must be the coarsest so nnU-Net plans a 2d config"


def test_anisotropic_3d_spacing_keeps_the_field_of_view():
    case = make_case("3d", 0, 0, spacing=(2.0, 1.0, 1.0))
    assert case.image.shape == (24, 48, 48)
    assert case.spacing == (2.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="3d"):
        make_case("2d", 0, 0, spacing=(1.0, 1.0, 1.0))


def _best_threshold_dice(image: np.ndarray, mask: np.ndarray) -> float:
    """Dice of the best single intensity threshold for this case (an optimistic, per-case oracle)."""
    smoothed = gaussian_filter(image.astype(np.float64), 1.0)
    best = 0.0
    for threshold in np.percentile(smoothed, np.linspace(50, 99.9, 120)):
        predicted = smoothed > threshold
        best = max(best, 2 * np.sum(predicted & mask) / (predicted.sum() + mask.sum()))
    return best


def test_3d_intensity_alone_does_not_solve_the_task():
    scores, relative_gaps = [], []
    for index in range(8):
        case = make_case("3d", seed=0, index=index)
        organ = case.label == 1
        scores.append(_best_threshold_dice(case.image, organ))
        if case.distractor_mask.any():
            organ_mean = case.image[organ].mean()
            relative_gaps.append(abs(case.image[case.distractor_mask].mean() - organ_mean) / organ_mean)
    # even an oracle threshold chosen per case captures the look-alikes too
    assert np.mean(scores) < 0.85, scores
    # look-alikes are about as bright as the organ
    assert np.median(relative_gaps) < 0.15, relative_gaps


def test_2d_bright_classes_are_not_separable_by_intensity():
    cavity_scores, crescent_scores = [], []
    for index in range(6):
        case = make_case("2d", seed=0, index=index)
        cavity_scores.append(_best_threshold_dice(case.image, case.label == 1))
        crescent_scores.append(_best_threshold_dice(case.image, case.label == 3))
    # cavity, crescent and bright look-alikes share blood-like intensities: only geometry separates them
    assert np.mean(cavity_scores) < 0.8, cavity_scores
    assert np.mean(crescent_scores) < 0.8, crescent_scores
