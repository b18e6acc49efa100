"""PSCM that also reports pseudo-label quality against the hidden labels of unlabeled training cases.

For research on benchmark splits where the "unlabeled" cases do have labels: logs pl_dice_raw /
pl_dice_corrected every epoch and a pseudo-label PNG every 50 epochs. The hidden labels are read only by
this report, never by a loss; training is identical to nnUNetTrainerPSCM. Do not use it when the hidden
labels must stay unread (a real semi-supervised deployment)."""
from nnunetv2_pscm.methods.pscm.trainer_base import PSCMTrainerBase


class nnUNetTrainerPSCM_monitor(PSCMTrainerBase):
    monitor_hidden_labels = True
