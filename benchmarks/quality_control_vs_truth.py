"""How good is quality control on real predictions? Predicted vs true per-case Dice for a model's validation fold.

    python benchmarks/quality_control_vs_truth.py -d 901 -c 3d_fullres -f 1 -plans nnUNetPlans_2mm_f16 \
        --model-fold-folder $nnUNet_results/Dataset901_LA2018/nnUNetTrainer_30ep50it__nnUNetPlans_2mm_f16__3d_fullres/fold_1 \
        -o benchmarks/results/<date>_qc_la4/labeled_only

Reads the validation predictions nnUNetv2_train wrote (``<fold>/validation/*<file_ending>``), their raw images
(imagesTr) and ground truth (labelsTr: for the TRUE Dice, and scored once as if it were a prediction for the
calibration check below), runs the same scoring as `nnUNetv2_pscm_quality` (the fold's predictor must exist), and
writes ``qc_vs_truth.csv`` (per case: predicted and true mean foreground Dice) and ``summary.json``: Spearman rho
and MAE between predicted and true Dice, and how many of the ``--worst`` cases with the lowest TRUE Dice are among
the ``--worst`` lowest predicted and among those flagged below ``--threshold``; as a calibration check, the ground
truth itself is scored as a prediction (``qc_of_ground_truth.csv``; ideally all near 1). A benchmark, not a test: it
needs a trained model and its predictor.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
from os.path import join

import numpy as np
from scipy.stats import spearmanr

from nnunetv2_pscm.data.locations import raw_dataset_folder
from nnunetv2_pscm.methods.quality.locate import fold_predictor
from nnunetv2_pscm.methods.quality.quality_control import run_quality_control, write_csv_atomically


def true_mean_dice(prediction_file: str, label_file: str, foreground_labels) -> float:
    import SimpleITK as sitk

    pred = sitk.GetArrayFromImage(sitk.ReadImage(prediction_file))
    truth = sitk.GetArrayFromImage(sitk.ReadImage(label_file))
    dices = []
    for label in foreground_labels:
        p, t = pred == label, truth == label
        denominator = p.sum() + t.sum()
        dices.append(1.0 if denominator == 0 else 2.0 * np.logical_and(p, t).sum() / denominator)
    return float(np.mean(dices))


def main(argv=None) -> None:
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("-d", required=True)
    a.add_argument("-c", required=True)
    a.add_argument("-f", type=int, required=True, help="fold of the quality predictor (and of the model)")
    a.add_argument("-plans", default="nnUNetPlans")
    a.add_argument("--model-fold-folder", required=True, help="nnUNet_results/.../<trainer>__<plans>__<config>/fold_F")
    a.add_argument("-o", required=True, help="output folder")
    a.add_argument("--threshold", type=float, default=0.7)
    a.add_argument("--worst", type=int, default=5)
    a.add_argument("--windows", type=int, default=8)
    args = a.parse_args(argv)

    raw = raw_dataset_folder(args.d)
    dataset_json = json.load(open(join(raw, "dataset.json")))
    ending = dataset_json["file_ending"]
    predictions = join(args.model_fold_folder, "validation")
    cases = sorted(f[:-len(ending)] for f in os.listdir(predictions) if f.endswith(ending))
    if not cases:
        sys.exit(f"no validation predictions in {predictions}")
    _, record, predictor_path = fold_predictor(args.d, args.c, args.f, args.plans)
    os.makedirs(args.o, exist_ok=True)
    images = tempfile.mkdtemp()
    try:  # the validation cases' images only, so QC sees exactly the predicted cases
        for f in os.listdir(join(raw, "imagesTr")):
            if any(f.startswith(c + "_") for c in cases):
                os.symlink(join(raw, "imagesTr", f), join(images, f))
        results = run_quality_control(images, predictions, args.d, args.c, args.f, args.plans,
                                      join(args.o, "qc.csv"), args.threshold, args.windows, None, overwrite=True,
                                      verbose=False)
        # calibration check: the ground truth itself, scored as if it were a prediction, should get a Dice near 1
        truths = tempfile.mkdtemp()
        try:
            for c in cases:
                os.symlink(join(raw, "labelsTr", c + ending), join(truths, c + ending))
            truth_scores = np.array([q.mean for q in run_quality_control(
                images, truths, args.d, args.c, args.f, args.plans, join(args.o, "qc_of_ground_truth.csv"),
                args.threshold, args.windows, None, overwrite=True, verbose=False)])
        finally:
            shutil.rmtree(truths)
    finally:
        shutil.rmtree(images)
    foreground = [int(v) for k, v in dataset_json["labels"].items() if k != "background"]
    rows = []
    for q in results:
        truth = true_mean_dice(join(predictions, q.case + ending), join(raw, "labelsTr", q.case + ending), foreground)
        rows.append({"case": q.case, "predicted_dice": round(q.mean, 4), "true_dice": round(truth, 4),
                     "flagged": int(q.mean < args.threshold)})
    write_csv_atomically(rows, join(args.o, "qc_vs_truth.csv"))
    predicted, true = np.array([r["predicted_dice"] for r in rows]), np.array([r["true_dice"] for r in rows])
    worst_true = set(np.argsort(true)[:args.worst])
    summary = {
        "predictor": predictor_path, "predictor_val_rho_corrupted": record.get("val_spearman_rho"),
        "predictor_val_mae_corrupted": record.get("val_mae"), "model_fold_folder": args.model_fold_folder,
        "cases": len(rows), "spearman_rho": float(spearmanr(predicted, true)[0]),
        "mae": float(np.abs(predicted - true).mean()), "mean_predicted": float(predicted.mean()),
        "mean_true": float(true.mean()), "threshold": args.threshold,
        "flagged": int(sum(r["flagged"] for r in rows)),
        f"worst{args.worst}_true_among_lowest{args.worst}_predicted": len(worst_true & set(np.argsort(predicted)[:args.worst])),
        f"worst{args.worst}_true_flagged": int(sum(rows[i]["flagged"] for i in worst_true)),
        "ground_truth_scored_mean": float(truth_scores.mean()), "ground_truth_scored_min": float(truth_scores.min()),
    }
    json.dump(summary, open(join(args.o, "summary.json"), "w"), indent=2)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
