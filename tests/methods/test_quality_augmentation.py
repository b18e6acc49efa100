"""The quality predictor's training augmentation keeps every sample's Dice target exact: the mask is only ever
mirrored, and always by the same axes as the image; intensity transforms never touch it."""
import itertools

import numpy as np
import pytest
import torch

from nnunetv2_pscm.cli import train_quality as cli
from nnunetv2_pscm.methods.quality.augmentation import augment_batch, quality_training_augmentation
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
    assert seen["settings"].augment is False
