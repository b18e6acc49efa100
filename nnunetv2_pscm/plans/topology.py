"""U-Net topology for a new patch size, computed the way nnU-Net's ExperimentPlanner does it.

We call nnU-Net's own `get_pool_and_conv_props` (pooling per axis from spacing and patch size, conv
kernels 1 on axes too coarse to mix, 3 elsewhere) and only choose smaller widths ourselves.
"""
from typing import Sequence, Tuple

from nnunetv2.experiment_planning.experiment_planners.network_topology import get_pool_and_conv_props

# ExperimentPlanner.UNet_featuremap_min_edge_length: stop pooling an axis once the bottleneck would drop below this
MIN_FEATURE_MAP_EDGE = 4
# ExperimentPlanner passes an effectively unlimited number of pooling operations as well
UNLIMITED_POOLING = 999999

ENCODER_PER_STAGE_KEYS = ("n_conv_per_stage", "n_blocks_per_stage")  # PlainConvUNet / ResidualEncoderUNet
DECODER_PER_STAGE_KEYS = ("n_conv_per_stage_decoder",)


def features_per_stage(num_stages: int, base_features: int, max_features: int) -> Tuple[int, ...]:
    """min(F * 2**i, M): double the width at every resolution, capped, as the planner does."""
    return tuple(min(base_features * 2 ** i, max_features) for i in range(num_stages))


def resize_per_stage(values: Sequence[int], length: int) -> Tuple[int, ...]:
    """Truncate a per-stage list, or extend it by repeating its last entry (deeper than the source)."""
    values = list(values)
    if length <= len(values):
        return tuple(values[:length])
    return tuple(values + [values[-1]] * (length - len(values)))


def derive_topology(spacing: Sequence[float], patch_size: Sequence[int], base_features: int,
                    max_features: int) -> Tuple[dict, Tuple[int, ...]]:
    """Return (architecture keyword updates, patch size) for this spacing and requested patch size.

    The returned patch size is the requested one rounded up to a multiple of the total pooling factor
    per axis (nnU-Net's `pad_shape`), so every pooling step halves an even size."""
    if len(spacing) != len(patch_size):
        raise ValueError(f"patch size {tuple(patch_size)} and spacing {tuple(spacing)} must have the same number "
                         f"of axes")
    if any(int(p) < 1 for p in patch_size):
        raise ValueError(f"patch size must be positive, got {tuple(patch_size)}")
    if base_features < 1 or max_features < base_features:
        raise ValueError(f"need 1 <= features ({base_features}) <= max features ({max_features})")
    _, strides, kernel_sizes, padded_patch, _ = get_pool_and_conv_props(
        list(spacing), [int(p) for p in patch_size], MIN_FEATURE_MAP_EDGE, UNLIMITED_POOLING)
    num_stages = len(strides)
    updates = {
        "n_stages": num_stages,
        "features_per_stage": list(features_per_stage(num_stages, base_features, max_features)),
        "kernel_sizes": [list(k) for k in kernel_sizes],
        "strides": [list(s) for s in strides],
    }
    return updates, tuple(int(p) for p in padded_patch)


def apply_topology(arch_kwargs: dict, updates: dict) -> dict:
    """A copy of the source architecture kwargs with the new topology; per-stage lists follow n_stages."""
    new_kwargs = dict(arch_kwargs)
    new_kwargs.update(updates)
    num_stages = updates["n_stages"]
    for key in ENCODER_PER_STAGE_KEYS:
        if key in new_kwargs:
            new_kwargs[key] = list(resize_per_stage(new_kwargs[key], num_stages))
    for key in DECODER_PER_STAGE_KEYS:
        if key in new_kwargs:
            new_kwargs[key] = list(resize_per_stage(new_kwargs[key], num_stages - 1))
    return new_kwargs
