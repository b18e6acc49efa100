"""CRLN (cooperative rectification learning network, arXiv 2502.11456; no code public) on nnU-Net: EMA teacher,
learnable multi-prototypes per class, DIM relationship map rectifying the teacher's pseudo-labels, CPS on uncertain
voxels. What the paper confirms, what is our reconstruction, and every attribute:
nnunetv2_pscm/methods/crln/trainer_base.py."""
from nnunetv2_pscm.methods.crln.trainer_base import CRLNTrainerBase


class nnUNetTrainerCRLN(CRLNTrainerBase):
    pass
