"""Dual network (arXiv 2509.13084) on nnU-Net: the plans' PlainConvUNet and a ResidualEncoderUNet from the same plans,
cross-consistency enhancement with entropy-filtered pseudo-labels, KL-weighted pseudo-labels, prototype contrast.
Exports the averaged ensemble of both nets (the paper's inference; ~2x a stock prediction). The recipe, its
attributes and the released code's defects we fix: nnunetv2_pscm/methods/dualnet/trainer_base.py."""
from nnunetv2_pscm.methods.dualnet.trainer_base import DualNetTrainerBase


class nnUNetTrainerDualNet(DualNetTrainerBase):
    inference = "ensemble"
