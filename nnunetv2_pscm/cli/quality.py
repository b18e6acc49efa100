"""`nnUNetv2_pscm_quality`: quality control of any model's predictions (methods/quality/quality_control.py)."""
import argparse
import os
import sys

from nnunetv2_pscm.methods.quality.quality_control import run_quality_control
from nnunetv2_pscm.methods.quality.training import QualityTrainingError


def main(argv=None) -> None:
    p = argparse.ArgumentParser(
        description="Score predicted segmentations (of any nnU-Net model) with the fold's quality predictor "
        "(nnUNetv2_pscm_train_quality): predicted Dice per class and mean per case, cases below --threshold "
        "flagged, an overlay PNG per flagged case. Writes a CSV.")
    p.add_argument("-i", required=True, help="folder of the raw images ({case}_0000.nii.gz ...), as given to "
                   "nnUNetv2_predict")
    p.add_argument("-p", required=True, help="folder of the predictions ({case}.nii.gz ...), as nnUNetv2_predict "
                   "writes them")
    p.add_argument("-d", required=True, help="dataset name or id")
    p.add_argument("-c", required=True, help="configuration of the quality predictor, e.g. 3d_fullres")
    p.add_argument("-f", type=int, required=True, help="fold of the quality predictor")
    p.add_argument("-plans", default="nnUNetPlans", help="plans identifier of the quality predictor (default: "
                   "nnUNetPlans)")
    p.add_argument("-o", required=True, help="CSV to write")
    p.add_argument("--threshold", type=float, default=0.7, help="flag cases whose predicted mean Dice is below "
                   "this (default 0.7)")
    p.add_argument("--windows", type=int, default=8, help="patches scored per case (default 8)")
    p.add_argument("--overlays", default=None, help="folder for the flagged cases' PNGs (default: next to the CSV, "
                   "<csv name>_overlays)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--overwrite", action="store_true", help="replace an existing CSV / write into existing overlays")
    args = p.parse_args(argv)
    overlays = args.overlays or os.path.splitext(args.o)[0] + "_overlays"
    try:
        results = run_quality_control(args.i, args.p, args.d, args.c, args.f, args.plans, args.o, args.threshold,
                                      args.windows, overlays, args.overwrite, args.device)
    except QualityTrainingError as e:
        sys.exit(f"nnUNetv2_pscm_quality: {e}")
    flagged = sum(q.mean < args.threshold for q in results)
    print(f"wrote {args.o}: {len(results)} cases, {flagged} flagged below {args.threshold}"
          + (f" (overlays in {overlays})" if flagged else ""))


if __name__ == "__main__":
    main()
