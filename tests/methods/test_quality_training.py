"""nnUNetv2_pscm_train_quality on the synthetic datasets: a tiny run writes a predictor that loads back, only the
fold's labeled (train) and val cases are read (never an unlabeled case's label, nor its image), bank checkpoints
add their predictions, nothing is overwritten without --overwrite, and bad folds/splits/folders are named."""
import math
import os
import shutil

import blosc2
import numpy as np
import pytest
import torch
from batchgenerators.utilities.file_and_folder_operations import load_json, save_json
from conftest import copy_dataset, dataset_folder, delete_hidden_labels, nnunet_env

from nnunetv2_pscm.cli import train_quality as cli
from nnunetv2_pscm.data.ssl_split import write_ssl_split
from nnunetv2_pscm.methods.quality.network import QualityNet
from nnunetv2_pscm.methods.quality.training import (LOG_FILENAME, PREDICTOR_FILENAME, QualityTrainingError,
                                                    QualityTrainingSettings, cut_patch, load_quality_predictor,
                                                    pairwise_ranking_loss, quality_folder_name,
                                                    quality_output_folder, train_quality_predictor)

DATASET, PLANS, CONFIG = 901, "nnUNetPlans_cpu", "3d_fullres"


def tiny(**overrides) -> QualityTrainingSettings:
    kwargs = dict(epochs=1, samples_per_case=3, num_bins=3, max_draws_per_sample=4, batch_size=4, width=2,
                  blocks_per_stage=(1, 1, 1, 1), stem_kernel=3)
    kwargs.update(overrides)
    return QualityTrainingSettings(**kwargs)


@pytest.fixture
def split(copied_3d):
    _, folds, _ = write_ssl_split(DATASET, num_labeled=3, n_folds=1)
    return copied_3d, folds[0]


def test_tiny_run_writes_a_predictor_that_loads_back_and_reads_no_unlabeled_case(split, monkeypatch):
    root, fold = split
    hidden = fold["unlabeled"]
    assert len(hidden) >= 3 and len(fold["val"]) >= 1
    delete_hidden_labels(root, hidden, data_identifier="nnUNetPlans_3d_fullres")  # reading one would fail
    opened = []
    real_open = blosc2.open
    monkeypatch.setattr(blosc2, "open", lambda urlpath, *a, **k: opened.append(str(urlpath)) or real_open(urlpath, *a, **k))

    path = train_quality_predictor(DATASET, CONFIG, 0, PLANS, tiny(), device="cpu", verbose=False)

    assert path == os.path.join(quality_output_folder(DATASET, PLANS, CONFIG, 0), PREDICTOR_FILENAME)
    assert quality_folder_name(PLANS, CONFIG) in path and os.path.isfile(path) and not os.path.exists(path + ".tmp")
    touched = {os.path.basename(p) for p in opened}
    assert {f"{c}_seg.b2nd" for c in fold["train"] + fold["val"]} <= touched  # labeled cases were read
    assert not {p for p in touched if p.split(".")[0].removesuffix("_seg") in hidden}, "an unlabeled case was read"

    net, record = load_quality_predictor(path)
    assert isinstance(net, QualityNet) and record["network_kwargs"]["width"] == 2
    assert (record["plans_identifier"], record["configuration"], record["fold"]) == (PLANS, CONFIG, 0)
    assert record["data_identifier"] == "nnUNetPlans_3d_fullres"  # the cpu plans reuse the stock data
    assert math.isfinite(record["val_spearman_rho"]) and math.isfinite(record["val_mae"])
    assert -1 <= record["val_spearman_rho"] <= 1 and 0 <= record["val_mae"] <= 1
    assert record["train_cases"] == sorted(fold["train"]) and record["val_cases"] == sorted(fold["val"])
    assert record["num_train_samples"] == 3 * len(fold["train"])
    assert len(record["history"]) == 1
    log = open(os.path.join(os.path.dirname(path), LOG_FILENAME)).read()
    assert "epoch 0" in log and "val_spearman_rho" in log
    patch = record["patch_size"]
    with torch.no_grad():
        q = net(torch.zeros(1, 1, *patch), torch.zeros(1, 1, *patch, dtype=torch.long))
    assert q.shape == (1, 1) and 0 < q.item() < 1


def test_validation_runs_every_val_every_epochs_and_after_the_last(split):
    path = train_quality_predictor(DATASET, CONFIG, 0, PLANS, tiny(epochs=5, val_every=2), device="cpu",
                                   verbose=False)
    _, record = load_quality_predictor(path)
    assert [h["epoch"] for h in record["history"]] == [1, 3, 4]  # every 2nd epoch, then the last
    assert record["val_mae"] == record["history"][-1]["val_mae"]
    log = open(os.path.join(os.path.dirname(path), LOG_FILENAME)).read().splitlines()
    assert [("val_mae" in line) for line in log if line.startswith("epoch ")] == [False, True, False, True, True]
    with pytest.raises(QualityTrainingError, match="--val-every"):
        train_quality_predictor(DATASET, CONFIG, 0, PLANS, tiny(val_every=0), device="cpu", overwrite=True)


def test_overwrite_is_refused_then_allowed(split, capsys):
    folder = quality_output_folder(DATASET, PLANS, CONFIG, 0)
    os.makedirs(folder)
    existing = os.path.join(folder, PREDICTOR_FILENAME)
    open(existing, "w").write("previous")
    with pytest.raises(SystemExit) as e:
        cli.main(["-d", str(DATASET), "-c", CONFIG, "-f", "0", "-p", PLANS, "--epochs", "1", "--samples-per-case", "2",
                  "--width", "2", "--device", "cpu"])
    assert existing in str(e.value) and "--overwrite" in str(e.value)
    assert open(existing).read() == "previous"
    cli.main(["-d", str(DATASET), "-c", CONFIG, "-f", "0", "-p", PLANS, "--epochs", "1", "--samples-per-case", "2",
              "--width", "2", "--device", "cpu", "--overwrite"])
    assert "wrote" in capsys.readouterr().out
    assert load_quality_predictor(existing)[1]["num_train_samples"] > 0


def test_bank_checkpoint_predictions_join_the_training_masks(split):
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
    from nnunetv2.utilities.label_handling.label_handling import determine_num_input_channels
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    root, fold = split
    pp = dataset_folder(root, "preprocessed")
    plans, dataset_json = load_json(str(pp / f"{PLANS}.json")), load_json(str(pp / "dataset.json"))
    pm = PlansManager(plans)
    cm = pm.get_configuration(CONFIG)
    net = nnUNetTrainer.build_network_architecture(
        pm, cm, determine_num_input_channels(pm, cm, dataset_json),
        pm.get_label_manager(dataset_json).num_segmentation_heads, enable_deep_supervision=False)
    checkpoint = root / "bank_checkpoint.pth"
    torch.save({"network_weights": {"_orig_mod." + k: v for k, v in net.state_dict().items()},
                "trainer_name": "nnUNetTrainer",
                "init_args": {"plans": plans, "configuration": CONFIG, "fold": 0, "dataset_json": dataset_json}},
               checkpoint)
    path = train_quality_predictor(DATASET, CONFIG, 0, PLANS, tiny(samples_per_case=2, num_bins=1), [str(checkpoint)],
                                   device="cpu", verbose=False)
    record = load_quality_predictor(path)[1]
    # one bin, two places: the bank prediction is the first candidate, so it is kept for every patch
    assert record["num_bank_samples"] == len(fold["train"]) and record["bank"] == [str(checkpoint)]

    with pytest.raises(QualityTrainingError, match="plans 'nnUNetPlans_cpu'.*'nnUNetPlans'"):
        train_quality_predictor(DATASET, CONFIG, 0, "nnUNetPlans", tiny(), [str(checkpoint)], device="cpu",
                                overwrite=True, verbose=False)


def test_errors_name_the_fold_the_split_and_the_folder(copied_3d):
    pp = dataset_folder(copied_3d, "preprocessed")
    with pytest.raises(QualityTrainingError, match="splits_final.json"):
        train_quality_predictor(DATASET, CONFIG, 0, PLANS, tiny(), device="cpu")
    write_ssl_split(DATASET, num_labeled=3, n_folds=1)
    with pytest.raises(QualityTrainingError, match=r"Fold 3 \(option -f\).*splits_final.json.*it has 2 fold"):
        train_quality_predictor(DATASET, CONFIG, 3, PLANS, tiny(), device="cpu")
    folds = load_json(str(pp / "splits_final.json"))
    save_json([{**folds[0], "val": []}], str(pp / "splits_final.json"))
    with pytest.raises(QualityTrainingError, match="no validation cases"):
        train_quality_predictor(DATASET, CONFIG, 0, PLANS, tiny(), device="cpu")
    save_json([{**folds[0], "train": []}], str(pp / "splits_final.json"))
    with pytest.raises(QualityTrainingError, match="no labeled training cases"):
        train_quality_predictor(DATASET, CONFIG, 0, PLANS, tiny(), device="cpu")
    with pytest.raises(QualityTrainingError, match="option -p"):
        train_quality_predictor(DATASET, CONFIG, 0, "nnUNetPlans_missing", tiny(), device="cpu")
    with pytest.raises(QualityTrainingError, match="option -c"):
        train_quality_predictor(DATASET, "2d_missing", 0, PLANS, tiny(), device="cpu")
    shutil.rmtree(pp / "nnUNetPlans_3d_fullres")
    with pytest.raises(QualityTrainingError, match="nnUNetPlans_3d_fullres"):
        train_quality_predictor(DATASET, CONFIG, 0, PLANS, tiny(), device="cpu")
    assert not os.path.exists(quality_output_folder(DATASET, PLANS, CONFIG, 0))  # nothing written on error


def test_2d_configuration(dataset_2d, tmp_path, monkeypatch):
    root = copy_dataset(dataset_2d, tmp_path)
    for k, v in nnunet_env(root).items():
        if k.startswith("nnUNet"):
            monkeypatch.setenv(k, v)
    write_ssl_split(902, num_labeled=3, n_folds=1)
    path = train_quality_predictor(902, "2d", 0, PLANS, tiny(), device="cpu", verbose=False)
    net, record = load_quality_predictor(path)
    assert net.dims == 2 and record["network_kwargs"]["num_classes"] >= 3  # multi-class: one Dice per class
    assert math.isfinite(record["val_spearman_rho"]) and math.isfinite(record["val_mae"])


def test_cut_patch_centres_on_foreground_pads_and_slices_2d():
    rng = np.random.default_rng(0)
    seg = np.zeros((5, 6, 7), dtype=np.uint8)
    seg[2, 1, 6] = 1
    image = np.arange(seg.size, dtype=np.float32).reshape(1, *seg.shape)
    patch_image, patch_seg = cut_patch(image, seg, (3, 4, 4), rng)
    assert patch_image.shape == (1, 3, 4, 4) and patch_seg[1, 2, 2] == 1 and patch_seg.sum() == 1
    assert patch_image[0, 1, 2, 2] == image[0, 2, 1, 6] and patch_image[0, 1, 2, 3] == 0  # zero padding
    image_2d, seg_2d = cut_patch(image, seg, (4, 4), rng)  # 2D patch: the axial slice holding the voxel
    assert image_2d.shape == (1, 4, 4) and seg_2d[2, 2] == 1 and image_2d[0, 2, 2] == image[0, 2, 1, 6]


def test_pairwise_ranking_loss_by_hand():
    target = torch.tensor([[0.9], [0.1]])
    assert pairwise_ranking_loss(torch.tensor([[0.8], [0.2]]), target).item() == 0.0  # right order
    assert pairwise_ranking_loss(torch.tensor([[0.2], [0.8]]), target).item() == pytest.approx(0.6)  # wrong by 0.6
    assert pairwise_ranking_loss(torch.tensor([[0.5], [0.5]]), target, margin=0.1).item() == pytest.approx(0.1)
    same = torch.tensor([[0.5], [0.5]], requires_grad=True)
    assert pairwise_ranking_loss(same, torch.tensor([[0.3], [0.3]])).item() == 0.0  # no ordered pair


def test_patch_size_grows_only_when_quality_net_would_refuse_it():
    from nnunetv2_pscm.methods.quality.training import quality_patch_size

    assert quality_patch_size((128, 112, 160)) == (128, 112, 160)
    assert quality_patch_size((20, 33)) == (20, 33)  # one axis > 32 is enough
    assert quality_patch_size((32, 16, 32)) == (64, 64, 64)
    with pytest.raises(QualityTrainingError, match="too small"):
        quality_patch_size((32, 32), small_patch_growth=32)
