"""DuCiSC with the teacher's input noise off: the EMA teacher sees the weak view alone. Why it exists: the released
code's teacher differs from its student through dropout in train mode; nnU-Net's network has none, so our default
adds clipped N(0, 0.1) noise to the teacher's input. This variant measures what that noise is worth (README,
"Measured results"). The one thing it changes: teacher_input_noise_std."""
from nnunetv2_pscm.trainers.nnUNetTrainerDuCiSC import nnUNetTrainerDuCiSC


class nnUNetTrainerDuCiSC_noTeacherNoise(nnUNetTrainerDuCiSC):
    teacher_input_noise_std = 0.0
