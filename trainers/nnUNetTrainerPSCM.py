"""PSCM: pseudo-label self-correction (PSC) on a bidirectional copy-paste mean-teacher base (BCP).
Bi-level optimal mask learning (BOM) and the auxiliary decoder with counterfactuals (AUD) are off by default since
2026-12-06: neither helped where it was measured (Left Atrium LA-8, same chain: without AUD +0.000 Dice, without
BOM +0.001; the synthetic demo: without AUD +0.027, without BOM +0.002) and each costs step time (LA, 30 epochs
on 2 CPU cores: ~45 min with both, 37-38 min with one). `nnUNetTrainerPSCM_withAUD` is the method with all three
components; `nnUNetTrainerPSCM_noAUD` is PSC + BOM. Hyper-parameters and what is confirmed vs reconstructed:
nnunetv2_pscm/methods/pscm/trainer_base.py and README."""
from nnunetv2_pscm.methods.pscm.trainer_base import PSCMTrainerBase


class nnUNetTrainerPSCM(PSCMTrainerBase):
    use_psc = True
    use_bom = False
    use_aud = False
