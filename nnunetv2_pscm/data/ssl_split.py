"""Write the semi-supervised split of a dataset on disk: find its training cases and unlabeled images, build
the folds (`split_file`) and write `splits_final.json`. The library behind `nnUNetv2_pscm_split`; the
benchmark runner uses the same case discovery."""
import os
from os.path import isdir, join
from typing import List

from batchgenerators.utilities.file_and_folder_operations import isfile, load_json

from nnunetv2_pscm.data import split_file as sf
from nnunetv2_pscm.data.locations import (preprocessed_dataset_folder, raw_dataset_folder,
                                          raw_unlabeled_images_folder, splits_file)
from nnunetv2_pscm.data.unlabeled_preprocessing import find_unlabeled_images

SHOWN_IDS = 10


def training_case_ids(pp_folder: str) -> List[str]:
    """Training cases as nnU-Net's preprocessing recorded them (gt_segmentations holds one file per case)."""
    gt_folder = join(pp_folder, "gt_segmentations")
    if not isdir(gt_folder) or not isfile(join(pp_folder, "dataset.json")):
        raise sf.SplitError(f"{pp_folder} has no preprocessed data. Run `nnUNetv2_plan_and_preprocess` first.")
    ending = load_json(join(pp_folder, "dataset.json"))["file_ending"]
    return sorted(f[:-len(ending)] for f in os.listdir(gt_folder) if f.endswith(ending))


def unlabeled_image_ids(dataset) -> List[str]:
    """Ids of the images in nnUNet_raw/DatasetXXX/imagesUnlabeled/, none of which may be a training case's id."""
    pp_folder = preprocessed_dataset_folder(dataset)
    pp_dataset_json = load_json(join(pp_folder, "dataset.json"))
    images_folder = raw_unlabeled_images_folder(raw_dataset_folder(dataset))
    images = find_unlabeled_images(images_folder, pp_dataset_json["file_ending"],
                                   len(pp_dataset_json["channel_names"]))
    refuse_training_ids(sorted(images), training_case_ids(pp_folder), images_folder)
    return sorted(images)


def refuse_training_ids(image_ids: List[str], training_ids: List[str], images_folder: str) -> None:
    # one id, two cases: the image would join a fold's unlabeled list while the training case with that id sits
    # in the same fold's train or val list, and every file lookup by id would find the wrong one
    clash = sorted(set(image_ids).intersection(training_ids))
    if clash:
        raise sf.SplitError(f"{images_folder} holds images with the id of a training case: {clash[:SHOWN_IDS]}"
                            f"{' ...' if len(clash) > SHOWN_IDS else ''}. Rename them there (or remove them if they "
                            f"are copies of training images), then preprocess and split again.")


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
