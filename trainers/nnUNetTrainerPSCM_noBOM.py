"""PSCM without bi-level optimal mask learning: no R_phi and no reconstruction decoder; AUD's masks are
uniformly random blocks under the same budget."""
from nnunetv2_pscm.trainers.nnUNetTrainerPSCM import nnUNetTrainerPSCM


class nnUNetTrainerPSCM_noBOM(nnUNetTrainerPSCM):
    use_bom = False
