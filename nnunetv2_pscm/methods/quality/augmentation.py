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

Left out on purpose: rotation, scaling and elastic deformation (their interpolation changes the mask, so the Dice
would need recomputing against a transformed truth that the sample does not keep), blur and low-resolution
simulation (cost, for little on already 2 mm data).
"""
from typing import Tuple

import torch
from batchgeneratorsv2.transforms.intensity.brightness import MultiplicativeBrightnessTransform
from batchgeneratorsv2.transforms.intensity.contrast import BGContrast, ContrastTransform
from batchgeneratorsv2.transforms.intensity.gamma import GammaTransform
from batchgeneratorsv2.transforms.intensity.gaussian_noise import GaussianNoiseTransform
from batchgeneratorsv2.transforms.spatial.mirroring import MirrorTransform
from batchgeneratorsv2.transforms.utils.compose import ComposeTransforms
from batchgeneratorsv2.transforms.utils.random import RandomTransform


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
