"""What the end-to-end tests share: an environment in which the stock CLIs find our trainers, one stock
`nnUNetv2_train` run on a copied synthetic dataset, and one stock `nnUNetv2_predict` of a training image."""
import os

import torch
from conftest import console_script, copy_dataset, dataset_folder, nnunet_env, run_cli

SHORT_TRAINERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "short_trainers")


def trainer_env(root, with_short_trainers: bool = False, **extra):
    """nnU-Net's variables for `root`, with nnUNet_extTrainer = our trainer folder as README sets it (plus the
    tests' short trainers, which simulate a crash, when asked)."""
    trainer_dir = run_cli([console_script("nnUNetv2_pscm_trainer_dir")], nnunet_env(root)).stdout.strip()
    assert os.path.isfile(os.path.join(trainer_dir, "nnUNetTrainerMeanTeacher.py")), trainer_dir
    folders = [trainer_dir, SHORT_TRAINERS] if with_short_trainers else [trainer_dir]
    return nnunet_env(root, nnUNet_extTrainer=os.pathsep.join(folders), **extra)


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


def predict_first_training_case(root, tmp_path, dataset_id, configuration, trainer, env):
    """nnUNetv2_predict (stock CLI) with our trainer name on the first imagesTr case; returns the expected output."""
    images = dataset_folder(root, "raw") / "imagesTr"
    case = sorted(images.iterdir())[0]
    (tmp_path / "in").mkdir()
    os.symlink(case, tmp_path / "in" / case.name)
    run_cli([console_script("nnUNetv2_predict"), "-i", tmp_path / "in", "-o", tmp_path / "out", "-d", dataset_id, "-c",
             configuration, "-p", "nnUNetPlans_cpu", "-tr", trainer, "-f", "0", "-device", "cpu", "--disable_tta"], env)
    return tmp_path / "out" / case.name.replace("_0000", "")
