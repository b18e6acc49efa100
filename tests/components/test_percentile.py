"""components.uncertainty.percentile: numpy's linear-interpolation percentile, checked by hand and against numpy."""
import numpy as np
import pytest
import torch

from nnunetv2_pscm.components.uncertainty import percentile


def test_percentile_by_hand():
    v = torch.tensor([4.0, 0.0, 3.0, 1.0, 2.0])  # sorted 0 1 2 3 4
    assert percentile(v, 0).item() == 0.0 and percentile(v, 100).item() == 4.0
    assert percentile(v, 50).item() == 2.0
    # 20 % of (5 - 1) = 0.8: between 0 and 1
    assert percentile(v, 20).item() == pytest.approx(0.8)
    assert percentile(torch.tensor([7.0]), 20).item() == 7.0


@pytest.mark.parametrize("q", [0, 7.5, 20, 50, 99])
def test_percentile_matches_numpy(q):
    v = torch.rand(2, 3, 5, 7, generator=torch.Generator().manual_seed(1))
    assert percentile(v, q).item() == pytest.approx(float(np.percentile(v.numpy(), q)), rel=1e-6)


def test_percentile_rejects_bad_input():
    with pytest.raises(ValueError):
        percentile(torch.ones(3), 101)
    with pytest.raises(ValueError):
        percentile(torch.ones(0), 20)
