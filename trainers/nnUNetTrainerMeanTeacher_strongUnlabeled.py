"""The name under which Mean Teacher's stronger unlabeled signal (feature dropout 0.5 on the encoder stages for the
unlabeled samples + soft Dice on the confident pseudo-labels) was measured on Left Atrium (README). Since it became
nnUNetTrainerMeanTeacher's default this class changes nothing; it is kept so that models trained under this name
still resume (`--c`) and predict (`nnUNetv2_predict -tr nnUNetTrainerMeanTeacher_strongUnlabeled`)."""
from nnunetv2_pscm.trainers.nnUNetTrainerMeanTeacher import nnUNetTrainerMeanTeacher


class nnUNetTrainerMeanTeacher_strongUnlabeled(nnUNetTrainerMeanTeacher):
    pass
