"""CRLN without cooperative positive supervision (the InfoNCE on uncertain voxels is not computed)."""
from nnunetv2_pscm.trainers.nnUNetTrainerCRLN import nnUNetTrainerCRLN


class nnUNetTrainerCRLN_noCPS(nnUNetTrainerCRLN):
    weight_cps = 0.0
