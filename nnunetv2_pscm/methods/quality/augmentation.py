"""Dice-preserving augmentation of the quality predictor's training samples (our addition, spec section 3.3 is silent).

Why: the predictor learns from the fold's LABELED cases only; with LA-4 that is 4 images (16 patches), and without
augmentation the first LA run (2026-12-02, README "Measured results") fitted its training masks to a loss of 0.015
(RMSE ~0.12) while scoring MAE 0.20 on the validation cases' masks: it memorised the few images.

What: nnU-Net's own batchgeneratorsv2 transforms, with nnUNetTrainer's default probabilities and ranges, limited to
the ones that keep a sample's target EXACT, so the Dice targets computed once at sampling time stay true:

* mirroring along every spatial axis, applied to the image AND the mask together (a flip moves the truth with them,
  so the per-class Dice of mask vs truth is unchanged);
* intensity transforms on the image only (Gaussian noise, multiplicative brightness, contrast, gamma and inverted
  gamma): the mask and therefore the Dice are untouched.

Translation (`shift_sample`, since 2026-12-07): image, mask AND the patch's truth shifted together by a random
offset of up to ``max_shift_fraction`` of the patch per axis, zero-filled, and the target RECOMPUTED from the
shifted mask and truth (foreground pushed out of the patch changes the Dice). Why: patches are cut once, so without
it each training image is seen at one position only, and the predictor learns where a case sits rather than how well
the mask fits it. On LA (a whole 2 mm case fits in the patch) the first full fold-3 predictor, without it, scored
the validation cases' ground truth, given as a prediction, 0.61 on average (0.44-0.68), and its quality control of a
model's real predictions had MAE 0.22 and Spearman rho 0.02; with it, 0.84 and MAE 0.03 (README "Measured results").
Zero fill rather than a crop from a larger context: a context margin would multiply the memory of every stored mask
and need the bank networks to run on a size their strides may not accept; quality control's windows are zero-padded
at image borders too, so zero bands are not new to the predictor.

Left out on purpose: rotation, scaling and elastic deformation (their interpolation changes the mask, so the Dice
would need recomputing against an interpolated truth), blur and low-resolution simulation (cost, for little on
already 2 mm data).
"""
from typing import Sequence, Tuple

import numpy as np
import torch
from batchgeneratorsv2.transforms.intensity.brightness import MultiplicativeBrightnessTransform
from batchgeneratorsv2.transforms.intensity.contrast import BGContrast, ContrastTransform
from batchgeneratorsv2.transforms.intensity.gamma import GammaTransform
from batchgeneratorsv2.transforms.intensity.gaussian_noise import GaussianNoiseTransform
from batchgeneratorsv2.transforms.spatial.mirroring import MirrorTransform
from batchgeneratorsv2.transforms.utils.compose import ComposeTransforms
from batchgeneratorsv2.transforms.utils.random import RandomTransform

from nnunetv2_pscm.methods.quality.corruptions import dice_per_class


def quality_training_augmentation(spatial_dims: int) -> ComposeTransforms:
    """Per-sample transform: ``t(image=(c, *patch) float, segmentation=(1, *patch)) -> dict`` (see the docstring)."""
    intensity = [
        RandomTransform(GaussianNoiseTransform(noise_variance=(0, 0.1), p_per_channel=1, synchronize_channels=True),
                        apply_probability=0.1),
        RandomTransform(MultiplicativeBrightnessTransform(multiplier_range=BGContrast((0.75, 1.25)),
                                                          synchronize_channels=False, p_per_channel=1),
                        apply_probability=0.15),
        RandomTransform(ContrastTransform(contrast_range=BGContrast((0.75, 1.25)), preserve_range=True,
                                          synchronize_channels=False, p_per_channel=1), apply_probability=0.15),
        RandomTransform(GammaTransform(gamma=BGContrast((0.7, 1.5)), p_invert_image=1, synchronize_channels=False,
                                       p_per_channel=1, p_retain_stats=1), apply_probability=0.1),
        RandomTransform(GammaTransform(gamma=BGContrast((0.7, 1.5)), p_invert_image=0, synchronize_channels=False,
                                       p_per_channel=1, p_retain_stats=1), apply_probability=0.3),
    ]
    return ComposeTransforms(intensity + [MirrorTransform(allowed_axes=tuple(range(spatial_dims)))])


def augment_batch(transform: ComposeTransforms, image: torch.Tensor,
                  mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Apply ``transform`` to each sample of ``image`` (B, c, *patch) and integer ``mask`` (B, 1, *patch)."""
    images, masks = [], []
    for i in range(image.shape[0]):
        out = transform(image=image[i].clone(), segmentation=mask[i].clone())
        images.append(out["image"])
        masks.append(out["segmentation"])
    return torch.stack(images), torch.stack(masks)


def shift_with_zero_fill(array: np.ndarray, offset: Sequence[int]) -> np.ndarray:
    """``array`` moved by ``offset`` voxels (each |offset| < the axis' size) along its trailing ``len(offset)`` axes
    (leading axes kept); what moves out is dropped, what comes in is 0. A crop of the same size centred ``offset``
    before the middle, by the patch cutter's own `_pad_crop`."""
    from nnunetv2_pscm.methods.quality.training import _pad_crop  # training imports this module

    size = array.shape[array.ndim - len(offset):]
    return _pad_crop(array, [n // 2 - int(o) for o, n in zip(offset, size)], size)


def random_shift(patch_size: Sequence[int], max_shift_fraction: float, rng: np.random.Generator) -> Tuple[int, ...]:
    """A uniform integer offset in [-m, m] per axis, m = floor(``max_shift_fraction`` x the axis' size)."""
    return tuple(int(rng.integers(-m, m + 1)) for m in (int(max_shift_fraction * s) for s in patch_size))


def shift_sample(image: np.ndarray, mask: np.ndarray, truth: np.ndarray, offset: Sequence[int],
                 num_classes: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image, mask, per-class Dice of mask vs truth) after moving all three by ``offset`` (see the docstring)."""
    mask, truth = shift_with_zero_fill(mask, offset), shift_with_zero_fill(truth, offset)
    return shift_with_zero_fill(image, offset), mask, dice_per_class(mask, truth, num_classes).astype(np.float32)
