"""Split a trainer's training augmentation into the parts an unlabeled batch can use.

We reuse the trainer's own `get_training_transforms` (so a variant such as NoDA or DA5 changes labeled
and unlabeled data alike) and sort its steps into:
* geometric (spatial transform, mirroring, the dummy-2D wrappers): sampled once per crop;
* photometric (every ImageOnlyTransform: noise, blur, brightness, contrast, low-res, gamma);
* label-only or label-dependent steps, which an unlabeled crop cannot run and are dropped.
The weak view is geometric(crop); the strong view is photometric(weak view), so both views of one crop
are voxel-aligned: a pseudo-label computed on the weak view supervises the strong view directly.
"""
from typing import List, Tuple

from batchgeneratorsv2.transforms.base.basic_transform import BasicTransform, ImageOnlyTransform, SegOnlyTransform
from batchgeneratorsv2.transforms.nnunet.random_binary_operator import ApplyRandomBinaryOperatorTransform
from batchgeneratorsv2.transforms.nnunet.remove_connected_components import \
    RemoveRandomConnectedComponentFromOneHotEncodingTransform
from batchgeneratorsv2.transforms.nnunet.seg_to_onehot import MoveSegAsOneHotToDataTransform
from batchgeneratorsv2.transforms.spatial.mirroring import MirrorTransform
from batchgeneratorsv2.transforms.spatial.spatial import SpatialTransform
from batchgeneratorsv2.transforms.utils.compose import ComposeTransforms
from batchgeneratorsv2.transforms.utils.nnunet_masking import MaskImageTransform
from batchgeneratorsv2.transforms.utils.pseudo2d import Convert2DTo3DTransform, Convert3DTo2DTransform
from batchgeneratorsv2.transforms.utils.random import RandomTransform
from batchgeneratorsv2.transforms.utils.seg_to_regions import ConvertSegmentationToRegionsTransform

GEOMETRIC = (SpatialTransform, MirrorTransform, Convert3DTo2DTransform, Convert2DTo3DTransform)
# MaskImageTransform re-zeroes the image outside the nonzero mask, which it reads from the segmentation.
# Unlabeled images were already zeroed there by normalization, so dropping it changes nothing but the
# border padding of rotated crops, which the spatial transform fills with 0 anyway.
NEEDS_LABEL = (MaskImageTransform, MoveSegAsOneHotToDataTransform, ApplyRandomBinaryOperatorTransform,
               RemoveRandomConnectedComponentFromOneHotEncodingTransform, ConvertSegmentationToRegionsTransform)


def _flatten(transform: BasicTransform) -> List[BasicTransform]:
    if isinstance(transform, ComposeTransforms):
        return [t for child in transform.transforms for t in _flatten(child)]
    return [transform]


def _inner(transform: BasicTransform) -> BasicTransform:
    return transform.transform if isinstance(transform, RandomTransform) else transform


def split_geometric_photometric(training_transforms: BasicTransform) -> Tuple[ComposeTransforms, ComposeTransforms]:
    geometric, photometric = [], []
    for t in _flatten(training_transforms):
        inner = _inner(t)
        if isinstance(inner, GEOMETRIC):
            geometric.append(t)
        elif isinstance(inner, ImageOnlyTransform):
            photometric.append(t)
        elif isinstance(inner, (SegOnlyTransform,) + NEEDS_LABEL):
            continue
        else:
            raise TypeError(
                f"Cannot tell whether training transform {type(inner).__name__} is geometric or photometric, so the "
                f"unlabeled batch cannot reuse it. Override `get_unlabeled_transforms` in your trainer.")
    return ComposeTransforms(geometric), ComposeTransforms(photometric)
