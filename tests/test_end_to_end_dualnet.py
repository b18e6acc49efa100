"""The dual-network trainer through the stock CLIs on a 3D binary and a 2D multi-class dataset: split ->
nnUNetv2_train with a schedule variant -> nnUNetv2_predict with the same trainer name (the ensemble of both nets;
in 2D also the single-net export)."""
import json

import pytest
from cli_training import predict_first_training_case, train_through_cli


@pytest.mark.parametrize("fixture_name,configuration,base", [
    ("dataset_3d", "3d_fullres", "nnUNetTrainerDualNet"),
    ("dataset_2d", "2d", "nnUNetTrainerDualNet"),
    ("dataset_2d", "2d", "nnUNetTrainerDualNet_single")])
def test_dualnet_train_and_predict(fixture_name, configuration, base, request, tmp_path):
    trainer = f"{base}_2ep3it"
    root, env, dataset_id, fold_dir, checkpoint = train_through_cli(request, fixture_name, configuration, trainer,
                                                                     tmp_path)
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
