"""Exponential-moving-average teacher (Mean Teacher, BCP, UA-MT, DuCiSC).

    theta_teacher <- a_t * theta_teacher + (1 - a_t) * theta_student,   a_t = min(1 - 1/(t + 1), alpha)

The warm start a_t makes the teacher follow the student closely during the first steps (a_0 = 0 copies
the student) instead of averaging in the random initialisation for ~1/(1-alpha) steps.
Buffers (BatchNorm running statistics, if any) are copied from the student: a teacher in eval mode
needs statistics that match its averaged weights at least roughly, and averaging them adds nothing.
"""
import copy

import torch
from torch import nn


def ema_decay(step: int, alpha: float) -> float:
    """Decay used for the update after optimizer step number `step` (0-based)."""
    return min(1.0 - 1.0 / (step + 1), alpha)


class EMATeacher(nn.Module):
    def __init__(self, student: nn.Module, alpha: float = 0.99, train_mode: bool = False):
        super().__init__()
        self.alpha = alpha
        self.train_mode = train_mode
        self.module = copy.deepcopy(student)
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.module.train(train_mode)

    def train(self, mode: bool = True):
        # the trainer toggles train/eval on everything; the teacher keeps the mode it was configured with
        return super().train(self.train_mode)

    @torch.no_grad()
    def update(self, student: nn.Module, step: int) -> float:
        a = ema_decay(step, self.alpha)
        t_params = [p for p in self.module.parameters()]
        s_params = [p.detach() for p in student.parameters()]
        if len(t_params) != len(s_params):
            raise RuntimeError("EMA teacher and student have different parameter lists")
        # lerp_(s, w): t <- t + w (s - t) = (1 - w) t + w s, with w = 1 - a
        torch._foreach_lerp_(t_params, s_params, 1.0 - a)
        for t_buf, s_buf in zip(self.module.buffers(), student.buffers()):
            t_buf.copy_(s_buf)
        return a

    @torch.no_grad()
    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)
