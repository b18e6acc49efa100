"""PSCM (all three components, `_withAUD`) without pseudo-label self-correction: raw teacher argmax pseudo-labels,
reliability 1."""
from nnunetv2_pscm.trainers.nnUNetTrainerPSCM_withAUD import nnUNetTrainerPSCM_withAUD


class nnUNetTrainerPSCM_noPSC(nnUNetTrainerPSCM_withAUD):
    use_psc = False
