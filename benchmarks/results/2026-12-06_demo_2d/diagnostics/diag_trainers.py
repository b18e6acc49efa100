# diagnostic variants of Mean Teacher on the demo (not part of the package)
from nnunetv2_pscm.trainers.nnUNetTrainerMeanTeacher import nnUNetTrainerMeanTeacher
from nnunetv2_pscm.trainers.schedule_variants import schedule_variant


class nnUNetTrainerMeanTeacher_noPLDice(nnUNetTrainerMeanTeacher):
    pseudo_label_dice_weight = 0.0


nnUNetTrainerMeanTeacher_noPLDice_16ep50it = schedule_variant(nnUNetTrainerMeanTeacher_noPLDice, 16, 50)
nnUNetTrainerMeanTeacher_noPLDice_16ep50it.__module__ = __name__


class nnUNetTrainerMeanTeacher_skipEmpty(nnUNetTrainerMeanTeacher):
    pseudo_label_dice_skips_empty = True


nnUNetTrainerMeanTeacher_skipEmpty_16ep50it = schedule_variant(nnUNetTrainerMeanTeacher_skipEmpty, 16, 50)
nnUNetTrainerMeanTeacher_skipEmpty_16ep50it.__module__ = __name__
