"""CRLN without the feature perturbation of the student's unlabeled samples (the version measured on LA-4 seed 1 on
2026-12-05: -0.002 Dice against its labeled-only model), to measure what the perturbation adds."""
from nnunetv2_pscm.trainers.nnUNetTrainerCRLN import nnUNetTrainerCRLN


class nnUNetTrainerCRLN_noFeatureDropout(nnUNetTrainerCRLN):
    feature_dropout = 0.0
