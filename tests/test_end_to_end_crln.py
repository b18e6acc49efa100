"""CRLN through the stock CLIs on a 3D binary and a 2D multi-class dataset: split -> nnUNetv2_train with a schedule
variant of nnUNetTrainerCRLN -> nnUNetv2_predict with the same trainer name. Prototypes and DIM are saved under
ssl_state, never in the exported weights."""
import json

import pytest
from conftest import dataset_folder
from cli_training import predict_first_training_case, train_through_cli


@pytest.mark.parametrize("fixture_name,configuration", [("dataset_3d", "3d_fullres"), ("dataset_2d", "2d")])
def test_crln_train_and_predict(fixture_name, configuration, request, tmp_path):
    trainer = "nnUNetTrainerCRLN_2ep4it"
    root, env, dataset_id, fold_dir, checkpoint = train_through_cli(request, fixture_name, configuration, trainer,
                                                                     tmp_path)
    assert checkpoint["trainer_name"] == trainer and checkpoint["ssl_state"]["ssl_step"] == 8
    num_classes = len(json.load(open(dataset_folder(root, "raw") / "dataset.json"))["labels"])
    extra = checkpoint["ssl_state"]["extra_modules"]
    assert extra["prototypes.prototypes"].shape[:2] == (num_classes, 4)
    assert any(k.startswith("dim.cross_attention.") for k in extra)
    assert not any("prototypes" in k or k.startswith("dim.") for k in checkpoint["network_weights"])
    logged = checkpoint["logging"]
    # 10 % of 8 steps rounds to 1 labeled-only step: epoch 0 mixes phases, epoch 1 is all self-training
    assert logged["phase"][-1] == 1.0
    assert all(v == v for v in logged["loss_consistency"][-1:] + logged["loss_relationship"])
    dice = json.load(open(fold_dir / "validation" / "summary.json"))["foreground_mean"]["Dice"]
    assert 0 <= dice <= 1

    assert predict_first_training_case(root, tmp_path, dataset_id, configuration, trainer, env).is_file()
