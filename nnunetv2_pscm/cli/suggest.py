"""`nnUNetv2_pscm_suggest`: which unlabeled cases to label next (methods/quality/label_next.py)."""
import argparse
import sys

from nnunetv2_pscm.methods.quality.label_next import CSV_NAME, MONTAGE_NAME, suggest_cases_to_label
from nnunetv2_pscm.methods.quality.training import QualityTrainingError


def main(argv=None) -> None:
    p = argparse.ArgumentParser(
        description="Rank the fold's unlabeled cases by the predicted quality (nnUNetv2_pscm_train_quality's "
        "predictor) of the fold model's prediction, lowest first, with the model's mean uncertainty: the cases an "
        "annotator should label next. Writes label_next.csv and a montage label_next.png.")
    p.add_argument("-d", required=True, help="dataset name or id")
    p.add_argument("-c", required=True, help="configuration, e.g. 3d_fullres")
    p.add_argument("-f", type=int, required=True, help="fold (its 'unlabeled' list is ranked)")
    p.add_argument("-n", type=int, default=10, help="cases to suggest (default 10)")
    p.add_argument("-p", default="nnUNetPlans", help="plans identifier (default: nnUNetPlans)")
    p.add_argument("-tr", default="nnUNetTrainer", help="trainer of the model whose predictions are scored "
                   "(default: nnUNetTrainer)")
    p.add_argument("-chk", default="checkpoint_final.pth", help="checkpoint of that model (default: "
                   "checkpoint_final.pth)")
    p.add_argument("-o", default=None, help="output folder (default: label_next__<trainer>__<checkpoint> in the "
                   "quality predictor's folder)")
    p.add_argument("--windows", type=int, default=8, help="patches scored per case (default 8)")
    p.add_argument("--disable_tta", action="store_true", help="no mirroring at prediction (faster)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--overwrite", action="store_true", help="replace an existing label_next.csv")
    args = p.parse_args(argv)
    try:
        rows, folder = suggest_cases_to_label(args.d, args.c, args.f, args.p, args.tr, args.chk, args.n, args.o,
                                      args.windows, not args.disable_tta, args.device, args.overwrite)
    except QualityTrainingError as e:
        sys.exit(f"nnUNetv2_pscm_suggest: {e}")
    print("label next: " + ", ".join(r["case"] for r in rows if r["label_next"]))
    print(f"wrote {folder}/{CSV_NAME} and {MONTAGE_NAME}")


if __name__ == "__main__":
    main()
