"""Balanced (mask, target Dice) sets for the QG-SSL quality predictor (methods/quality/targets.py): the kept targets
cover the Dice bins much more evenly than the raw candidates (measured on the same draws), every target is the Dice
recomputed from its mask, the cap per bin holds, and iterable sources (a checkpoint bank) work."""
import numpy as np
import pytest

from nnunetv2_pscm.methods.quality.corruptions import dice_per_class
from nnunetv2_pscm.methods.quality.targets import BalancedTargetSampler, corruption_source, score_bin


def disc(size: int = 28, radius: int = 7) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return (((yy - size / 2) ** 2 + (xx - size / 2) ** 2) <= radius ** 2).astype(np.uint8)


def coefficient_of_variation(counts: np.ndarray) -> float:
    return float(counts.std() / counts.mean())


def test_kept_targets_are_much_flatter_than_the_raw_candidates_and_equal_their_dice():
    truth = disc()
    sampler = BalancedTargetSampler(num_bins=10, per_bin=6, max_draws=1500)
    result = sampler.sample(truth, corruption_source(truth, 2), 2, np.random.default_rng(0))
    raw = np.histogram(result.drawn_scores, bins=10, range=(0, 1))[0]
    kept = np.bincount([score_bin(s, 10) for s in result.scores], minlength=10)
    assert np.array_equal(kept, result.bin_counts) and kept.max() <= 6
    assert coefficient_of_variation(raw) > 0.4  # measured: the raw corruptions pile up near Dice 1
    assert coefficient_of_variation(kept) < 0.25 * coefficient_of_variation(raw)
    assert (kept > 0).sum() >= 9
    assert len(result.masks) == len(result.targets) == kept.sum()
    for mask, target in zip(result.masks, result.targets):
        assert target == pytest.approx(dice_per_class(mask, truth, 2))


def test_multi_class_targets_are_per_class_and_binned_by_their_mean():
    truth = np.zeros((24, 24), np.uint8)
    truth[4:20, 4:20] = 1
    truth[8:16, 8:16] = 2
    result = BalancedTargetSampler(num_bins=5, per_bin=3, max_draws=300).sample(
        truth, corruption_source(truth, 3), 3, np.random.default_rng(1))
    assert result.targets.shape == (len(result.masks), 2)
    assert np.array_equal(np.bincount([score_bin(s, 5) for s in result.scores], minlength=5), result.bin_counts)
    for mask, target in zip(result.masks, result.targets):
        assert target == pytest.approx(dice_per_class(mask, truth, 3))


def test_an_iterable_source_is_read_to_its_end_and_the_cap_holds():
    truth = disc(12, 3)
    bank = [truth.copy() for _ in range(20)] + [np.zeros_like(truth)]
    result = BalancedTargetSampler(num_bins=4, per_bin=3).sample(truth, bank, 2)
    assert result.bin_counts.tolist() == [1, 0, 0, 3] and len(result.drawn_scores) == 21
    assert result.targets[:, 0].tolist() == [1.0, 1.0, 1.0, 0.0]


def test_bins_and_bad_inputs():
    assert [score_bin(s, 10) for s in (0.0, 0.0999, 0.1, 0.95, 1.0)] == [0, 0, 1, 9, 9]
    with pytest.raises(ValueError, match=">= 1"):
        BalancedTargetSampler(num_bins=0)
    with pytest.raises(ValueError, match="shape"):
        BalancedTargetSampler().sample(disc(), [np.zeros((3, 3), np.uint8)], 2)
