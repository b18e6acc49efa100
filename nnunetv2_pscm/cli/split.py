"""`nnUNetv2_pscm_split`: write the labeled/unlabeled split into nnU-Net's splits_final.json."""
import argparse
import sys

from nnunetv2_pscm.data import split_file as sf
from nnunetv2_pscm.data.ssl_split import write_ssl_split


def describe(folds) -> str:
    lines = []
    for i, f in enumerate(folds):
        if f.get("role") == sf.ROLE_FULL_LABEL:
            lines.append(f"  fold {i}: full-label reference of fold {f['reference_for_fold']}: "
                         f"{len(f['train'])} labeled, {len(f['val'])} val")
        else:
            lines.append(f"  fold {i}: {len(f['train'])} labeled, {len(f.get('unlabeled', []))} unlabeled, "
                         f"{len(f['val'])} val")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="Write a semi-supervised split into nnUNet_preprocessed/DatasetXXX/"
                                "splits_final.json: per fold a labeled subset ('train'), the hidden-label rest "
                                "('unlabeled'), 'val' unchanged; plus full-label reference folds with the same val.")
    p.add_argument("-d", required=True, help="dataset name or id")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--labeled", type=int, help="number of labeled training cases per fold")
    g.add_argument("--fraction", type=float, help="fraction of each fold's training cases that keep their labels")
    g.add_argument("--preset", help="a published protocol, e.g. LA-8 (see --list-presets)")
    p.add_argument("--list-presets", action="store_true", help="list the published split presets and exit")
    p.add_argument("--folds", type=int, help="write only the first K cross-validation folds (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the labeled subset (fold i uses seed + i)")
    p.add_argument("--include-unlabeled-images", action="store_true",
                   help="add the images of nnUNet_raw/DatasetXXX/imagesUnlabeled/ to every fold's unlabeled set")
    p.add_argument("--overwrite", action="store_true", help="replace an existing splits_final.json (a backup is kept)")
    args = p.parse_args(argv)
    if args.list_presets:
        from nnunetv2_pscm.data.presets import available_presets, describe_preset

        for name in available_presets():
            print(f"{name}: {describe_preset(name)}")
        return
    try:
        path, folds, backup = write_ssl_split(args.d, args.labeled, args.fraction, args.preset, args.folds, args.seed,
                                              args.include_unlabeled_images, args.overwrite)
    except (sf.SplitError, ValueError) as e:
        sys.exit(f"nnUNetv2_pscm_split: {e}")
    if backup:
        print(f"previous split kept as {backup}")
    print(f"wrote {path}\n{describe(folds)}")


if __name__ == "__main__":
    main()
