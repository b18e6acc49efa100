"""Ramp-up schedules for unsupervised loss weights (Laine & Aila 2017; used by MT, UA-MT, MC-Net, BCP)."""
import math


def sigmoid_rampup(current: float, length: float) -> float:
    """exp(-5 (1 - clip(current / length, 0, 1))^2): 0.0067 at the start, 1 at `length`; 1 if length <= 0."""
    if length <= 0:
        return 1.0
    phase = 1.0 - min(max(current / length, 0.0), 1.0)
    return float(math.exp(-5.0 * phase * phase))


def linear_rampup(current: float, length: float) -> float:
    if length <= 0:
        return 1.0
    return float(min(max(current / length, 0.0), 1.0))
