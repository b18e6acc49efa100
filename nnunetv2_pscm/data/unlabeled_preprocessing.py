"""Preprocess truly unlabeled images (`imagesUnlabeled/`) with a dataset's existing plans.

Same reader, transpose, crop-to-nonzero, normalization and resampling as nnU-Net's own preprocessing for
the configuration (we call the plans' preprocessor class), but only the image is written: no label file of
any kind is created, so nothing stock nnU-Net could mistake for ground truth exists on disk. The folder also
gets a record of the plans that produced it (`preprocessing_record`), which training checks.
"""
import multiprocessing
import os
import re
import shutil
import tempfile
from collections import defaultdict
from os.path import isdir, join
from typing import Dict, List

import numpy as np
from batchgenerators.utilities.file_and_folder_operations import isfile, load_json, maybe_mkdir_p, write_pickle
from nnunetv2.training.dataloading.nnunet_dataset import comp_blosc2_params
from nnunetv2.utilities.plans_handling.plans_handler import ConfigurationManager, PlansManager
from tqdm import tqdm

from nnunetv2_pscm.data.locations import (dataset_name, preprocessed_dataset_folder, raw_dataset_folder,
                                          raw_unlabeled_images_folder, unlabeled_preprocessed_folder)
from nnunetv2_pscm.data.preprocessing_record import write_preprocessing_record


class UnlabeledDataError(ValueError):
    """Unusable unlabeled images; the message names the folder or case."""


def find_unlabeled_images(images_folder: str, file_ending: str, num_channels: int) -> Dict[str, List[str]]:
    """case id -> channel files, checking that every case has exactly the dataset's channels."""
    if not isdir(images_folder):
        raise UnlabeledDataError(
            f"{images_folder} does not exist. Put images without labels there, named like imagesTr "
            f"({{case}}_0000{file_ending}, one file per channel).")
    pattern = re.compile(r"(.+)_(\d{4})" + re.escape(file_ending) + r"$")
    cases = defaultdict(dict)
    for f in sorted(os.listdir(images_folder)):
        if f.startswith("."):
            continue
        m = pattern.match(f)
        if m is None:
            raise UnlabeledDataError(f"{join(images_folder, f)}: expected a name like CASE_0000{file_ending}.")
        cases[m.group(1)][int(m.group(2))] = join(images_folder, f)
    if not cases:
        raise UnlabeledDataError(f"{images_folder} contains no images ending in {file_ending}.")
    out = {}
    for case, channels in cases.items():
        if sorted(channels) != list(range(num_channels)):
            raise UnlabeledDataError(
                f"Unlabeled case '{case}' in {images_folder} has channels {sorted(channels)}, but dataset.json "
                f"declares {num_channels} channel(s) (expected _0000 .. _{num_channels - 1:04d}).")
        out[case] = [channels[c] for c in range(num_channels)]
    return out


def _preprocess_one(case_id: str, image_files: List[str], output_folder: str, plans: dict, configuration: str,
                    dataset_json: dict) -> None:
    plans_manager = PlansManager(plans)
    configuration_manager = plans_manager.get_configuration(configuration)
    preprocessor = configuration_manager.preprocessor_class(verbose=False)
    # DefaultPreprocessor.run_case is read_images + run_case_npy; reading ourselves lets a bad file get an
    # error that names it. seg=None: nnU-Net's own path for images without labels (how test cases are preprocessed)
    data, properties = read_unlabeled_case(image_files, plans_manager)
    data, _, properties = preprocessor.run_case_npy(data, None, properties, plans_manager, configuration_manager,
                                                    dataset_json)
    save_unlabeled_case(data.astype(np.float32, copy=False), properties, join(output_folder, case_id),
                        configuration_manager)


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def read_unlabeled_case(image_files: List[str], plans_manager: PlansManager):
    """(c, x, y, z) image and its properties, with one scalar image per channel file, or an error naming the file."""
    shown = image_files[0] if len(image_files) == 1 else f"{image_files}"
    reader = plans_manager.image_reader_writer_class()
    try:
        data, properties = reader.read_images(image_files)
    except Exception as e:  # readers raise anything from RuntimeError to struct.error on a damaged file
        raise UnlabeledDataError(f"{shown}: cannot be read by {type(reader).__name__} ({type(e).__name__}: "
                                 f"{_one_line(e) or 'no message'}). Replace or remove it in imagesUnlabeled/ "
                                 f"and run again.") from None
    # a vector-valued (e.g. RGB) or 4D file comes back with its components as extra channels or as an extra axis
    if data.ndim != 4 or data.shape[0] != len(image_files) or len(properties["spacing"]) != 3:
        raise UnlabeledDataError(f"{shown}: read as an array of shape {tuple(data.shape)}, expected one scalar 2D/3D "
                                 f"image per channel file ({len(image_files)} file(s)). Vector-valued (e.g. RGB) or 4D "
                                 f"images must be split into one file per channel (CASE_0000, CASE_0001, ...).")
    return data, properties


def save_unlabeled_case(data: np.ndarray, properties: dict, output_filename_truncated: str,
                        configuration_manager: ConfigurationManager) -> None:
    import blosc2

    blocks, chunks = comp_blosc2_params(data.shape, tuple(configuration_manager.patch_size), data.itemsize)
    blosc2.set_nthreads(1)
    blosc2.asarray(np.ascontiguousarray(data), urlpath=output_filename_truncated + ".b2nd", chunks=chunks,
                   blocks=blocks, cparams={"codec": blosc2.Codec.LZ4HC, "clevel": 5, "nthreads": 1})
    write_pickle(properties, output_filename_truncated + ".pkl")


def preprocess_unlabeled(dataset_name_or_id, configuration: str, plans_identifier: str = "nnUNetPlans",
                         num_processes: int = 4, overwrite: bool = False) -> str:
    """Preprocess `nnUNet_raw/DatasetXXX/imagesUnlabeled/` for one configuration; returns the output folder."""
    pp_base = preprocessed_dataset_folder(dataset_name_or_id)
    plans_file = join(pp_base, plans_identifier + ".json")
    if not isfile(plans_file):
        raise UnlabeledDataError(f"Plans file {plans_file} not found. Run `nnUNetv2_plan_and_preprocess -d "
                                 f"{dataset_name_or_id}` (or the plans command that creates '{plans_identifier}') first.")
    plans = load_json(plans_file)
    if configuration not in plans["configurations"]:
        raise UnlabeledDataError(f"Configuration '{configuration}' is not in {plans_file}; available: "
                                 f"{sorted(plans['configurations'])}")
    dataset_json = load_json(join(pp_base, "dataset.json"))
    configuration_manager = PlansManager(plans).get_configuration(configuration)
    images = find_unlabeled_images(raw_unlabeled_images_folder(raw_dataset_folder(dataset_name_or_id)),
                                   dataset_json["file_ending"], len(dataset_json["channel_names"]))
    training_ids = _training_case_ids(dataset_name_or_id, dataset_json)
    clash = sorted(set(images).intersection(training_ids))
    if clash:
        raise UnlabeledDataError(f"Unlabeled image ids also used by training cases of {dataset_name(dataset_name_or_id)}"
                                 f": {clash[:10]}. Rename them in imagesUnlabeled/.")

    output_folder = unlabeled_preprocessed_folder(pp_base, configuration_manager.data_identifier)
    if isdir(output_folder) and not overwrite:
        raise UnlabeledDataError(f"{output_folder} already exists. Pass --overwrite to preprocess again.")

    # write next to the destination, then move: an interrupted run leaves no half-filled folder behind
    tmp_folder = tempfile.mkdtemp(prefix=".tmp_unlabeled_", dir=pp_base)
    try:
        jobs = [(case, files, tmp_folder, plans, configuration, dataset_json) for case, files in images.items()]
        if num_processes <= 1:
            for job in tqdm(jobs, desc="Preprocessing unlabeled images"):
                _preprocess_one(*job)
        else:
            with multiprocessing.get_context("spawn").Pool(num_processes) as pool:
                results = [pool.apply_async(_preprocess_one, job) for job in jobs]
                for r in tqdm(results, desc="Preprocessing unlabeled images"):
                    r.get()
        # last, so that a folder without its record can only come from an older version, never from a failed run
        write_preprocessing_record(tmp_folder, plans_identifier, configuration, plans)
        if isdir(output_folder):
            shutil.rmtree(output_folder)
        os.replace(tmp_folder, output_folder)
    finally:
        if isdir(tmp_folder):
            shutil.rmtree(tmp_folder, ignore_errors=True)
    return output_folder


def _training_case_ids(dataset_name_or_id, dataset_json: dict) -> List[str]:
    if "dataset" in dataset_json:  # nnU-Net's alternative to the imagesTr folder
        return list(dataset_json["dataset"].keys())
    from nnunetv2.utilities.utils import get_identifiers_from_splitted_dataset_folder

    return list(get_identifiers_from_splitted_dataset_folder(
        join(raw_dataset_folder(dataset_name_or_id), "imagesTr"), dataset_json["file_ending"]))


def list_preprocessed_unlabeled_ids(folder: str) -> List[str]:
    if not isdir(folder):
        return []
    return sorted(f[:-len(".b2nd")] for f in os.listdir(folder) if f.endswith(".b2nd"))
