"""`nnUNetv2_pscm_synthetic`: write a small synthetic nnU-Net raw dataset for demos, tests and smoke runs."""
import argparse

from nnunetv2_pscm.synthetic.dataset import DEFAULT_NAMES, KINDS, generate_synthetic_dataset


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Write $nnUNet_raw/DatasetXXX_NAME: MR-like synthetic images with look-alike structures that "
                    "are never labeled (3d: one organ, 48^3 voxels; 2d: heart-like ring + crescent, 96x96, "
                    "classes 1-3). Deterministic for a seed.")
    parser.add_argument("-d", "--dataset-id", type=int, required=True, help="dataset id (1-999)")
    parser.add_argument("--kind", choices=KINDS, default="3d")
    parser.add_argument("-n", "--num-cases", type=int, default=40, help="labeled training cases (default 40)")
    parser.add_argument("--n-unlabeled-images", type=int, default=0,
                        help="extra truly unlabeled images written to imagesUnlabeled/ (not in numTraining)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default=None, help=f"dataset name (default {DEFAULT_NAMES})")
    parser.add_argument("--spacing", type=float, nargs=3, default=None, metavar=("Z", "Y", "X"),
                        help="3d only: voxel spacing in mm; the field of view stays 48 mm (default 1 1 1)")
    parser.add_argument("--raw-root", default=None, help="default: $nnUNet_raw")
    parser.add_argument("--overwrite", action="store_true", help="replace any existing DatasetXXX_* with this id")
    return parser


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    try:
        folder = generate_synthetic_dataset(args.dataset_id, kind=args.kind, num_cases=args.num_cases,
                                            num_unlabeled_images=args.n_unlabeled_images, seed=args.seed,
                                            name=args.name, overwrite=args.overwrite, raw_root=args.raw_root,
                                            spacing=args.spacing)
    except (FileExistsError, ValueError, RuntimeError) as error:
        raise SystemExit(f"nnUNetv2_pscm_synthetic: error: {error}")
    print(folder)


if __name__ == "__main__":
    main()
