"""DuCiSC with the paper's plain weighted sum of its loss terms (L_sup + sum_k w_k L_k) instead of the released code's
self-normalisation (each term divided by its own detached value), which is the default (README: measured on the
validation fold)."""
from nnunetv2_pscm.trainers.nnUNetTrainerDuCiSC import nnUNetTrainerDuCiSC


class nnUNetTrainerDuCiSC_weightedSum(nnUNetTrainerDuCiSC):
    self_normalize_losses = False
