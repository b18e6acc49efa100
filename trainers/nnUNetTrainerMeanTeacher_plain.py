"""Mean Teacher as it was before the stronger unlabeled signal became the default: the MSE consistency and the
FixMatch CE only, no feature dropout, no pseudo-label Dice (LA-4 seed 0, warm start: 0.822 Dice, README)."""
from nnunetv2_pscm.trainers.nnUNetTrainerMeanTeacher import nnUNetTrainerMeanTeacher


class nnUNetTrainerMeanTeacher_plain(nnUNetTrainerMeanTeacher):
    feature_dropout = 0.0
    pseudo_label_dice_weight = 0.0
