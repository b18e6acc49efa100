"""PSCM without the auxiliary decoder and its counterfactual alignment (D2 reconstruction and R_phi stay): the same
as nnUNetTrainerPSCM's default since 2026-12-06, kept under the name it was measured with."""
from nnunetv2_pscm.trainers.nnUNetTrainerPSCM import nnUNetTrainerPSCM


class nnUNetTrainerPSCM_noAUD(nnUNetTrainerPSCM):
    use_aud = False
