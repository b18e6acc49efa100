"""DuCiSC (dual cross-image semantic consistency with self-aware pseudo-labels, IEEE TMI 2025) on nnU-Net: EMA
teacher, mixup-fused labeled/unlabeled images, pixel and prototype consistency at four deep-supervision scales,
per-class self-aware thresholds. The recipe, its attributes and what differs from the released code:
nnunetv2_pscm/methods/ducisc/trainer_base.py."""
from nnunetv2_pscm.methods.ducisc.trainer_base import DuCiSCTrainerBase


class nnUNetTrainerDuCiSC(DuCiSCTrainerBase):
    pass
