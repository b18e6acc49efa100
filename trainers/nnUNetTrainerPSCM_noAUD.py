"""PSCM without the auxiliary decoder and its counterfactual alignment, i.e. PSC + BOM (D2 reconstruction and R_phi
stay): nnUNetTrainerPSCM's default for part of 2026-12-06 (AUD off, BOM still on), kept under the name it was measured
with. Every switch is set here, not inherited, so the name keeps its meaning when the default changes."""
from nnunetv2_pscm.trainers.nnUNetTrainerPSCM import nnUNetTrainerPSCM


class nnUNetTrainerPSCM_noAUD(nnUNetTrainerPSCM):
    use_psc = True
    use_bom = True
    use_aud = False
