import math

import pytest

from nnunetv2_pscm.components.ramps import linear_rampup, sigmoid_rampup


@pytest.mark.parametrize("current,length,expected", [
    (0, 10, math.exp(-5)), (5, 10, math.exp(-1.25)), (10, 10, 1.0), (20, 10, 1.0), (-3, 10, math.exp(-5)),
    (7, 0, 1.0),
])
def test_sigmoid_rampup(current, length, expected):
    assert sigmoid_rampup(current, length) == pytest.approx(expected)


def test_linear_rampup():
    assert linear_rampup(2, 8) == 0.25
    assert linear_rampup(9, 8) == 1.0
    assert linear_rampup(3, 0) == 1.0
