"""PSCM with all three components, PSC + BOM + AUD: the paper's architecture as we reconstruct it, and
nnUNetTrainerPSCM's default until 2026-12-06 (runs recorded before then under the name nnUNetTrainerPSCM are this).
Every switch is set here, not inherited, so the name keeps its meaning when the default changes."""
from nnunetv2_pscm.trainers.nnUNetTrainerPSCM import nnUNetTrainerPSCM


class nnUNetTrainerPSCM_withAUD(nnUNetTrainerPSCM):
    use_psc = True
    use_bom = True
    use_aud = True
