"""`nnUNetv2_pscm_cpu_plans`: derive small CPU plans from existing plans; the last stdout line is the plans name."""
import argparse

from nnunetv2_pscm.plans.cpu_plans import (CPU_DEFAULTS, DEFAULT_CPU_PLANS, DEFAULT_SOURCE_PLANS, derive_cpu_plans,
                                           describe)


def build_parser() -> argparse.ArgumentParser:
    d2, d3 = CPU_DEFAULTS[2], CPU_DEFAULTS[3]
    parser = argparse.ArgumentParser(
        description="Write $nnUNet_preprocessed/DatasetXXX/<NEW>.json: a narrower, shallower U-Net with a smaller "
                    "patch and batch for CPU smoke runs. Unless --spacing changes the target spacing, each "
                    "configuration keeps its data_identifier, so the existing preprocessed data are reused. "
                    "The last line printed is the new plans identifier (for `nnUNetv2_train ... -p`).")
    parser.add_argument("-d", "--dataset", required=True, help="dataset id or DatasetXXX_Name")
    parser.add_argument("-c", "--configurations", nargs="+", default=None,
                        help="configurations to derive (default: all but cascade stages)")
    parser.add_argument("-p", "--source-plans", default=DEFAULT_SOURCE_PLANS, help="default %(default)s")
    parser.add_argument("-o", "--plans-name", default=DEFAULT_CPU_PLANS, help="new plans identifier, default %(default)s")
    parser.add_argument("--features", type=int, default=None,
                        help=f"features of the first stage F; stage i gets min(F*2**i, M) "
                             f"(default 2d {d2.features}, 3d {d3.features})")
    parser.add_argument("--max-features", type=int, default=None,
                        help=f"cap M on features per stage (default 2d {d2.max_features}, 3d {d3.max_features})")
    parser.add_argument("--patch", type=int, nargs="+", default=None,
                        help=f"patch size in the plans' axis order; rounded up to a multiple of the pooling factor "
                             f"(default: min(median image size, 2d {list(d2.patch_cap)} / 3d {list(d3.patch_cap)}))")
    parser.add_argument("--batch-size", type=int, default=None,
                        help=f"default 2d {d2.batch_size}, 3d {d3.batch_size}")
    parser.add_argument("--spacing", type=float, nargs="+", default=None,
                        help="new target spacing in the plans' axis order; needs nnUNetv2_preprocess afterwards")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing plans file with the new name")
    return parser


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    dataset = int(args.dataset) if args.dataset.isdigit() else args.dataset
    try:
        result = derive_cpu_plans(dataset, args.configurations, args.source_plans, args.features, args.max_features,
                                  args.patch, args.batch_size, args.spacing, args.plans_name, args.overwrite)
    except (FileNotFoundError, FileExistsError, ValueError, RuntimeError) as error:
        raise SystemExit(f"nnUNetv2_pscm_cpu_plans: error: {error}")
    for line in describe(result):
        print(line)
    print(result.plans_name)


if __name__ == "__main__":
    main()
