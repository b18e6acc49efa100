"""nnUNetTrainerDualNet with U2PL's reading of the entropy filter: a voxel is dropped when both nets' entropies are at
or above their 80th percentile (the 20 % most uncertain), instead of the released code's 20th percentile, which keeps
only each net's 20 % most certain voxels. Why: on Left Atrium after a warm start the code's filter left a CCE of
~0.0003 (the kept voxels are the ones both nets already agree on), so the unlabeled data hardly trained anything."""
from nnunetv2_pscm.trainers.nnUNetTrainerDualNet import nnUNetTrainerDualNet


class nnUNetTrainerDualNet_dropUncertain20(nnUNetTrainerDualNet):
    entropy_percentile = 80.0
