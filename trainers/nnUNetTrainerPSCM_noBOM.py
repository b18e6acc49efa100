"""PSCM (all three components, `_withAUD`) without bi-level optimal mask learning: no R_phi and no reconstruction
decoder; AUD's masks are uniformly random blocks under the same budget."""
from nnunetv2_pscm.trainers.nnUNetTrainerPSCM_withAUD import nnUNetTrainerPSCM_withAUD


class nnUNetTrainerPSCM_noBOM(nnUNetTrainerPSCM_withAUD):
    use_bom = False
