"""The QG-SSL quality predictor: a 2D or 3D ResNet-18-style regressor from (image, mask) to predicted Dice.

Confirmed by the paper [PAPER summaries, spec section 3.2]: a separate network with a **ResNet-18** backbone predicts
a DSC-like quality score from image-mask pairs. Our reconstruction [INF, spec section 3.3], each a named attribute:

* input: the image channels concatenated with ``num_classes`` mask channels (background included): the one-hot of an
  integer label map, or soft class probabilities (e.g. a softmax) in the same channels, so the QAR regulariser can
  back-propagate through the mask input (`mask_to_channels`);
* ResNet-18 layout: stem conv (``stem_kernel``, stride 2) + max pool (stride 2), four stages of ``blocks_per_stage``
  BasicBlocks (2, 2, 2, 2) with ``width`` x (1, 2, 4, 8) channels, strides (1, 2, 2, 2); a strided 1x1 conv + norm
  projects the shortcut where shape changes (the original ResNet's option B);
* nnU-Net's normalisation and nonlinearity (InstanceNorm with affine, eps 1e-5; LeakyReLU 0.01), conv bias on, and
  nnU-Net's He initialisation (`InitWeights_He(1e-2)` from dynamic-network-architectures);
* global average pool, linear head, sigmoid: ``(B, num_classes - 1)`` predicted Dice per foreground class (the mean,
  if wanted, is the caller's).

dynamic-network-architectures' `BasicBlockD` is not used: its average-pool shortcut floors odd sizes while the strided
conv rounds up, so it fails on odd patch sizes. The net downsamples by 32 (`downsampling`); an input whose every axis
is <= 32 leaves one voxel at the last stage, where instance norm is undefined, and is refused with a clear error.
"""
import math
from typing import Sequence, Tuple

import torch
from dynamic_network_architectures.initialization.weight_init import InitWeights_He
from torch import nn

from nnunetv2_pscm.components.boundary import one_hot

NORM_KWARGS = {"eps": 1e-5, "affine": True}
NONLIN_KWARGS = {"negative_slope": 1e-2, "inplace": True}
OPS = {2: (nn.Conv2d, nn.InstanceNorm2d, nn.MaxPool2d), 3: (nn.Conv3d, nn.InstanceNorm3d, nn.MaxPool3d)}


def mask_to_channels(label_or_probs: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(B, C, ...) float mask channels: one-hot of an integer (B, 1, ...) or (B, ...) label map, or a floating
    (B, C, ...) probability map passed through unchanged (same tensor, so its gradient is kept). A floating
    (B, 1, ...) map with integer values is read as a label map."""
    if num_classes < 2:
        raise ValueError(f"num_classes counts the background and must be >= 2, got {num_classes}")
    mask = torch.as_tensor(label_or_probs)
    if mask.is_floating_point():
        if mask.ndim >= 3 and mask.shape[1] == num_classes:
            return mask
        if not (mask.ndim >= 3 and mask.shape[1] == 1 and torch.equal(mask, mask.round())):
            raise ValueError(f"a floating mask must hold {num_classes} class probabilities in dim 1 (or integer "
                             f"labels in one channel), got shape {tuple(mask.shape)}")
    if mask.numel() and (int(mask.min()) < 0 or int(mask.max()) >= num_classes):
        raise ValueError(f"label map holds labels outside [0, {num_classes}): min {int(mask.min())}, "
                         f"max {int(mask.max())}")
    return one_hot(mask.long(), num_classes)


class BasicBlock(nn.Module):
    """conv-norm-nonlin-conv-norm + shortcut, then nonlin (ResNet's basic block with nnU-Net's norm/nonlin)."""

    def __init__(self, dims: int, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        conv, norm, _ = OPS[dims]
        self.conv1 = conv(in_channels, out_channels, 3, stride, 1)
        self.norm1 = norm(out_channels, **NORM_KWARGS)
        self.conv2 = conv(out_channels, out_channels, 3, 1, 1)
        self.norm2 = norm(out_channels, **NORM_KWARGS)
        self.nonlin1, self.nonlin2 = nn.LeakyReLU(**NONLIN_KWARGS), nn.LeakyReLU(**NONLIN_KWARGS)
        self.shortcut = nn.Identity() if stride == 1 and in_channels == out_channels else nn.Sequential(
            conv(in_channels, out_channels, 1, stride, 0), norm(out_channels, **NORM_KWARGS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.norm2(self.conv2(self.nonlin1(self.norm1(self.conv1(x)))))
        return self.nonlin2(out + self.shortcut(x))


class QualityNet(nn.Module):
    """ResNet-18-style quality regressor: ``forward(image, mask) -> (B, num_classes - 1)`` predicted Dice in (0, 1).

    Args:
        image_channels: channels of the image (nnU-Net's input channels, normalised as by the plans).
        num_classes: classes of the mask, background included (>= 2).
        dims: 2 or 3.
        width: channels of the first stage (ResNet-18: 64); stages have width x (1, 2, 4, 8).
        blocks_per_stage: BasicBlocks per stage (ResNet-18: (2, 2, 2, 2)).
        stem_kernel: kernel of the stride-2 stem conv (ResNet: 7).
    """
    stage_strides: Tuple[int, ...] = (1, 2, 2, 2)

    def __init__(self, image_channels: int, num_classes: int, dims: int, width: int = 64,
                 blocks_per_stage: Sequence[int] = (2, 2, 2, 2), stem_kernel: int = 7):
        super().__init__()
        if dims not in OPS:
            raise ValueError(f"QualityNet is 2D or 3D, got dims={dims}")
        if num_classes < 2 or image_channels < 1 or width < 1:
            raise ValueError(f"need image_channels >= 1, num_classes >= 2 (background included) and width >= 1, got "
                             f"{image_channels}, {num_classes}, {width}")
        if len(blocks_per_stage) != len(self.stage_strides) or min(blocks_per_stage) < 1:
            raise ValueError(f"blocks_per_stage needs {len(self.stage_strides)} entries >= 1, got {blocks_per_stage}")
        self.image_channels, self.num_classes, self.dims, self.width = image_channels, num_classes, dims, width
        conv, norm, pool = OPS[dims]
        self.stem = nn.Sequential(conv(image_channels + num_classes, width, stem_kernel, 2, stem_kernel // 2),
                                  norm(width, **NORM_KWARGS), nn.LeakyReLU(**NONLIN_KWARGS), pool(3, 2, 1))
        stages, channels = [], width
        for i, (blocks, stride) in enumerate(zip(blocks_per_stage, self.stage_strides)):
            out_channels = width * 2 ** i
            stages += [BasicBlock(dims, channels if b == 0 else out_channels, out_channels, stride if b == 0 else 1)
                       for b in range(blocks)]
            channels = out_channels
        self.stages = nn.Sequential(*stages)
        self.head = nn.Linear(channels, num_classes - 1)
        self.apply(InitWeights_He(1e-2))

    @property
    def downsampling(self) -> int:
        return 4 * math.prod(self.stage_strides)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if image.ndim != self.dims + 2 or image.shape[1] != self.image_channels:
            raise ValueError(f"QualityNet({self.dims}D, {self.image_channels} image channels) got an image of shape "
                             f"{tuple(image.shape)}")
        channels = mask_to_channels(mask, self.num_classes)
        if channels.shape[0] != image.shape[0] or channels.shape[2:] != image.shape[2:]:
            raise ValueError(f"mask shape {tuple(mask.shape)} does not match image shape {tuple(image.shape)}")
        if all(math.ceil(s / self.downsampling) == 1 for s in image.shape[2:]):
            raise ValueError(f"QualityNet downsamples by {self.downsampling}: the spatial shape "
                             f"{tuple(image.shape[2:])} leaves one voxel at the last stage, where instance norm is "
                             f"undefined; give a patch with at least one axis > {self.downsampling}")
        x = self.stages(self.stem(torch.cat([image, channels.to(image.dtype)], 1)))
        return torch.sigmoid(self.head(x.mean(tuple(range(2, x.ndim)))))
