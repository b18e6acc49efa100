"""BCP's recipe pieces by hand: which classes count as one structure, the restarted learning-rate schedule."""
import numpy as np
import pytest
import torch

from nnunetv2_pscm.methods.bcp.labeled_structure import single_structure_classes
from nnunetv2_pscm.methods.bcp.schedule import RestartedPolyLR


def test_single_structure_classes_from_labeled_cases():
    one = np.zeros((1, 12), dtype=np.int64)
    one[0, 1:5] = 1  # class 1: one component
    one[0, 7] = 2
    one[0, 10] = 2  # class 2: two equal components
    stray = one.copy()
    stray[0, 1:11] = 0
    stray[0, 0:10] = 1
    stray[0, 11] = 1  # class 1: 10 voxels + 1 stray voxel -> largest holds 10/11 >= 0.9
    assert single_structure_classes([one, stray], num_classes=4, min_share=0.9) == [1]  # 3 never seen
    assert single_structure_classes([one, stray], num_classes=4, min_share=0.95) == []


def test_restarted_poly_lr_by_hand():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = RestartedPolyLR(opt, 0.01, total_epochs=10, restart_epoch=lambda: 4)
    assert schedule.lr_at(0) == pytest.approx(0.01)
    assert schedule.lr_at(2) == pytest.approx(0.01 * 0.5 ** 0.9)
    assert schedule.lr_at(4) == pytest.approx(0.01)  # restart
    assert schedule.lr_at(7) == pytest.approx(0.01 * 0.5 ** 0.9)
    schedule.step(7)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01 * 0.5 ** 0.9)
    no_pretraining = RestartedPolyLR(opt, 0.01, total_epochs=10, restart_epoch=lambda: 0)
    assert no_pretraining.lr_at(5) == pytest.approx(0.01 * 0.5 ** 0.9)  # nnU-Net's own poly schedule
