"""PSCM through the stock CLIs on a 3D binary and a 2D multi-class dataset: split -> nnUNetv2_train with a
schedule variant of nnUNetTrainerPSCM -> nnUNetv2_predict with the same trainer name."""
import json

import pytest
from cli_training import predict_first_training_case, train_through_cli


# 3d: the default, which reports pseudo-label quality against hidden labels; 2d: the variant that never opens them
@pytest.mark.parametrize("fixture_name,configuration,base", [("dataset_3d", "3d_fullres", "nnUNetTrainerPSCM"),
                                                             ("dataset_2d", "2d", "nnUNetTrainerPSCM_noMonitor")])
def test_pscm_train_and_predict(fixture_name, configuration, base, request, tmp_path):
    trainer = f"{base}_2ep4it"
    root, env, dataset_id, fold_dir, checkpoint = train_through_cli(request, fixture_name, configuration, trainer,
                                                                     tmp_path)
    assert checkpoint["trainer_name"] == trainer and checkpoint["ssl_state"]["ssl_step"] == 8
    extras = set(checkpoint["ssl_state"]["extra_modules"])
    assert "prototypes.prototypes" in extras
    assert not any(k.startswith(("auxiliary_decoder.", "reconstruction_decoder.", "mask_generator.")) for k in extras), \
        "BOM and AUD are off by default"
    logged = checkpoint["logging"]
    assert logged["phase"] == [0.0, 1.0]  # pretraining = 20 % of 2 epochs, at least 1: epoch 0
    (log_file,) = fold_dir.glob("training_log_*.txt")
    assert "Self-training starts from the best phase-A model" in log_file.read_text()  # checkpoint_best, val fold
    monitored = not base.endswith("_noMonitor")
    pretraining, self_training = logged["pl_dice_corrected"]
    assert pretraining != pretraining, "no pseudo-labels, so no report, in labeled-only pretraining"
    assert (self_training == self_training) == monitored, "monitor on in self-training unless _noMonitor"
    for stage_score in ("pl_dice_raw", "pl_dice_cleaned"):  # the weight scores may be NaN (no confident voxel)
        assert (logged[stage_score][1] == logged[stage_score][1]) == monitored, stage_score
    for name in ("progress.png", "progress_ssl.png", "validation/summary.json"):
        assert (fold_dir / name).is_file(), name
    assert (fold_dir / "pseudo_labels_epoch_0001.png").is_file() == monitored  # the last epoch's figure
    dice = json.load(open(fold_dir / "validation" / "summary.json"))["foreground_mean"]["Dice"]
    assert 0 <= dice <= 1

    assert predict_first_training_case(root, tmp_path, dataset_id, configuration, trainer, env).is_file()

