"""DuCiSC through the stock CLIs on a 3D binary and a 2D multi-class dataset: split -> nnUNetv2_train with a
schedule variant of nnUNetTrainerDuCiSC -> nnUNetv2_predict with the same trainer name."""
import json

import pytest
from conftest import dataset_folder
from cli_training import predict_first_training_case, train_through_cli


@pytest.mark.parametrize("fixture_name,configuration", [("dataset_3d", "3d_fullres"), ("dataset_2d", "2d")])
def test_ducisc_train_and_predict(fixture_name, configuration, request, tmp_path):
    trainer = "nnUNetTrainerDuCiSC_2ep4it"
    root, env, dataset_id, fold_dir, checkpoint = train_through_cli(request, fixture_name, configuration, trainer,
                                                                     tmp_path)
    assert checkpoint["trainer_name"] == trainer and checkpoint["ssl_state"]["ssl_step"] == 8
    thresholds = checkpoint["ssl_state"]["extra_modules"]["thresholds.values"]
    num_classes = len(json.load(open(dataset_folder(root, "raw") / "dataset.json"))["labels"])
    assert thresholds.shape[1] == num_classes and (thresholds >= 1 / num_classes).all() and (thresholds <= 0.95).all()
    logged = checkpoint["logging"]
    assert logged["phase"][-1] == 1.0 and all(v == v for v in logged["loss_ulb_consistency"][-1:])
    dice = json.load(open(fold_dir / "validation" / "summary.json"))["foreground_mean"]["Dice"]
    assert 0 <= dice <= 1

    assert predict_first_training_case(root, tmp_path, dataset_id, configuration, trainer, env).is_file()
