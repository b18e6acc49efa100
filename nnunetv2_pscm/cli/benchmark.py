"""`nnUNetv2_pscm_benchmark CONFIG`: train and compare SSL trainers against the labeled-only and full-label nnU-Net.

A thin wrapper over nnunetv2_pscm.benchmark_runner.run_benchmark; the config format is in nnunetv2_pscm.benchmark_runner.config.
"""
import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnUNetv2_pscm_benchmark",
        description="Label-efficiency benchmark: for every labeled count (or fraction), seed and base fold, train "
        "the listed SSL trainers, the labeled-only nnUNetTrainer and the full-label nnUNetTrainer with the stock "
        "nnUNetv2_train on one split file, evaluate every run on the same validation cases (Dice, Jaccard, HD95, "
        "ASD in voxels and mm) and write results.md/.csv, paired.md/.csv (per-case differences to the labeled-only "
        "run of the same fold), label_efficiency.png and per-run metadata. Resumable: run it again after an "
        "interruption.")
    parser.add_argument("config", help="benchmark config (.json, .yaml or .yml)")
    parser.add_argument("--dry-run", action="store_true", help="print the runs in training order (fold, trainer, "
                        "labeled count, seed, status done/resume/revalidate/new) and the nnUNetv2_train command of "
                        "each run still to train, and exit without writing anything")
    parser.add_argument("--report-only", action="store_true", help="train nothing: evaluate and report the finished "
                        "runs (the others are marked missing), e.g. while trainings still run elsewhere")
    parser.add_argument("--folds", type=int, nargs="+", metavar="FOLD", help="train only the runs of these nnU-Net "
                        "folds now (fold numbers as --dry-run lists them), e.g. one replicate per session; finished "
                        "runs of the other folds are still reported")
    parser.add_argument("--trainers", nargs="+", metavar="TRAINER", help="train only the runs of these SSL "
                        "trainers (names as in the config's trainers list) and the labeled-only run of their folds "
                        "(their warm start and baseline), e.g. one new method on folds whose other runs exist; "
                        "combines with --folds; finished runs of every trainer are still reported")
    parser.add_argument("--test", action="store_true", help="also predict nnUNet_raw/DatasetXXX/imagesTs with every "
                        "run and score against labelsTs (separate *_test files; never used for model selection)")
    return parser


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    from nnunetv2_pscm.benchmark_runner import BenchmarkConfigError, BenchmarkError, load_config, run_benchmark
    from nnunetv2_pscm.data.split_file import SplitError

    try:
        output = run_benchmark(load_config(args.config), dry_run=args.dry_run, evaluate_test=args.test,
                               report_only=args.report_only, only_folds=args.folds,
                               only_trainers=args.trainers)
    except (BenchmarkConfigError, BenchmarkError, SplitError, FileNotFoundError, RuntimeError) as error:
        sys.exit(f"nnUNetv2_pscm_benchmark: error: {error}")
    except KeyboardInterrupt:
        sys.exit("nnUNetv2_pscm_benchmark: interrupted; run the same command again to resume.")
    if not args.dry_run:
        print(f"benchmark results in {output}")


if __name__ == "__main__":
    main()
