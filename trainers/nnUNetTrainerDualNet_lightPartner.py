"""nnUNetTrainerDualNet with a lighter partner: the ResidualEncoderUNet gets ONE residual block per stage (two
convolutions, as the plans' PlainConvUNet has per stage) instead of ResNet-34's (1, 3, 4, 6, 6, ...). Why: the deep
partner is most of the dual network's cost (README, "Speed and memory"); this one keeps the two families
heterogeneous (residual vs plain stages) at about the plans network's cost. Further from the paper's ResNet-34 net."""
from nnunetv2_pscm.trainers.nnUNetTrainerDualNet import nnUNetTrainerDualNet


class nnUNetTrainerDualNet_lightPartner(nnUNetTrainerDualNet):
    resenc_blocks_per_stage = (1,)
