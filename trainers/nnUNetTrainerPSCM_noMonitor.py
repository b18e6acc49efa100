"""PSCM without the pseudo-label monitor: the hidden labels of "unlabeled" training cases stay unread, even
for reporting. Training is identical to nnUNetTrainerPSCM (the monitor never feeds a loss); use it when those
labels must not be opened at all (e.g. a blinded evaluation)."""
from nnunetv2_pscm.trainers.nnUNetTrainerPSCM import nnUNetTrainerPSCM


class nnUNetTrainerPSCM_noMonitor(nnUNetTrainerPSCM):
    monitor_hidden_labels = False
