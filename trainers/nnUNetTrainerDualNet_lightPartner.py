"""nnUNetTrainerDualNet with a lighter partner: the ResidualEncoderUNet gets ONE residual block per stage (two
convolutions, as the plans' PlainConvUNet has per stage) instead of ResNet-34's (1, 3, 4, 6, 6, ...), so the two
families stay heterogeneous (residual vs plain stages) with a fifth of the partner's parameters on LA. It saves less
time than that suggests: on a CPU the step is convolution-bound at the full-resolution stages, which both partners
share, so it measured 5.64x stock against the dual network's 6.21x (README, "Speed and memory"). Further from the
paper's ResNet-34 net."""
from nnunetv2_pscm.trainers.nnUNetTrainerDualNet import nnUNetTrainerDualNet


class nnUNetTrainerDualNet_lightPartner(nnUNetTrainerDualNet):
    resenc_blocks_per_stage = (1,)
