"""Unlabeled images preprocessed with other plans (e.g. before re-planning at a new spacing) are refused when
training opens them; plans that preprocess alike share the folder; folders from older versions get a warning."""
import os
from os.path import join

import pytest
from batchgenerators.utilities.file_and_folder_operations import load_json, save_json
from trainer_factory import make_trainer

from nnunetv2_pscm.data.locations import preprocessed_dataset_folder
from nnunetv2_pscm.data.preprocessing_record import RECORD_FILENAME, UnlabeledPlansMismatchError
from nnunetv2_pscm.data.ssl_split import write_ssl_split
from nnunetv2_pscm.data.unlabeled_preprocessing import preprocess_unlabeled
from nnunetv2_pscm.trainers.nnUNetTrainerMeanTeacher import nnUNetTrainerMeanTeacher

DATASET = 901
TRAINING_PLANS = "nnUNetPlans_cpu"  # what trainer_factory trains with


def preprocess_and_split(plans_identifier: str = TRAINING_PLANS) -> str:
    folder = preprocess_unlabeled(DATASET, "3d_fullres", plans_identifier, num_processes=1)
    write_ssl_split(DATASET, num_labeled=3, n_folds=1, include_unlabeled_images=True, overwrite=True)
    return folder


def replan_spacing(plans_identifier: str, factor: float) -> None:
    """What re-planning under the same plans name does to the configuration (nnU-Net would re-preprocess its
    own folder; ours stays as it was)."""
    path = join(preprocessed_dataset_folder(DATASET), plans_identifier + ".json")
    plans = load_json(path)
    configuration = plans["configurations"]["3d_fullres"]
    configuration["spacing"] = [s * factor for s in configuration["spacing"]]
    save_json(plans, path, sort_keys=False)


def open_unlabeled_dataset():
    trainer = make_trainer(nnUNetTrainerMeanTeacher, DATASET, plans_identifier=TRAINING_PLANS)
    trainer.initialize()
    return trainer.get_unlabeled_dataset()


def test_preprocessing_records_plans_and_configuration(copied_3d):
    record = load_json(join(preprocess_and_split(), RECORD_FILENAME))
    assert record["plans_name"] == TRAINING_PLANS and record["configuration"] == "3d_fullres"
    assert record["settings"]["data_identifier"] == "nnUNetPlans_3d_fullres" and len(record["fingerprint"]) == 16


def test_training_refuses_unlabeled_images_of_other_plans(copied_3d):
    folder = preprocess_and_split()
    replan_spacing(TRAINING_PLANS, 2.0)
    with pytest.raises(UnlabeledPlansMismatchError) as error:
        open_unlabeled_dataset()
    message = str(error.value)
    assert folder in message and "spacing" in message and "\n" not in message
    assert f"nnUNetv2_pscm_preprocess_unlabeled -d {os.path.basename(os.path.dirname(folder))} -c 3d_fullres " \
           f"-p {TRAINING_PLANS} --overwrite" in message

    preprocess_unlabeled(DATASET, "3d_fullres", TRAINING_PLANS, num_processes=1, overwrite=True)  # the fix it names
    assert len(open_unlabeled_dataset()) > 0


def test_plans_that_preprocess_alike_share_the_folder(copied_3d, capsys):
    # nnUNetPlans_cpu differs from nnUNetPlans in network, patch and batch size only, and reuses its data
    preprocess_and_split("nnUNetPlans")
    assert len(open_unlabeled_dataset()) > 0
    assert "WARNING" not in capsys.readouterr().out


def test_folder_of_an_older_version_is_used_with_a_warning(copied_3d, capsys):
    folder = preprocess_and_split()
    os.remove(join(folder, RECORD_FILENAME))
    assert len(open_unlabeled_dataset()) > 0
    out = capsys.readouterr().out
    assert f"WARNING: {folder} has no {RECORD_FILENAME}" in out and "--overwrite" in out
