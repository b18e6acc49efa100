"""The pseudo-label monitor reads hidden labels for reporting only: a missing or corrupt label file leaves that
case out and never stops training; Dice is computed per foreground class, NaN when a class is absent in both."""
import numpy as np
import torch

from nnunetv2_pscm.methods.pscm.monitor import PseudoLabelMonitor, foreground_dice, reliability_scores


def _load_case(case):
    """Stand-in for nnU-Net's dataset loader: 'good' loads, 'missing' and 'corrupt' fail the two ways."""
    if case == "missing":
        raise FileNotFoundError(f"{case}_seg.b2nd")
    if case == "corrupt":
        raise ValueError("blosc2: wrong header")  # what a truncated/garbled file raises, not an OSError
    data = np.arange(2 * 6 * 6, dtype=np.float32).reshape(1, 2, 6, 6)
    return data, (data > 30).astype(np.int16)


def _monitor(cases=("good", "missing", "corrupt")):
    return PseudoLabelMonitor(cases, _load_case, patch_size=[4, 4], num_classes=2)


def test_missing_and_corrupt_labels_are_skipped_not_fatal():
    monitor = _monitor()
    assert monitor._load("missing") is None
    assert monitor._load("corrupt") is None
    image, truth = monitor._load("good")
    assert image.shape == truth.shape == (1, 4, 4)  # 2d: the middle slice, centre-cropped to the patch
    np.testing.assert_array_equal(image[0], np.arange(36, 72, dtype=np.float32).reshape(6, 6)[1:5, 1:5])


def test_run_scores_raw_and_corrected_pseudo_labels_on_the_readable_cases_only():
    seen = []

    def pseudo_labels(images):
        seen.append(images.shape)
        truth = (images > 30).long()
        corrected = truth.clone()
        raw = truth.clone()
        raw[..., 0, :] = 0  # raw misses the first row of foreground (4 of the 16 foreground voxels)
        return {"raw": raw, "corrected": corrected, "mask": None}

    logs = _monitor().run(pseudo_labels, torch.device("cpu"))
    assert seen == [(1, 1, 4, 4)]  # only 'good' reached the pseudo-label function
    # crop rows 1..4 of slice 1 hold values 43..70: all > 30 -> 16 foreground; raw keeps 12: 2*12/(12+16)
    assert np.isclose(float(logs["pl_dice_raw"]), 24 / 28)
    assert np.isclose(float(logs["pl_dice_corrected"]), 1.0)
    assert set(logs) == {"pl_dice_raw", "pl_dice_corrected"}  # no cleaned map, no weights: nothing made up


def test_run_scores_the_cleaned_stage_and_the_correction_weights():
    def pseudo_labels(images):
        truth = (images > 30).long()  # all 16 crop voxels are foreground
        cleaned = truth.clone()
        cleaned[..., 0, :2] = 0  # two wrong voxels
        confidence = torch.ones_like(images)
        confidence[..., 3, :] = 0  # the last row is not confident: left out of the weight scores
        weight = confidence.clone()
        weight[..., 0, :] = 0.5  # PSC flags the first row: 2 of its 4 voxels are wrong
        weight[..., 1, 0] = 0.0  # and ignores one right voxel
        return {"raw": cleaned, "cleaned": cleaned, "corrected": cleaned, "confidence": confidence,
                "weight": weight, "mask": None}

    logs = _monitor().run(pseudo_labels, torch.device("cpu"))
    assert np.isclose(float(logs["pl_dice_cleaned"]), 2 * 14 / (14 + 16))
    # 12 confident voxels; flagged: row 0 (4) + 1 = 5 with 2 wrong; kept: 7, none wrong
    assert np.isclose(float(logs["psc_flagged_fraction"]), 5 / 12)
    assert np.isclose(float(logs["psc_flagged_error_rate"]), 2 / 5)
    assert np.isclose(float(logs["psc_kept_error_rate"]), 0.0)


def test_reliability_scores_without_flags_give_nan_for_the_flagged_error_rate():
    labels = np.array([[1, 0, 1, 1]])
    truth = np.array([[1, 1, 1, 1]])
    confidence = np.array([[1.0, 1.0, 0.0, 1.0]])
    scores = reliability_scores(labels, truth, confidence, confidence.copy())
    assert np.isclose(float(scores["psc_flagged_fraction"]), 0.0)
    assert np.isnan(float(scores["psc_flagged_error_rate"]))
    assert np.isclose(float(scores["psc_kept_error_rate"]), 1 / 3)


def test_no_readable_case_gives_no_log():
    assert _monitor(("missing",)).run(lambda x: None, torch.device("cpu")) == {}


def test_foreground_dice_by_hand():
    truth = np.array([[0, 1, 1, 2]])
    prediction = np.array([[0, 1, 0, 2]])
    # class 1: 2*1/(1+2) = 2/3; class 2: 1; mean 5/6
    assert np.isclose(foreground_dice(prediction, truth, 3), 5 / 6)
    assert np.isnan(foreground_dice(np.zeros((1, 4)), np.zeros((1, 4)), 3))
