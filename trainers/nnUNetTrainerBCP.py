"""Bidirectional Copy-Paste (Bai et al., CVPR 2023) on nnU-Net: EMA-teacher pseudo-labels (confidence-thresholded,
largest component for single-structure classes) pasted both ways between labeled and unlabeled patches, loss
normalised per region (ground truth 1, pseudo-labels 0.5), on top of nnU-Net's own loss on the labeled batch.
Warm-start it from the labeled-only model (`-pretrained_weights`), or it pretrains on labeled data first. The
recipe and its attributes: nnunetv2_pscm/methods/bcp/trainer_base.py."""
from nnunetv2_pscm.methods.bcp.trainer_base import BCPTrainerBase


class nnUNetTrainerBCP(BCPTrainerBase):
    pass
