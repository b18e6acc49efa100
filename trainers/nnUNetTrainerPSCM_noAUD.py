"""PSCM without the auxiliary decoder and its counterfactual alignment (D2 reconstruction and R_phi stay)."""
from nnunetv2_pscm.trainers.nnUNetTrainerPSCM import nnUNetTrainerPSCM


class nnUNetTrainerPSCM_noAUD(nnUNetTrainerPSCM):
    use_aud = False
