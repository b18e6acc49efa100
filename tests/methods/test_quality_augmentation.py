"""The quality predictor's training augmentation keeps every sample's Dice target exact: the mask is only ever
mirrored, and always by the same axes as the image; intensity transforms never touch it; a translation moves image,
mask and truth together and recomputes the target."""
import itertools

import numpy as np
import pytest
import torch

from nnunetv2_pscm.cli import train_quality as cli
from nnunetv2_pscm.methods.quality.augmentation import (augment_batch, quality_training_augmentation, random_shift,
                                                        shift_sample, shift_with_zero_fill)
from nnunetv2_pscm.methods.quality.corruptions import dice_per_class
from nnunetv2_pscm.methods.quality.training import QualityData


def _flip_axes_matching(augmented: np.ndarray, original: np.ndarray):
    """The spatial axes (of a (1, *patch) array) whose flip turns ``original`` into ``augmented``, or None."""
    spatial = range(1, original.ndim)
    for r in range(original.ndim):
        for axes in itertools.combinations(spatial, r):
            if np.array_equal(np.flip(original, axes) if axes else original, augmented):
                return axes
    return None


@pytest.mark.parametrize("shape", [(6, 7, 8), (9, 10)])
def test_mask_is_mirrored_with_the_image_and_its_dice_is_unchanged(shape):
    torch.manual_seed(0)
    np.random.seed(0)
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, (1, *shape)).astype(np.int64)  # asymmetric, so every flip is distinguishable
    mask = np.where(rng.random(truth.shape) < 0.3, rng.integers(0, 3, truth.shape), truth)
    image = torch.from_numpy(rng.normal(size=(2, *shape)).astype(np.float32))
    before = dice_per_class(mask[0], truth[0], 3)
    transform = quality_training_augmentation(len(shape))
    flips_seen, intensity_changed = set(), 0
    for _ in range(60):
        out = transform(image=image.clone(), segmentation=torch.from_numpy(mask.copy()))
        axes = _flip_axes_matching(out["segmentation"].numpy(), mask)
        assert axes is not None, "the mask was changed by something other than a flip"
        flips_seen.add(axes)
        flipped_truth = np.flip(truth, axes) if axes else truth
        np.testing.assert_array_equal(dice_per_class(out["segmentation"].numpy()[0], flipped_truth[0], 3), before)
        unflipped_image = torch.flip(out["image"], list(axes)) if axes else out["image"]
        intensity_changed += not torch.equal(unflipped_image, image)
        # the image went through the same flip: it still matches the original voxel by voxel (intensity transforms
        # are monotone, the noise small), which a flip along any other axes would not (a random image)
        for c in range(2):
            assert np.corrcoef(unflipped_image[c].ravel(), image[c].ravel())[0, 1] > 0.8
    assert len(flips_seen) >= 3  # mirroring happens, along different axes
    assert 5 <= intensity_changed < 60  # intensity transforms fire sometimes, not always (nnU-Net's probabilities)


def test_batch_augments_per_sample_and_keeps_targets():
    torch.manual_seed(1)
    np.random.seed(1)
    rng = np.random.default_rng(1)
    masks = [rng.integers(0, 2, (4, 5, 6)).astype(np.uint8) for _ in range(2)]
    # each image IS its mask (plus a little noise), so a flip of one without the other shows as lost correlation
    images = [(m[None] + 0.1 * rng.normal(size=(1, 4, 5, 6))).astype(np.float32) for m in masks]
    data = QualityData(images=images, patch_of_sample=[0, 1], masks=masks,
                       targets=[np.array([0.25], np.float32), np.array([0.75], np.float32)])
    plain = data.batch([0, 1], torch.device("cpu"))
    np.testing.assert_array_equal(plain[1][1, 0].numpy(), data.masks[1])  # no augmentation: the stored mask
    transform = quality_training_augmentation(3)
    for _ in range(10):
        image, mask, target = data.batch([0, 1], torch.device("cpu"), transform)
        assert image.shape == (2, 1, 4, 5, 6) and mask.shape == (2, 1, 4, 5, 6) and mask.dtype == torch.int64
        assert target.tolist() == [[0.25], [0.75]]
        for i in range(2):
            assert _flip_axes_matching(mask[i].numpy(), data.masks[i][None]) is not None
            assert np.corrcoef(image[i, 0].ravel(), mask[i, 0].ravel().float())[0, 1] > 0.8


def test_augment_batch_leaves_its_inputs_alone():
    image, mask = torch.randn(2, 1, 4, 5), torch.randint(0, 2, (2, 1, 4, 5))
    image_copy, mask_copy = image.clone(), mask.clone()
    augment_batch(quality_training_augmentation(2), image, mask)
    assert torch.equal(image, image_copy) and torch.equal(mask, mask_copy)


def test_cli_no_augment_reaches_the_settings(monkeypatch):
    seen = {}
    monkeypatch.setattr(cli, "train_quality_predictor", lambda *a, **k: seen.setdefault("settings", a[4]) and "x")
    cli.main(["-d", "1", "-c", "3d_fullres", "-f", "0"])
    assert seen.pop("settings").augment is True
    cli.main(["-d", "1", "-c", "3d_fullres", "-f", "0", "--no-augment"])
    assert seen.pop("settings").augment is False
    cli.main(["-d", "1", "-c", "3d_fullres", "-f", "0", "--max-shift", "0"])
    assert seen["settings"].max_shift_fraction == 0 and seen["settings"].augment is True


def test_shift_with_zero_fill_moves_trailing_axes_and_drops_what_leaves():
    row = np.array([[1, 2, 3, 4]])
    np.testing.assert_array_equal(shift_with_zero_fill(row, (2,)), [[0, 0, 1, 2]])
    np.testing.assert_array_equal(shift_with_zero_fill(row, (-1,)), [[2, 3, 4, 0]])
    np.testing.assert_array_equal(shift_with_zero_fill(row, (0,)), row)
    np.testing.assert_array_equal(shift_with_zero_fill(row, (4,)), [[0, 0, 0, 0]])
    grid = np.arange(9).reshape(3, 3)
    np.testing.assert_array_equal(shift_with_zero_fill(grid, (1, -1)), [[0, 0, 0], [1, 2, 0], [4, 5, 0]])


def test_shift_sample_recomputes_the_dice_by_hand():
    # one row: truth columns 0-1, mask columns 1-2 -> Dice 2 x 1 / (2 + 2) = 0.5
    truth = np.array([[[1, 1, 0, 0]]], np.uint8)
    mask = np.array([[[0, 1, 1, 0]]], np.uint8)
    image = truth[None].astype(np.float32)
    assert dice_per_class(mask, truth, 2)[0] == 0.5
    # +2: truth -> columns 2-3, mask -> column 3 (column 2 of the mask left the patch): 2 x 1 / (2 + 1)
    moved_image, moved_mask, target = shift_sample(image, mask, truth, (0, 0, 2), 2)
    np.testing.assert_array_equal(moved_mask, [[[0, 0, 0, 1]]])
    np.testing.assert_array_equal(moved_image, [[[[0, 0, 1, 1]]]])
    assert target.dtype == np.float32 and target[0] == pytest.approx(2 / 3)
    # -1: truth -> column 0, mask -> columns 0-1: 2 x 1 / (1 + 2)
    assert shift_sample(image, mask, truth, (0, 0, -1), 2)[2][0] == pytest.approx(2 / 3)
    # no shift: the stored target
    assert shift_sample(image, mask, truth, (0, 0, 0), 2)[2][0] == 0.5


def test_random_shift_stays_within_the_fraction_and_varies():
    rng = np.random.default_rng(0)
    offsets = np.array([random_shift((8, 20, 3), 0.25, rng) for _ in range(300)])
    assert (np.abs(offsets) <= [2, 5, 0]).all()  # floor(0.25 x size); an axis of 3 is never shifted
    assert offsets[:, 1].min() == -5 and offsets[:, 1].max() == 5


def test_batch_shifts_each_sample_with_its_truth():
    rng = np.random.default_rng(3)
    truth = np.zeros((6, 8, 8), np.uint8)
    truth[1:5, 2:6, 1:7] = 1
    # the image IS the truth, so each returned image shows the shifted truth the target must be computed against
    masks = [np.roll(truth, 2, axis=2), truth.copy()]
    data = QualityData(images=[truth[None].astype(np.float32)], patch_of_sample=[0, 0], masks=masks,
                       targets=[dice_per_class(m, truth, 2) for m in masks], truths=[truth], num_classes=2)
    stored = np.stack(data.targets)
    changed = 0
    for _ in range(20):
        image, mask, target = data.batch([0, 1], torch.device("cpu"), max_shift_fraction=0.5, rng=rng)
        for i in range(2):
            shifted_truth = (image[i, 0].numpy() > 0.5).astype(np.uint8)
            assert target[i, 0].item() == pytest.approx(dice_per_class(mask[i, 0].numpy(), shifted_truth, 2)[0])
        changed += not np.allclose(target.numpy(), stored)
    assert changed >= 5  # shifts push foreground out of the patch often enough to change targets
    with pytest.raises(ValueError, match="truth per patch"):
        QualityData(images=data.images, patch_of_sample=[0], masks=masks[:1], targets=data.targets[:1]).batch(
            [0], torch.device("cpu"), max_shift_fraction=0.25, rng=rng)
