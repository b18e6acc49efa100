"""Self-aware confidence thresholds (DuCiSC): one threshold per class and output scale, tracking how confident the
student is where the teacher predicts that class.

    tau_c^s <- clip(m * tau_c^s + (1 - m) * mu_c^s, 1/C, upper),
    mu_c^s = mean student probability of class c over the voxels the teacher labels c (skipped when there are none).

A voxel is certain at scale s when the teacher's probability of its top class c exceeds tau_c^s; in the binary case
that is DuCiSC's rule "p_bg > tau_bg or p_fg > tau_fg", since a probability above 1/2 is the top one. The thresholds
live in a buffer, so they move with the module's device and are checkpointed with it."""
import torch
from torch import nn


class SelfAwareThresholds(nn.Module):
    def __init__(self, num_scales: int, num_classes: int, momentum: float = 0.99, upper: float = 0.95):
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"self-aware thresholds need at least 2 classes (background included), got {num_classes}")
        self.momentum, self.lower, self.upper = momentum, 1.0 / num_classes, upper
        self.register_buffer("values", torch.full((num_scales, num_classes), 1.0 / num_classes))

    @torch.no_grad()
    def certain(self, scale: int, teacher_probs: torch.Tensor) -> torch.Tensor:
        """(B, 1, ...) float mask, 1 where the teacher's top probability exceeds its class's threshold."""
        top, label = teacher_probs.max(1, keepdim=True)
        return (top > self.values[scale].to(top.dtype)[label]).float()

    @torch.no_grad()
    def update(self, scale: int, student_probs: torch.Tensor, teacher_labels: torch.Tensor) -> None:
        """student_probs (B, C, ...) detached probabilities, teacher_labels (B, 1, ...) integer pseudo-labels.
        Vectorised over classes (no per-class loop, no device synchronisation in the training step)."""
        num_classes = self.values.shape[1]
        where = nn.functional.one_hot(teacher_labels[:, 0].long(), num_classes).movedim(-1, 1).float()  # (B, C, ...)
        axes = (0, *range(2, where.ndim))
        count = where.sum(axes)
        mean_confidence = (student_probs.float() * where).sum(axes) / count.clamp_min(1.0)
        moved = (self.momentum * self.values[scale] + (1 - self.momentum) * mean_confidence).clamp(self.lower,
                                                                                                   self.upper)
        self.values[scale] = torch.where(count > 0, moved, self.values[scale])
