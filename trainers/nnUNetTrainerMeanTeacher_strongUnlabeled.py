"""Mean Teacher whose unlabeled terms cannot be satisfied for free: UniMatch-style feature perturbation (channel
dropout 0.5 on every encoder stage's output, unlabeled samples only) and soft Dice on the confident pseudo-labels
(weight 1, beside the FixMatch CE). See nnUNetTrainerMeanTeacher's docstring for why."""
from nnunetv2_pscm.trainers.nnUNetTrainerMeanTeacher import nnUNetTrainerMeanTeacher


class nnUNetTrainerMeanTeacher_strongUnlabeled(nnUNetTrainerMeanTeacher):
    feature_dropout = 0.5
    pseudo_label_dice_weight = 1.0
