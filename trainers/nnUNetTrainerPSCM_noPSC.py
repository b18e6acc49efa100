"""PSCM without pseudo-label self-correction: raw teacher argmax pseudo-labels, reliability 1."""
from nnunetv2_pscm.trainers.nnUNetTrainerPSCM import nnUNetTrainerPSCM


class nnUNetTrainerPSCM_noPSC(nnUNetTrainerPSCM):
    use_psc = False
