"""The whole workflow through the stock CLIs, exactly as README tells a user:
preprocess unlabeled images -> write the split -> nnUNetv2_train -tr <ours> (crash + --c resume)
-> nnUNetv2_predict -tr <ours>. Hidden labels are deleted before training."""
import os
from os.path import isfile, join

import torch
import json
import subprocess

from cli_training import trainer_env
from conftest import console_script, copy_dataset, dataset_folder, delete_hidden_labels, run_cli


def test_mean_teacher_train_resume_predict(dataset_3d, tmp_path):
    root = copy_dataset(dataset_3d, tmp_path)
    env = trainer_env(root, with_short_trainers=True)
    run_cli([console_script("nnUNetv2_pscm_preprocess_unlabeled"), "-d", "901", "-c", "3d_fullres", "-np", "1"], env)
    out = run_cli([console_script("nnUNetv2_pscm_split"), "-d", "901", "--labeled", "3", "--folds", "1",
                   "--include-unlabeled-images"], env).stdout
    assert "fold 0: 3 labeled" in out and "fold 1: full-label reference of fold 0" in out
    split = json.load(open(dataset_folder(root, "preprocessed") / "splits_final.json"))
    training_ids = {f.name[:-len(".nii.gz")] for f in (dataset_folder(root, "preprocessed") / "gt_segmentations").iterdir()}
    delete_hidden_labels(root, [c for c in split[0]["unlabeled"] if c in training_ids])

    train = [console_script("nnUNetv2_train"), "901", "3d_fullres", "0", "-tr", "nnUNetTrainerMeanTeacher_short",
             "-p", "nnUNetPlans_cpu", "-device", "cpu"]
    crashed = subprocess.run(train, env=dict(env, PSCM_TEST_STOP_AFTER_EPOCH="0"),
                                           capture_output=True, text=True, timeout=900)
    assert crashed.returncode != 0 and "simulated crash after epoch 0" in crashed.stderr + crashed.stdout
    (fold_dir,) = (root / "results").glob("Dataset901_*/nnUNetTrainerMeanTeacher_short__nnUNetPlans_cpu__3d_fullres/fold_0")
    latest = torch.load(join(fold_dir, "checkpoint_latest.pth"), map_location="cpu", weights_only=False)
    assert latest["ssl_state"]["ssl_step"] == 3 and latest["current_epoch"] == 1

    run_cli(train + ["--c"], env)
    final = torch.load(join(fold_dir, "checkpoint_final.pth"), map_location="cpu", weights_only=False)
    assert final["ssl_state"]["ssl_step"] == 6  # 2 epochs x 3 iterations, the first epoch not repeated
    assert final["logging"]["train_losses"][0] == latest["logging"]["train_losses"][0]
    assert len(final["logging"]["loss_consistency"]) == 2
    assert isfile(join(fold_dir, "progress_ssl.png")) and isfile(join(fold_dir, "validation", "summary.json"))

    images_in = dataset_folder(root, "raw") / "imagesTr"
    some_case = sorted(os.listdir(images_in))[0]
    os.makedirs(tmp_path / "predict_in")
    os.symlink(join(images_in, some_case), tmp_path / "predict_in" / some_case)
    run_cli([console_script("nnUNetv2_predict"), "-i", tmp_path / "predict_in", "-o", tmp_path / "predict_out", "-d",
             "901", "-c", "3d_fullres", "-p", "nnUNetPlans_cpu", "-tr", "nnUNetTrainerMeanTeacher_short", "-f", "0",
             "-device", "cpu", "--disable_tta"], env)
    assert isfile(tmp_path / "predict_out" / some_case.replace("_0000", ""))
