"""`nnUNetv2_pscm_train_quality`: build one fold's QG-SSL quality predictor (see methods/quality/training.py)."""
import argparse
import sys

from nnunetv2_pscm.methods.quality.training import (QualityTrainingError, QualityTrainingSettings,
                                                    train_quality_predictor)


def main(argv=None) -> None:
    defaults = QualityTrainingSettings()
    p = argparse.ArgumentParser(
        description="Train the QG-SSL quality predictor (image + mask -> per-class Dice) of one fold on its LABELED "
        "training cases (the fold's 'train' list in splits_final.json; the 'unlabeled' list is never read) from the "
        "configuration's preprocessed data. Masks: balanced random corruptions of the ground truth, plus the "
        "predictions of --bank checkpoints. Reports Spearman rho and MAE on corrupted masks of the fold's 'val' cases "
        "and writes nnUNet_results/DatasetXXX/quality_<plans>__<configuration>/fold_F/quality_predictor.pth.")
    p.add_argument("-d", required=True, help="dataset name or id")
    p.add_argument("-c", required=True, help="configuration, e.g. 3d_fullres or 2d")
    p.add_argument("-f", type=int, required=True, help="fold of splits_final.json (an integer; 'all' has no val)")
    p.add_argument("-p", default="nnUNetPlans", help="plans identifier (default: nnUNetPlans)")
    p.add_argument("--epochs", type=int, default=defaults.epochs, help=f"default {defaults.epochs}")
    p.add_argument("--samples-per-case", type=int, default=defaults.samples_per_case,
                   help=f"masks per labeled case, balanced over Dice bins (default {defaults.samples_per_case})")
    p.add_argument("--patches-per-case", type=int, default=defaults.patches_per_case,
                   help=f"patches cut from each labeled case, each with its own masks (default "
                   f"{defaults.patches_per_case}; more for very few labeled cases)")
    p.add_argument("--batch-size", type=int, default=defaults.batch_size, help=f"default {defaults.batch_size}")
    p.add_argument("--lr", type=float, default=defaults.learning_rate, help=f"Adam lr (default {defaults.learning_rate})")
    p.add_argument("--ranking-weight", type=float, default=defaults.ranking_weight,
                   help="weight of a pairwise ranking term added to the MSE (default 0: MSE only)")
    p.add_argument("--width", type=int, default=defaults.width,
                   help=f"channels of the QualityNet's first stage (ResNet-18: 64; default {defaults.width})")
    p.add_argument("--val-every", type=int, default=defaults.val_every,
                   help=f"score the validation masks every N epochs and after the last (default {defaults.val_every})")
    p.add_argument("--no-augment", action="store_true",
                   help="train without augmentation (mirroring, intensity, translation; on by default)")
    p.add_argument("--max-shift", type=float, default=defaults.max_shift_fraction,
                   help=f"translation augmentation: shift each sample by up to this fraction of the patch per axis, "
                        f"zero-filled, target recomputed (default {defaults.max_shift_fraction}; 0 = off)")
    p.add_argument("--seed", type=int, default=defaults.seed, help=f"default {defaults.seed}")
    p.add_argument("--device", choices=["cpu", "cuda"], default=None, help="default: cuda if available, else cpu")
    p.add_argument("--bank", nargs="+", default=[], metavar="CHECKPOINT",
                   help="nnU-Net checkpoints of the SAME plans and configuration (e.g. early labeled-only "
                   "checkpoints); their argmax predictions of the training patches join the candidate masks")
    p.add_argument("--overwrite", action="store_true", help="replace an existing quality_predictor.pth")
    args = p.parse_args(argv)
    settings = QualityTrainingSettings(epochs=args.epochs, samples_per_case=args.samples_per_case,
                                       patches_per_case=args.patches_per_case,
                                       batch_size=args.batch_size, learning_rate=args.lr,
                                       ranking_weight=args.ranking_weight, width=args.width, seed=args.seed,
                                       val_every=args.val_every, augment=not args.no_augment,
                                       max_shift_fraction=args.max_shift)
    try:
        path = train_quality_predictor(args.d, args.c, args.f, args.p, settings, args.bank, args.device,
                                       args.overwrite)
    except QualityTrainingError as e:
        sys.exit(f"nnUNetv2_pscm_train_quality: {e}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
