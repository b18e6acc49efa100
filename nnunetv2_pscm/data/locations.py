"""Where our extra files live next to nnU-Net's own. One place, so every module agrees.

* The split file is nnU-Net's own `nnUNet_preprocessed/DatasetXXX/splits_final.json`.
* Truly unlabeled raw images: `nnUNet_raw/DatasetXXX/imagesUnlabeled/{case}_{XXXX}{file_ending}`
  (nnU-Net's integrity check and planner ignore this folder).
* Their preprocessed form: `nnUNet_preprocessed/DatasetXXX/{data_identifier}_unlabeled/`, a sibling of
  the configuration's own folder, holding image files only. Keeping them out of the configuration's folder
  matters: nnU-Net lists every `.b2nd` there when it builds its default split, and would then try to load
  a segmentation that does not exist.
"""
import os
from os.path import join

from nnunetv2.paths import nnUNet_preprocessed, nnUNet_raw
from nnunetv2.utilities.dataset_name_id_conversion import maybe_convert_to_dataset_name

SPLITS_FILENAME = "splits_final.json"
RAW_UNLABELED_FOLDER = "imagesUnlabeled"
UNLABELED_SUFFIX = "_unlabeled"


def _require(env_path, name: str) -> str:
    if not env_path.is_set():
        raise RuntimeError(f"The environment variable {name} is not set. nnU-Net and nnunetv2_pscm need "
                           f"nnUNet_raw, nnUNet_preprocessed and nnUNet_results (see nnU-Net's documentation).")
    return os.fspath(env_path)


def dataset_name(dataset_name_or_id) -> str:
    return maybe_convert_to_dataset_name(dataset_name_or_id)


def preprocessed_dataset_folder(dataset_name_or_id) -> str:
    return join(_require(nnUNet_preprocessed, "nnUNet_preprocessed"), dataset_name(dataset_name_or_id))


def raw_dataset_folder(dataset_name_or_id) -> str:
    return join(_require(nnUNet_raw, "nnUNet_raw"), dataset_name(dataset_name_or_id))


def splits_file(preprocessed_dataset_folder_base: str) -> str:
    return join(preprocessed_dataset_folder_base, SPLITS_FILENAME)


def raw_unlabeled_images_folder(raw_dataset_folder_path: str) -> str:
    return join(raw_dataset_folder_path, RAW_UNLABELED_FOLDER)


def unlabeled_preprocessed_folder(preprocessed_dataset_folder_base: str, data_identifier: str) -> str:
    return join(preprocessed_dataset_folder_base, data_identifier + UNLABELED_SUFFIX)
