"""nnUNetTrainerPSCM with QG-SSL's quality guidance (PL-QW sample weights + QAR; methods/quality/mixin.py). Build the
fold's quality predictor first: `nnUNetv2_pscm_train_quality -d D -c C -f F -p PLANS`."""
from nnunetv2_pscm.methods.quality.mixin import QualityGuidedMixin
from nnunetv2_pscm.trainers.nnUNetTrainerPSCM import nnUNetTrainerPSCM


class nnUNetTrainerPSCM_QG(QualityGuidedMixin, nnUNetTrainerPSCM):
    pass
