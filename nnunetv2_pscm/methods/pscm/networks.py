"""Training-only modules of PSCM: the extra decoders D2 (reconstruction) and D3 (auxiliary segmentation) on
the student's encoder, and the mask generator R_phi."""
from typing import Sequence

import torch
from dynamic_network_architectures.building_blocks.unet_decoder import UNetDecoder
from torch import nn


class AuxiliaryUNetDecoder(UNetDecoder):
    """nnU-Net's decoder, built for the student's encoder, with `num_outputs` output channels.

    nnU-Net's decoder keeps a reference to its encoder as a submodule. Ours drops it: the encoder belongs
    to the exported network, and registering it here would put its weights into our optimizer group and
    checkpoint entry a second time."""

    def __init__(self, encoder: nn.Module, num_outputs: int, n_conv_per_stage: Sequence[int]):
        super().__init__(encoder, num_outputs, n_conv_per_stage, deep_supervision=False)
        del self.encoder
        # without deep supervision only the full-resolution head runs (seg_layers[-1]); drop the others so no
        # parameter sits in the optimizer without ever getting a gradient
        self.seg_layers = nn.ModuleList([self.seg_layers[-1]])


class MaskGenerator(nn.Module):
    """R_phi: 5 x (conv-norm-nonlin) + a 1x1 conv to one mask logit per voxel, on the concatenation of encoder
    features, confidence C(v), uncertainty U(v) and the pseudo-label boundary B(v) (PSCM figure)."""

    def __init__(self, encoder: nn.Module, feature_channels: int, width: int = 16, n_blocks: int = 5):
        super().__init__()
        layers, channels = [], feature_channels + 3
        for _ in range(n_blocks):
            layers += [encoder.conv_op(channels, width, 3, padding=1, bias=True),
                       encoder.norm_op(width, **(encoder.norm_op_kwargs or {})),
                       encoder.nonlin(**(encoder.nonlin_kwargs or {}))]
            channels = width
        layers.append(encoder.conv_op(width, 1, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor, confidence: torch.Tensor, uncertainty: torch.Tensor,
                boundary: torch.Tensor) -> torch.Tensor:
        size = features.shape[2:]
        maps = [nn.functional.adaptive_avg_pool3d(m, size) if m.ndim == 5 else nn.functional.adaptive_avg_pool2d(m, size)
                for m in (confidence, uncertainty, boundary)]
        return self.body(torch.cat([features] + maps, 1))


def decoder_n_conv_per_stage(network: nn.Module) -> list:
    return [len(stage.convs) for stage in network.decoder.stages]


def check_supported_network(network: nn.Module) -> None:
    if not (hasattr(network, "encoder") and isinstance(getattr(network, "decoder", None), UNetDecoder)):
        raise RuntimeError(
            f"PSCM needs an encoder-decoder network whose decoder is dynamic_network_architectures' UNetDecoder "
            f"(PlainConvUNet, ResidualEncoderUNet: nnU-Net's default and ResEnc plans). Got {type(network).__name__}.")
