"""nnU-Net's deep supervision, for losses nnU-Net does not have: one place that unwraps its output lists and
brings targets and voxel maps to every output's resolution the way nnU-Net downsamples its own targets."""
from typing import Callable, List, Optional, Sequence

import torch
from torch import nn


def as_list(outputs) -> List[torch.Tensor]:
    """A network output (a list of scales under deep supervision, else one tensor) as a list, full resolution first."""
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def full_resolution(outputs) -> torch.Tensor:
    """The full-resolution element of a (possibly deep-supervised) output or target."""
    return outputs[0] if isinstance(outputs, (list, tuple)) else outputs


def stock_loss_input(outputs, deep_supervision: bool, first: Optional[int] = None):
    """What nnU-Net's own loss takes from a network output, optionally only its first `first` samples (the labeled
    part of a batch that shares one student pass): every scale under deep supervision, else full resolution."""
    scales = [o[:first] for o in as_list(outputs)]
    return scales if deep_supervision else scales[0]


def resize_nearest(volume: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """'nearest-exact' resampling (what nnU-Net's DownsampleSegForDSTransform amounts to on patches); a no-op at
    the same size. Integer volumes stay integer."""
    if tuple(volume.shape[2:]) == tuple(size):
        return volume
    resized = nn.functional.interpolate(volume.float(), size, mode="nearest-exact")
    return resized.to(volume.dtype) if not volume.is_floating_point() else resized


def resize_soft(volume: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """A soft map (probabilities, soft labels) at a deep-supervision scale: 'area' resampling, i.e. each coarse voxel
    is the mean of the fine voxels it covers, so a soft label stays a distribution over classes. A no-op at the
    same size."""
    if tuple(volume.shape[2:]) == tuple(size):
        return volume
    return nn.functional.interpolate(volume.float(), size, mode="area")


def deep_supervised(loss_fn: Callable, outputs, target: torch.Tensor, voxel_maps: Sequence[torch.Tensor],
                    scale_weights: Sequence[float]) -> torch.Tensor:
    """sum_k scale_weights[k] * loss_fn(outputs[k], target_k, *maps_k), target and maps resized to output k.
    Scales with weight 0 are skipped (nnU-Net gives the lowest resolution weight 0)."""
    total = 0.0
    for out, w in zip(as_list(outputs), scale_weights):
        if w == 0:
            continue
        size = out.shape[2:]
        total = total + w * loss_fn(out, resize_nearest(target, size), *[resize_nearest(m, size) for m in voxel_maps])
    return total
