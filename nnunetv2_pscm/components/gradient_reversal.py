"""Gradient reversal (Ganin & Lempitsky 2015): identity forward, -coefficient x gradient backward.

Placed between a module and the loss it must *maximise*, it lets one backward pass give the module
the ascent direction while everything downstream still descends (the single-loop form of a min-max)."""
import torch


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, coefficient: float):
        ctx.coefficient = coefficient
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output):
        return -ctx.coefficient * grad_output, None


def reverse_gradient(x: torch.Tensor, coefficient: float = 1.0) -> torch.Tensor:
    return _ReverseGradient.apply(x, coefficient)
