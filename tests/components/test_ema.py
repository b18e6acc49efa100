import pytest
import torch
from torch import nn

from nnunetv2_pscm.components.ema import EMATeacher, ema_decay


def test_warm_start_decay_values():
    assert ema_decay(0, 0.99) == 0.0  # first update copies the student
    assert ema_decay(1, 0.99) == 0.5
    assert ema_decay(9, 0.99) == pytest.approx(0.9)
    assert ema_decay(10_000, 0.99) == 0.99  # capped at alpha


def _scalar_module(value: float) -> nn.Module:
    m = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        m.weight.fill_(value)
    return m


def test_update_is_the_ema_formula():
    student = _scalar_module(0.0)
    teacher = EMATeacher(student, alpha=0.9)
    with torch.no_grad():
        student.weight.fill_(1.0)
    teacher.update(student, step=100)  # a = 0.9: 0.9 * 0 + 0.1 * 1
    assert teacher.module.weight.item() == pytest.approx(0.1)
    teacher.update(student, step=101)  # 0.9 * 0.1 + 0.1 * 1
    assert teacher.module.weight.item() == pytest.approx(0.19)
    teacher.update(student, step=0)  # warm start: a = 0 copies
    assert teacher.module.weight.item() == pytest.approx(1.0)


def test_teacher_gets_no_gradient_and_keeps_its_mode():
    student = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    teacher = EMATeacher(student, alpha=0.99, train_mode=False)
    assert all(not p.requires_grad for p in teacher.parameters())
    teacher.train()
    assert not teacher.module.training
    out = teacher(torch.randn(4, 3))
    assert not out.requires_grad


def test_buffers_are_copied_from_student():
    student = nn.BatchNorm1d(2)
    teacher = EMATeacher(student, alpha=0.99)
    student.train()
    student(torch.randn(8, 2) * 5 + 3)
    teacher.update(student, step=50)
    assert torch.equal(teacher.module.running_mean, student.running_mean)
