"""CRLN without pseudo-label rectification: the consistency targets are the teacher's own argmax and confidence
(prototypes, DIM and CPS are trained and used as in CRLN; CPS's uncertain voxels then come from the teacher alone)."""
from nnunetv2_pscm.trainers.nnUNetTrainerCRLN import nnUNetTrainerCRLN


class nnUNetTrainerCRLN_noRectify(nnUNetTrainerCRLN):
    rectify_mode = "none"
