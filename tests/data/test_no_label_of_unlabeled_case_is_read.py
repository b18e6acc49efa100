"""The guarantee: training never reads the label of an unlabeled case. We delete every label file of the
hidden-label cases (raw, gt_segmentations, preprocessed _seg and the .pkl whose class_locations derive
from the label) and record every file the loaders open; training steps still run."""
import os

import blosc2
import numpy as np
import pytest
from conftest import delete_hidden_labels
from trainer_factory import make_trainer

from nnunetv2_pscm.data.ssl_split import write_ssl_split
from nnunetv2_pscm.trainers.nnUNetTrainerMeanTeacher import nnUNetTrainerMeanTeacher
from nnunetv2_pscm.trainers.nnUNetTrainerPSCM import nnUNetTrainerPSCM

DATASET = 901


@pytest.mark.parametrize("trainer_class", [nnUNetTrainerMeanTeacher, nnUNetTrainerPSCM])
def test_training_runs_with_hidden_labels_deleted(trainer_class, copied_3d, monkeypatch):
    _, folds, _ = write_ssl_split(DATASET, num_labeled=3, n_folds=1)
    hidden = folds[0]["unlabeled"]
    assert len(hidden) >= 3
    delete_hidden_labels(copied_3d, hidden)

    opened = []
    real_open = blosc2.open
    monkeypatch.setattr(blosc2, "open", lambda urlpath, *a, **k: opened.append(str(urlpath)) or real_open(urlpath, *a, **k))

    trainer = make_trainer(trainer_class, DATASET)  # nnUNet_n_proc_DA=0: loading happens here
    trainer.initialize()
    trainer.dataloader_train, trainer.dataloader_val = trainer.get_dataloaders()
    trainer._register_log_keys()
    trainer.pretrain_fraction = 0  # BCP/PSCM: self-training (pseudo-labels of unlabeled images) from step 1
    losses = [trainer.train_step(next(trainer.dataloader_train))["loss"] for _ in range(3)]
    assert all(np.isfinite(losses))

    touched = {os.path.basename(p) for p in opened}
    assert any(p[:-len(".b2nd")] in hidden for p in touched), "unlabeled images were loaded"
    assert not any(p.endswith("_seg.b2nd") and p[:-len("_seg.b2nd")] in hidden for p in touched)
