"""Boundary map of a label map by morphological gradient (dilation - erosion, 3-voxel kernel), on device."""
import torch
import torch.nn.functional as F


def one_hot(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(B, 1, ...) or (B, ...) integer labels -> (B, C, ...) float one-hot."""
    if labels.ndim >= 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    return F.one_hot(labels.long(), num_classes).movedim(-1, 1).float()


def boundary_map(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(B, 1, ...) map, 1 on every voxel whose 3x3(x3) neighbourhood holds more than one class.

    Erosion is -maxpool(-x); max pooling pads with -inf, so the image border is not a boundary."""
    onehot = one_hot(labels, num_classes)
    pool = F.max_pool3d if onehot.ndim == 5 else F.max_pool2d
    dilated = pool(onehot, 3, stride=1, padding=1)
    eroded = -pool(-onehot, 3, stride=1, padding=1)
    return (dilated - eroded).amax(1, keepdim=True)
