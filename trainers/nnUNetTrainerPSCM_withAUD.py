"""PSCM with all three components, PSC + BOM + AUD: the paper's architecture as we reconstruct it, and
nnUNetTrainerPSCM's default until 2026-12-06 (runs recorded before then under the name nnUNetTrainerPSCM are this)."""
from nnunetv2_pscm.trainers.nnUNetTrainerPSCM import nnUNetTrainerPSCM


class nnUNetTrainerPSCM_withAUD(nnUNetTrainerPSCM):
    use_aud = True
