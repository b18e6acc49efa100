"""Quality control and "label these next" through the stock CLIs on a tiny trained model, as README tells a user:
split -> nnUNetv2_pscm_train_quality -> nnUNetv2_train (stock trainer, short) -> nnUNetv2_predict ->
nnUNetv2_pscm_quality (CSV, flags, overlays, no overwrite) and nnUNetv2_pscm_suggest (ranked unlabeled cases with
their labels deleted, montage). A missing predictor stops both with the command that builds it."""
import csv
import os
import subprocess
from os.path import isfile

from cli_training import trainer_env
from conftest import console_script, copy_dataset, dataset_folder, delete_hidden_labels, run_cli

TRAINER = "nnUNetTrainer_1ep3it"


def read_rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_quality_control_and_label_next_on_a_tiny_model(dataset_3d, tmp_path):
    root = copy_dataset(dataset_3d, tmp_path)
    env = trainer_env(root)
    run_cli([console_script("nnUNetv2_pscm_split"), "-d", "901", "--labeled", "4", "--folds", "1"], env)
    qc = [console_script("nnUNetv2_pscm_quality"), "-i", tmp_path / "qc_in", "-p", tmp_path / "qc_pred", "-d", "901",
          "-c", "3d_fullres", "-f", "0", "-plans", "nnUNetPlans_cpu", "-o", tmp_path / "qc.csv"]
    suggest = [console_script("nnUNetv2_pscm_suggest"), "-d", "901", "-c", "3d_fullres", "-f", "0", "-n", "2", "-p",
               "nnUNetPlans_cpu", "-tr", TRAINER, "--disable_tta", "-o", tmp_path / "next"]
    missing = subprocess.run([str(a) for a in suggest], env=env, capture_output=True, text=True)
    assert missing.returncode != 0 and "nnUNetv2_pscm_train_quality -d Dataset901" in missing.stderr

    run_cli([console_script("nnUNetv2_pscm_train_quality"), "-d", "901", "-c", "3d_fullres", "-f", "0", "-p",
             "nnUNetPlans_cpu", "--epochs", "1", "--samples-per-case", "3", "--width", "4", "--device", "cpu"], env)
    run_cli([console_script("nnUNetv2_train"), "901", "3d_fullres", "0", "-tr", TRAINER, "-p", "nnUNetPlans_cpu",
             "-device", "cpu"], env)

    images = dataset_folder(root, "raw") / "imagesTr"
    cases = sorted(f for f in os.listdir(images))[:3]
    os.makedirs(tmp_path / "qc_in")
    for f in cases:
        os.symlink(images / f, tmp_path / "qc_in" / f)
    run_cli([console_script("nnUNetv2_predict"), "-i", tmp_path / "qc_in", "-o", tmp_path / "qc_pred", "-d", "901",
             "-c", "3d_fullres", "-p", "nnUNetPlans_cpu", "-tr", TRAINER, "-f", "0", "-device", "cpu",
             "--disable_tta"], env)
    out = run_cli(qc + ["--threshold", "1.0"], env).stdout  # every case below 1.0: all flagged, all drawn
    rows = read_rows(tmp_path / "qc.csv")
    assert [r["case"] for r in rows] == [c.replace("_0000.nii.gz", "") for c in cases]
    for r in rows:
        assert 0 < float(r["predicted_dice_mean"]) < 1 and r["flagged"] == "1"
        assert float(r["predicted_dice_mean"]) == float(r["predicted_dice_" + list(r)[1][len("predicted_dice_"):]])
        assert isfile(tmp_path / "qc_overlays" / f"{r['case']}.png")
    assert "3 cases, 3 flagged" in out
    again = subprocess.run([str(a) for a in qc], env=env, capture_output=True, text=True)
    assert again.returncode != 0 and "already exists" in again.stderr
    run_cli(qc + ["--threshold", "0.0", "--overwrite"], env)
    assert all(r["flagged"] == "0" for r in read_rows(tmp_path / "qc.csv"))

    os.remove(tmp_path / "qc_in" / cases[0])  # a prediction without its image is named, not skipped
    broken = subprocess.run([str(a) for a in qc + ["--overwrite"]], env=env, capture_output=True, text=True)
    assert broken.returncode != 0 and cases[0].replace("_0000.nii.gz", "") in broken.stderr

    import json

    split = json.load(open(dataset_folder(root, "preprocessed") / "splits_final.json"))
    unlabeled = split[0]["unlabeled"]
    delete_hidden_labels(root, unlabeled)  # suggest must not need (or read) a label of an unlabeled case
    out = run_cli(suggest, env).stdout
    ranked = read_rows(tmp_path / "next" / "label_next.csv")
    assert sorted(r["case"] for r in ranked) == sorted(unlabeled)
    assert [int(r["rank"]) for r in ranked] == list(range(1, len(unlabeled) + 1))
    qualities = [float(r["predicted_dice_mean"]) for r in ranked]
    assert qualities == sorted(qualities), "lowest predicted quality first"
    assert [r["label_next"] for r in ranked] == ["1", "1"] + ["0"] * (len(unlabeled) - 2)
    assert all(0 <= float(r["mean_uncertainty"]) <= 1 for r in ranked)
    assert isfile(tmp_path / "next" / "label_next.png")
    assert ", ".join(r["case"] for r in ranked[:2]) in out
