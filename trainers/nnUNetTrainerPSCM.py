"""PSCM: pseudo-label self-correction (PSC) + bi-level optimal mask learning (BOM) + auxiliary decoder with
counterfactuals (AUD) on a bidirectional copy-paste mean-teacher base. Hyper-parameters and what is
confirmed vs reconstructed: nnunetv2_pscm/methods/pscm/trainer_base.py and README."""
from nnunetv2_pscm.methods.pscm.trainer_base import PSCMTrainerBase


class nnUNetTrainerPSCM(PSCMTrainerBase):
    use_psc = True
    use_bom = True
    use_aud = True
