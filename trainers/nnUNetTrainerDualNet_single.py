"""nnUNetTrainerDualNet, exporting ONE net instead of the ensemble: the one with the higher EMA of nnU-Net's online
validation pseudo-Dice, as its own stock state dict (PlainConvUNet or ResidualEncoderUNet of the plans), so
nnUNetv2_predict runs at stock speed. Training is identical to nnUNetTrainerDualNet."""
from nnunetv2_pscm.trainers.nnUNetTrainerDualNet import nnUNetTrainerDualNet


class nnUNetTrainerDualNet_single(nnUNetTrainerDualNet):
    inference = "single"
