"""The pseudo-label monitor reads hidden labels for reporting only: a missing or corrupt label file leaves that
case out and never stops training; Dice is computed per foreground class, NaN when a class is absent in both."""
from types import SimpleNamespace

import numpy as np

from nnunetv2_pscm.methods.pscm.monitor import PseudoLabelMonitor, foreground_dice


class _Dataset:
    """Stand-in for nnU-Net's dataset class: case 'good' loads, 'missing' and 'corrupt' fail the two ways."""

    def __init__(self, folder, identifiers):
        self.identifiers = identifiers

    def load_case(self, case):
        if case == "missing":
            raise FileNotFoundError(f"{case}_seg.b2nd")
        if case == "corrupt":
            raise ValueError("blosc2: wrong header")  # what a truncated/garbled file raises, not an OSError
        data = np.arange(2 * 6 * 6, dtype=np.float32).reshape(1, 2, 6, 6)
        return data, (data > 30).astype(np.int16), None, {}


def _monitor():
    trainer = SimpleNamespace(dataset_class=_Dataset, preprocessed_dataset_folder="unused",
                              configuration_manager=SimpleNamespace(patch_size=[4, 4]))
    monitor = PseudoLabelMonitor.__new__(PseudoLabelMonitor)  # skip the split lookup
    monitor.trainer = trainer
    return monitor


def test_missing_and_corrupt_labels_are_skipped_not_fatal():
    monitor = _monitor()
    assert monitor._load("missing") is None
    assert monitor._load("corrupt") is None
    image, truth = monitor._load("good")
    assert image.shape == truth.shape == (1, 4, 4)  # 2d: the middle slice, centre-cropped to the patch
    np.testing.assert_array_equal(image[0], np.arange(36, 72, dtype=np.float32).reshape(6, 6)[1:5, 1:5])


def test_foreground_dice_by_hand():
    truth = np.array([[0, 1, 1, 2]])
    prediction = np.array([[0, 1, 0, 2]])
    # class 1: 2*1/(1+2) = 2/3; class 2: 1; mean 5/6
    assert np.isclose(foreground_dice(prediction, truth, 3), 5 / 6)
    assert np.isnan(foreground_dice(np.zeros((1, 4)), np.zeros((1, 4)), 3))
