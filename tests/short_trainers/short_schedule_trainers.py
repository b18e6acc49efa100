"""Short-schedule variants of our trainers for end-to-end tests through the stock nnUNetv2_train CLI.

This folder is appended to nnUNet_extTrainer by the tests. nnU-Net sets schedule lengths in
__init__, so a schedule variant overrides __init__ (like nnU-Net's own nnUNetTrainer_Xepochs).
PSCM_TEST_STOP_AFTER_EPOCH=k makes a run die after epoch k has been checkpointed (to test --c).
"""
import os

import torch
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

from nnunetv2_pscm.trainers.nnUNetTrainerMeanTeacher import nnUNetTrainerMeanTeacher


def short_schedule(base, epochs=2, iterations=3, val_iterations=1):
    class Short(base):
        def __init__(self, plans, configuration, fold, dataset_json, device=torch.device("cuda")):
            super().__init__(plans, configuration, fold, dataset_json, device)
            self.num_epochs = epochs
            self.num_iterations_per_epoch = iterations
            self.num_val_iterations_per_epoch = val_iterations
            self.save_every = 1

        def on_epoch_end(self):
            super().on_epoch_end()
            stop = os.environ.get("PSCM_TEST_STOP_AFTER_EPOCH")
            if stop is not None and self.current_epoch == int(stop) + 1:
                raise SystemExit(f"simulated crash after epoch {stop}")

    Short.__name__ = Short.__qualname__ = base.__name__ + "_short"
    return Short


nnUNetTrainer_short = short_schedule(nnUNetTrainer)
nnUNetTrainerMeanTeacher_short = short_schedule(nnUNetTrainerMeanTeacher)
