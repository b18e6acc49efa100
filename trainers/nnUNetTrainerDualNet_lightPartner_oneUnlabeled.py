"""nnUNetTrainerDualNet_lightPartner with one unlabeled patch per step (global unlabeled batch 1 instead of the plans'
batch size): each net then takes labeled + 1 unlabeled patch forward and backward. Why: on a CPU a step costs in
proportion to the patches, so this is the cheapest dual network that keeps the paper's terms; it halves the
unlabeled samples the consistency terms see per step."""
from nnunetv2_pscm.trainers.nnUNetTrainerDualNet_lightPartner import nnUNetTrainerDualNet_lightPartner


class nnUNetTrainerDualNet_lightPartner_oneUnlabeled(nnUNetTrainerDualNet_lightPartner):
    unlabeled_batch_size = 1
