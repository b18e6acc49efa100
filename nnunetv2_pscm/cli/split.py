"""`nnUNetv2_pscm_split`: write the labeled/unlabeled split into nnU-Net's splits_final.json."""
import argparse
import os
import sys
from os.path import isdir, join

from batchgenerators.utilities.file_and_folder_operations import isfile, load_json

from nnunetv2_pscm.data import split_file as sf
from nnunetv2_pscm.data.locations import (preprocessed_dataset_folder, raw_dataset_folder,
                                          raw_unlabeled_images_folder, splits_file)
from nnunetv2_pscm.data.unlabeled_preprocessing import find_unlabeled_images


def training_case_ids(pp_folder: str) -> list:
    """Training cases as nnU-Net's preprocessing recorded them (gt_segmentations holds one file per case)."""
    gt_folder = join(pp_folder, "gt_segmentations")
    if not isdir(gt_folder) or not isfile(join(pp_folder, "dataset.json")):
        raise sf.SplitError(f"{pp_folder} has no preprocessed data. Run `nnUNetv2_plan_and_preprocess` first.")
    ending = load_json(join(pp_folder, "dataset.json"))["file_ending"]
    return sorted(f[:-len(ending)] for f in os.listdir(gt_folder) if f.endswith(ending))


def unlabeled_image_ids(dataset) -> list:
    pp_dataset_json = load_json(join(preprocessed_dataset_folder(dataset), "dataset.json"))
    images = find_unlabeled_images(raw_unlabeled_images_folder(raw_dataset_folder(dataset)),
                                   pp_dataset_json["file_ending"], len(pp_dataset_json["channel_names"]))
    return sorted(images)


def write_ssl_split(dataset, num_labeled=None, fraction=None, preset=None, n_folds=None, seed=0,
                    include_unlabeled_images=False, overwrite=False):
    """Build and write the split; returns (path, folds, backup_path)."""
    pp_folder = preprocessed_dataset_folder(dataset)
    path = splits_file(pp_folder)
    training_ids = training_case_ids(pp_folder)
    extra = unlabeled_image_ids(dataset) if include_unlabeled_images else []
    if isfile(path) and not overwrite:
        raise sf.SplitError(f"{path} already exists. Pass --overwrite to replace it (a backup is kept).")

    if preset is not None:
        from nnunetv2_pscm.data.presets import get_preset_split

        folds = sf.fold_from_preset(get_preset_split(preset, training_ids), extra)
    else:
        base = sf.base_folds_from_existing(sf.load_splits(path), training_ids) if isfile(path) \
            else sf.default_base_folds(training_ids)
        if n_folds is not None:
            if not 1 <= n_folds <= len(base):
                raise sf.SplitError(f"--folds must be between 1 and {len(base)}, got {n_folds}.")
            base = base[:n_folds]
        if num_labeled is None and fraction is None:
            if not extra:
                raise sf.SplitError("Give --labeled N, --fraction F or --preset NAME (or --include-unlabeled-images "
                                    "to keep every training label and add the images of imagesUnlabeled/).")
            folds = [{"train": sorted(f["train"]), "val": list(f["val"]), "unlabeled": list(extra),
                      "role": sf.ROLE_SSL} for f in base]
        else:
            folds = sf.make_ssl_folds(base, num_labeled, fraction, seed, extra)
    backup = sf.write_splits(path, folds, overwrite=overwrite)
    return path, folds, backup


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
