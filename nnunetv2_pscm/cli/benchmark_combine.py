"""`nnUNetv2_pscm_benchmark_combine DIR [DIR ...]`: one paired table from several benchmark output folders.

A thin wrapper over nnunetv2_pscm.benchmark_runner.combine (what is paired with what is explained there).
"""
import argparse
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnUNetv2_pscm_benchmark_combine",
        description="Combine the recorded outputs of several nnUNetv2_pscm_benchmark invocations (other machines or "
        "sessions, the same split) into one table: identical runs counted once, every run paired case by case with "
        "the labeled-only and same-budget runs of its own chain, mean ± std over seeds. Reads runs/*/metadata.json "
        "and validation_summary.json; trains and evaluates nothing.")
    parser.add_argument("folders", nargs="+", type=Path, help="benchmark output folders (each with runs/)")
    parser.add_argument("-o", "--output", type=Path, help="write the markdown table here (default: print it); an "
                        "existing file is kept unless --overwrite")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output file")
    parser.add_argument("--compare", nargs=2, metavar=("METHOD", "REFERENCE"),
                        help="instead of the table: METHOD minus REFERENCE case by case, in every chain where both "
                        "were warm-started from the same labeled-only model, e.g. an ablation: "
                        "\"nnUNetTrainerPSCM_withAUD (warm-started)\" \"nnUNetTrainerPSCM_noAUD (warm-started)\"; names as "
                        "the table's 'method' column")
    return parser


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    from nnunetv2_pscm.benchmark_runner.combine import (CombineError, combine, compare_markdown, compare_methods,
                                                        markdown)

    if args.output is not None and args.output.exists() and not args.overwrite:
        sys.exit(f"nnUNetv2_pscm_benchmark_combine: error: {args.output} exists; pass --overwrite to replace it")
    try:
        if args.compare:
            text = compare_markdown(compare_methods(args.folders, *args.compare), args.folders)
        else:
            text = markdown(combine(args.folders), args.folders)
    except CombineError as error:
        sys.exit(f"nnUNetv2_pscm_benchmark_combine: error: {error}")
    if args.output is None:
        print(text, end="")
    else:
        args.output.write_text(text)
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
