"""The dual-network trainer through the stock CLIs on a 3D binary and a 2D multi-class dataset: split ->
nnUNetv2_train with a schedule variant -> nnUNetv2_predict with the same trainer name (the ensemble of both nets;
in 2D also the single-net export)."""
import json

import pytest
import torch
from conftest import console_script, copy_dataset, dataset_folder, run_cli
from test_end_to_end_pscm import predict_first_training_case, trainer_env


@pytest.mark.parametrize("fixture_name,configuration,base", [
    ("dataset_3d", "3d_fullres", "nnUNetTrainerDualNet"),
    ("dataset_2d", "2d", "nnUNetTrainerDualNet"),
    ("dataset_2d", "2d", "nnUNetTrainerDualNet_single")])
def test_dualnet_train_and_predict(fixture_name, configuration, base, request, tmp_path):
    root = copy_dataset(request.getfixturevalue(fixture_name), tmp_path)
    env = trainer_env(root)
    dataset_id = dataset_folder(root, "raw").name[len("Dataset"):len("Dataset") + 3]
    run_cli([console_script("nnUNetv2_pscm_split"), "-d", dataset_id, "--labeled", "3", "--folds", "1"], env)
    trainer = f"{base}_2ep3it"
    run_cli([console_script("nnUNetv2_train"), dataset_id, configuration, "0", "-tr", trainer, "-p", "nnUNetPlans_cpu",
             "-device", "cpu"], env)

    (fold_dir,) = (root / "results").glob(f"Dataset*/{trainer}__nnUNetPlans_cpu__{configuration}/fold_0")
    checkpoint = torch.load(fold_dir / "checkpoint_final.pth", map_location="cpu", weights_only=False)
    assert checkpoint["trainer_name"] == trainer and checkpoint["ssl_state"]["ssl_step"] == 6
    weights = set(checkpoint["network_weights"])
    partner = {k for k in weights if k.startswith("partner.")}
    assert bool(partner) == (base == "nnUNetTrainerDualNet"), "the ensemble exports both nets, _single one"
    assert any(k.startswith("partner.") for k in checkpoint["ssl_state"]["extra_modules"])
    assert checkpoint["ssl_state"]["extra_optimizers"]["partner"]["state"]
    logged = checkpoint["logging"]
    for key in ("loss_sup_plain", "loss_sup_resenc", "loss_unlabeled_plain", "loss_kl", "loss_cos"):
        assert all(v == v for v in logged[key]), key
    assert len(logged["val_dice_plain"]) == len(logged["val_dice_ensemble"]) == 2
    dice = json.load(open(fold_dir / "validation" / "summary.json"))["foreground_mean"]["Dice"]
    assert 0 <= dice <= 1
    (log_file,) = fold_dir.glob("training_log_*.txt")
    assert "partner ResidualEncoderUNet" in log_file.read_text()

    assert predict_first_training_case(root, tmp_path, dataset_id, configuration, trainer, env).is_file()
