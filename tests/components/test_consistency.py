import math

import pytest
import torch

from nnunetv2_pscm.components.consistency import probability_mse


def test_softmax_mse_by_hand():
    # student logits 0,0 -> p = (0.5, 0.5); teacher logits log 3, 0 -> p = (0.75, 0.25)
    student = torch.zeros(1, 2, 1, 1)
    teacher = torch.tensor([math.log(3.0), 0.0]).view(1, 2, 1, 1)
    assert probability_mse(student, teacher).item() == pytest.approx(0.0625)


def test_sigmoid_mse_for_regions_by_hand():
    student = torch.zeros(1, 1, 2)  # sigmoid 0.5
    teacher = torch.tensor([[[math.log(3.0), 0.0]]])  # sigmoid 0.75, 0.5
    assert probability_mse(student, teacher, regions=True).item() == pytest.approx(0.0625 / 2)


def test_gradient_reaches_student_only():
    student = torch.randn(2, 3, 4, 4, requires_grad=True)
    teacher = torch.randn(2, 3, 4, 4, requires_grad=True)
    probability_mse(student, teacher).backward()
    assert student.grad is not None and student.grad.abs().sum() > 0
    assert teacher.grad is None


def test_zero_when_identical():
    x = torch.randn(2, 3, 5)
    assert probability_mse(x, x.clone()).item() == 0.0
