"""MR-like image formation for the synthetic dataset: texture, bias field, Rician noise, scanner scaling.

These nuisances are what makes the task more than thresholding and what gives unlabeled images
something to teach: per-case contrast and brightness vary, a smooth bias field shifts intensities
across the field of view, and noise hides fine texture differences.
"""
from typing import Sequence

import numpy as np

from nnunetv2_pscm.synthetic.shapes import smooth_random_field


def textured_intensity(rng: np.random.Generator, shape: Sequence[int], spacing: Sequence[float], mean: float,
                       relative_amplitude: float, grain_mm: float) -> np.ndarray:
    """A tissue intensity map: `mean` modulated by a random texture of the given grain size."""
    texture = smooth_random_field(rng, shape, spacing, grain_mm)
    return mean * (1.0 + relative_amplitude * texture)


def paint(image: np.ndarray, occupancy: np.ndarray, intensity) -> np.ndarray:
    """Alpha-blend a structure into the image (later structures cover earlier ones, like organs abutting)."""
    return image * (1.0 - occupancy) + occupancy * intensity


def multiplicative_bias_field(rng: np.random.Generator, shape: Sequence[int], spacing: Sequence[float],
                              strength: float, correlation_mm: float) -> np.ndarray:
    """exp(smooth field): a coil-sensitivity-like gain that is ~1 on average and never negative."""
    return np.exp(strength * smooth_random_field(rng, shape, spacing, correlation_mm))


def rician_noise(rng: np.random.Generator, image: np.ndarray, sigma: float) -> np.ndarray:
    """Magnitude of a complex signal with Gaussian noise in both channels: the noise model of MR magnitude images."""
    real = image + rng.normal(scale=sigma, size=image.shape)
    imaginary = rng.normal(scale=sigma, size=image.shape)
    return np.sqrt(real ** 2 + imaginary ** 2)


def scanner_scaling(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Per-case gamma (contrast), gain and offset (brightness), as between scanners and protocols."""
    gamma = rng.uniform(0.8, 1.25)
    gain = rng.uniform(300.0, 1200.0)
    offset = rng.uniform(0.0, 50.0)
    return gain * np.power(np.maximum(image, 0.0), gamma) + offset
