"""DuCiSC with the released code's loss combination: every term divided by its own detached value
(L_sup / sg(L_sup + 1) + sum_k w_k L_k / sg(L_k)), instead of the paper's weighted sum."""
from nnunetv2_pscm.trainers.nnUNetTrainerDuCiSC import nnUNetTrainerDuCiSC


class nnUNetTrainerDuCiSC_selfNormalized(nnUNetTrainerDuCiSC):
    self_normalize_losses = True
