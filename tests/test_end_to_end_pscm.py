"""PSCM through the stock CLIs on a 3D binary and a 2D multi-class dataset: split -> nnUNetv2_train with a
schedule variant of nnUNetTrainerPSCM -> nnUNetv2_predict with the same trainer name."""
import json
import os

import pytest
import torch
from conftest import console_script, copy_dataset, dataset_folder, nnunet_env, run_cli


def trainer_env(root):
    trainer_dir = run_cli([console_script("nnUNetv2_pscm_trainer_dir")], nnunet_env(root)).stdout.strip()
    return nnunet_env(root, nnUNet_extTrainer=trainer_dir)


def train_through_cli(request, fixture_name, configuration, trainer, tmp_path):
    """Copy a synthetic dataset, split it (3 labeled) and train `trainer` with the stock nnUNetv2_train on the CPU
    plans; returns (root, env, dataset id, fold folder, checkpoint_final)."""
    root = copy_dataset(request.getfixturevalue(fixture_name), tmp_path)
    env = trainer_env(root)
    dataset_id = dataset_folder(root, "raw").name[len("Dataset"):len("Dataset") + 3]
    run_cli([console_script("nnUNetv2_pscm_split"), "-d", dataset_id, "--labeled", "3", "--folds", "1"], env)
    run_cli([console_script("nnUNetv2_train"), dataset_id, configuration, "0", "-tr", trainer, "-p", "nnUNetPlans_cpu",
             "-device", "cpu"], env)
    (fold_dir,) = (root / "results").glob(f"Dataset*/{trainer}__nnUNetPlans_cpu__{configuration}/fold_0")
    checkpoint = torch.load(fold_dir / "checkpoint_final.pth", map_location="cpu", weights_only=False)
    return root, env, dataset_id, fold_dir, checkpoint


# 3d: the default, which reports pseudo-label quality against hidden labels; 2d: the variant that never opens them
@pytest.mark.parametrize("fixture_name,configuration,base", [("dataset_3d", "3d_fullres", "nnUNetTrainerPSCM"),
                                                             ("dataset_2d", "2d", "nnUNetTrainerPSCM_noMonitor")])
def test_pscm_train_and_predict(fixture_name, configuration, base, request, tmp_path):
    root = copy_dataset(request.getfixturevalue(fixture_name), tmp_path)
    env = trainer_env(root)
    dataset_id = dataset_folder(root, "raw").name[len("Dataset"):len("Dataset") + 3]
    run_cli([console_script("nnUNetv2_pscm_split"), "-d", dataset_id, "--labeled", "3", "--folds", "1"], env)
    trainer = f"{base}_2ep4it"
    run_cli([console_script("nnUNetv2_train"), dataset_id, configuration, "0", "-tr", trainer, "-p", "nnUNetPlans_cpu",
             "-device", "cpu"], env)

    (fold_dir,) = (root / "results").glob(f"Dataset*/{trainer}__nnUNetPlans_cpu__{configuration}/fold_0")
    checkpoint = torch.load(fold_dir / "checkpoint_final.pth", map_location="cpu", weights_only=False)
    assert checkpoint["trainer_name"] == trainer and checkpoint["ssl_state"]["ssl_step"] == 8
    assert {"prototypes.prototypes", "auxiliary_decoder.seg_layers.0.weight"} <= set(checkpoint["ssl_state"]["extra_modules"])
    logged = checkpoint["logging"]
    assert logged["phase"] == [0.0, 1.0]  # pretraining = 20 % of 2 epochs, at least 1: epoch 0
    (log_file,) = fold_dir.glob("training_log_*.txt")
    assert "Self-training starts from the best phase-A model" in log_file.read_text()  # checkpoint_best, val fold
    monitored = not base.endswith("_noMonitor")
    pretraining, self_training = logged["pl_dice_corrected"]
    assert pretraining != pretraining, "no pseudo-labels, so no report, in labeled-only pretraining"
    assert (self_training == self_training) == monitored, "monitor on in self-training unless _noMonitor"
    for name in ("progress.png", "progress_ssl.png", "validation/summary.json"):
        assert (fold_dir / name).is_file(), name
    assert (fold_dir / "pseudo_labels_epoch_0001.png").is_file() == monitored  # the last epoch's figure
    dice = json.load(open(fold_dir / "validation" / "summary.json"))["foreground_mean"]["Dice"]
    assert 0 <= dice <= 1

    assert predict_first_training_case(root, tmp_path, dataset_id, configuration, trainer, env).is_file()


def predict_first_training_case(root, tmp_path, dataset_id, configuration, trainer, env):
    """nnUNetv2_predict (stock CLI) with our trainer name on the first imagesTr case; returns the expected output."""
    images = dataset_folder(root, "raw") / "imagesTr"
    case = sorted(images.iterdir())[0]
    (tmp_path / "in").mkdir()
    os.symlink(case, tmp_path / "in" / case.name)
    run_cli([console_script("nnUNetv2_predict"), "-i", tmp_path / "in", "-o", tmp_path / "out", "-d", dataset_id, "-c",
             configuration, "-p", "nnUNetPlans_cpu", "-tr", trainer, "-f", "0", "-device", "cpu", "--disable_tta"], env)
    return tmp_path / "out" / case.name.replace("_0000", "")
