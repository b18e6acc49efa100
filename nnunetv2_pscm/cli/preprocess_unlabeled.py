"""`nnUNetv2_pscm_preprocess_unlabeled`: preprocess imagesUnlabeled/ with a dataset's plans."""
import argparse
import sys

from nnunetv2_pscm.data.unlabeled_preprocessing import UnlabeledDataError, preprocess_unlabeled


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="Preprocess nnUNet_raw/DatasetXXX/imagesUnlabeled/ exactly like the "
                                "dataset's training images (same plans: spacing, normalization, cropping) into "
                                "nnUNet_preprocessed/DatasetXXX/<data_identifier>_unlabeled/. No label file is written.")
    p.add_argument("-d", required=True, help="dataset name or id")
    p.add_argument("-c", nargs="+", required=True, help="configuration(s), e.g. 3d_fullres 2d")
    p.add_argument("-p", default="nnUNetPlans", help="plans identifier (default: nnUNetPlans)")
    p.add_argument("-np", type=int, default=4, help="number of processes (default: 4)")
    p.add_argument("--overwrite", action="store_true", help="replace previously preprocessed unlabeled images")
    args = p.parse_args(argv)
    for configuration in args.c:
        try:
            folder = preprocess_unlabeled(args.d, configuration, args.p, args.np, args.overwrite)
        except UnlabeledDataError as e:
            sys.exit(f"nnUNetv2_pscm_preprocess_unlabeled: {e}")
        print(f"{configuration}: wrote {folder}")


if __name__ == "__main__":
    main()
