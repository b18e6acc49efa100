"""Training pairs (mask, target Dice) for the QG-SSL quality predictor, with a flat histogram of targets over [0, 1].

Confirmed by the paper [PAPER summaries, spec section 3.2]: the predictor regresses a DSC-like score of masks of
variable quality (corruptions of the ground truth, outputs of partially trained models). Balancing the target
histogram over [0, 1] is our reconstruction [INF, spec section 3.3], as is how it is done here:

* rejection sampling with a cap per bin: candidates are drawn one by one from a source, scored by their mean
  foreground Dice against the truth, and kept only while their bin (``num_bins`` equal bins of [0, 1], a score of
  1.0 in the last one) holds fewer than ``per_bin`` kept masks; drawing stops when every bin is full or after
  ``max_draws`` candidates. Bins the source never reaches stay short: the result reports ``bin_counts`` so the caller
  can see it (a source with stronger corruptions fills the low bins).
* the stored target is the per-class Dice vector (what the network regresses); the binned score is its mean.

A source is either a callable ``source(rng) -> mask`` (e.g. `corruption_source`: random corruption chains of the
truth) or an iterable of masks (e.g. predictions of a checkpoint bank, or several sources chained).
"""
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, List, Optional, Union

import numpy as np

from nnunetv2_pscm.methods.quality.corruptions import RandomCorruption, dice_per_class

MaskSource = Union[Callable[[np.random.Generator], np.ndarray], Iterable[np.ndarray]]


def score_bin(score: float, num_bins: int) -> int:
    """Index of the equal-width bin of [0, 1] holding ``score`` (1.0 falls in the last bin)."""
    return min(int(np.floor(score * num_bins)), num_bins - 1)


def corruption_source(truth: np.ndarray, num_classes: Optional[int] = None,
                      corruption: Optional[RandomCorruption] = None) -> Callable[[np.random.Generator], np.ndarray]:
    """A candidate source: a fresh random corruption chain of ``truth`` on every call."""
    corruption = corruption if corruption is not None else RandomCorruption()
    return lambda rng: corruption(truth, rng, num_classes)


@dataclass
class QualitySamples:
    masks: List[np.ndarray]  # kept masks
    targets: np.ndarray  # (N, C-1) per-class Dice of each kept mask against the truth
    bin_counts: np.ndarray  # (num_bins,) kept masks per bin of the mean foreground Dice
    drawn_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))  # mean Dice of EVERY candidate drawn

    @property
    def scores(self) -> np.ndarray:
        """(N,) mean foreground Dice of each kept mask (the binned quantity)."""
        return self.targets.mean(1) if len(self.targets) else np.zeros(0)


def _candidates(source: MaskSource, rng: np.random.Generator) -> Iterator[np.ndarray]:
    if callable(source):
        while True:
            yield source(rng)
    else:
        yield from source


@dataclass
class BalancedTargetSampler:
    """Keep candidates so that the histogram of their Dice over ``num_bins`` bins of [0, 1] is as flat as the source
    allows (at most ``per_bin`` per bin, at most ``max_draws`` candidates looked at)."""
    num_bins: int = 10
    per_bin: int = 10
    max_draws: int = 5000

    def __post_init__(self):
        if self.num_bins < 1 or self.per_bin < 1 or self.max_draws < 1:
            raise ValueError(f"num_bins, per_bin and max_draws must be >= 1, got {self.num_bins}, {self.per_bin}, "
                             f"{self.max_draws}")

    def sample(self, truth: np.ndarray, source: MaskSource, num_classes: int,
               rng: Optional[np.random.Generator] = None) -> QualitySamples:
        rng = rng if rng is not None else np.random.default_rng()
        if num_classes < 2:
            raise ValueError(f"num_classes counts the background and must be >= 2, got {num_classes}")
        counts = np.zeros(self.num_bins, dtype=int)
        masks, targets, drawn = [], [], []
        for mask in _candidates(source, rng):
            if np.shape(mask) != np.shape(truth):
                raise ValueError(f"candidate mask of shape {np.shape(mask)} for a truth of shape {np.shape(truth)}")
            dice = dice_per_class(mask, truth, num_classes)
            drawn.append(float(dice.mean()))
            b = score_bin(drawn[-1], self.num_bins)
            if counts[b] < self.per_bin:
                counts[b] += 1
                masks.append(mask)
                targets.append(dice)
            if counts.min() >= self.per_bin or len(drawn) >= self.max_draws:
                break
        return QualitySamples(masks, np.array(targets, dtype=float).reshape(len(targets), num_classes - 1), counts,
                              np.array(drawn))
