"""`nnUNetv2_pscm_evaluate`: Dice, Jaccard, HD95, ASD, ASSD of a prediction folder (medpy conventions).

A thin wrapper over :func:`nnunetv2_pscm.evaluation.evaluate_folders`; see that module for the pairing
policy and :mod:`nnunetv2_pscm.evaluation.metrics` for the metric conventions and empty-mask policy.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

DEFAULT_SUMMARY_NAME = "summary_pscm.json"  # not nnU-Net's summary.json, which its own tools read back


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnUNetv2_pscm_evaluate",
        description="Per case and class: Dice, Jaccard, HD95 (pooled), ASD (directed pred->ref), ASSD, as medpy "
        "computes them, in voxel and/or mm units. Both masks empty: Dice=Jaccard=1, distances 0. One mask empty: "
        "Dice=Jaccard=0, distances undefined (null in JSON, empty in CSV); means are over the defined values, "
        "printed with their count, e.g. '12.3000 (n=7 of 8)'. Every case's reference and prediction must agree in "
        "shape, spacing, origin and direction.",
    )
    parser.add_argument("-ref", required=True, metavar="REF_DIR", help="folder with the reference segmentations")
    parser.add_argument(
        "-pred", required=True, metavar="PRED_DIR", help="folder with the predicted segmentations (same file names)"
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "-d", metavar="DATASET", help="dataset name or id: dataset.json is read from nnUNet_preprocessed or nnUNet_raw"
    )
    source.add_argument(
        "-djfile", metavar="DATASET_JSON", help="path to a dataset.json (labels/regions and file_ending)"
    )
    parser.add_argument("-o", metavar="SUMMARY_JSON", help=f"summary JSON (default: PRED_DIR/{DEFAULT_SUMMARY_NAME})")
    parser.add_argument("--csv", metavar="CSV_FILE", help="tidy CSV, one row per case x class x mode")
    parser.add_argument(
        "--mode", choices=("voxel", "mm", "both"), default="both", help="distance units (default: both)"
    )
    parser.add_argument(
        "--lcc", action="store_true", help="keep the largest connected component of each predicted class first"
    )
    parser.add_argument(
        "--cases_from_pred",
        action="store_true",
        help="evaluate only the cases present in PRED (e.g. a fold's validation folder against gt_segmentations); "
        "by default every reference case must have a prediction",
    )
    parser.add_argument(
        "--ignore_origin_direction",
        action="store_true",
        help="do not require reference and prediction to share origin and direction (shape and spacing are still "
        "checked): only for data whose label headers disagree with their images while the arrays are aligned, "
        "which nnU-Net's integrity check merely warns about; the summary records origin_direction_checked=false",
    )
    parser.add_argument("-np", type=int, default=1, metavar="N", help="worker processes over cases (default 1)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    return parser


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    from nnunetv2_pscm.evaluation import EvaluationInputError, evaluate_folders
    from nnunetv2_pscm.evaluation.dataset_classes import load_dataset_json_for
    from nnunetv2_pscm.evaluation.summary import summary_lines

    try:
        if args.djfile is not None:
            with open(args.djfile) as f:
                dataset_json = json.load(f)
        else:
            dataset_json, _ = load_dataset_json_for(args.d)
    except (OSError, ValueError, RuntimeError) as error:
        # RuntimeError: nnU-Net's name/id conversion when the dataset is unknown
        sys.exit(f"nnUNetv2_pscm_evaluate: error: cannot load dataset.json: {error}")

    output_json = args.o if args.o is not None else os.path.join(args.pred, DEFAULT_SUMMARY_NAME)
    existing = [p for p in (output_json, args.csv) if p is not None and os.path.exists(p)]
    if existing and not args.overwrite:
        sys.exit(f"nnUNetv2_pscm_evaluate: error: {existing} exist(s); pass --overwrite to replace")
    if args.np < 1:
        sys.exit("nnUNetv2_pscm_evaluate: error: -np must be >= 1")

    modes = ("voxel", "mm") if args.mode == "both" else (args.mode,)
    try:
        summary = evaluate_folders(
            args.ref,
            args.pred,
            dataset_json,
            modes=modes,
            lcc=args.lcc,
            num_processes=args.np,
            output_json=output_json,
            output_csv=args.csv,
            cases_from_pred=args.cases_from_pred,
            check_origin_direction=not args.ignore_origin_direction,
        )
    except (EvaluationInputError, ValueError) as error:
        sys.exit(f"nnUNetv2_pscm_evaluate: error: {error}")
    print("\n".join(summary_lines(summary)))
    if args.ignore_origin_direction:
        print("origin and direction were NOT checked (--ignore_origin_direction)")
    print(f"summary written to {output_json}" + (f", CSV to {args.csv}" if args.csv else ""))


if __name__ == "__main__":
    main()
