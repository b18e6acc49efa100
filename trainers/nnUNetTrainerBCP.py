"""Bidirectional Copy-Paste (Bai et al., CVPR 2023) on nnU-Net: labeled-only copy-paste pretraining, then
EMA-teacher pseudo-labels pasted both ways between labeled and unlabeled patches (pseudo regions weight 0.5).
It is PSCM's base with none of PSC, BOM and AUD. Unlike BCP's LA script, no largest-connected-component
cleanup of pseudo-labels (PSC generalises that)."""
from nnunetv2_pscm.methods.pscm.trainer_base import PSCMTrainerBase


class nnUNetTrainerBCP(PSCMTrainerBase):
    use_psc = False
    use_bom = False
    use_aud = False
