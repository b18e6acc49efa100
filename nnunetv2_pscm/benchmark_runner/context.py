"""The dataset a benchmark runs on, resolved once with clear errors (names the config key or folder)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import List, Optional

from nnunetv2_pscm.benchmark_runner.config import BenchmarkConfig, BenchmarkConfigError


@dataclass(frozen=True)
class DatasetContext:
    name: str  # DatasetXXX_Name
    preprocessed: str  # nnUNet_preprocessed/DatasetXXX_Name
    raw: Optional[str]  # nnUNet_raw/DatasetXXX_Name (only needed for the test set)
    results: str  # nnUNet_results/DatasetXXX_Name
    dataset_json: dict
    gt_folder: str  # nnUNet_preprocessed/DatasetXXX/gt_segmentations: the validation references
    split_path: str
    training_ids: List[str]

    @property
    def file_ending(self) -> str:
        return self.dataset_json["file_ending"]


def _config_error(config: BenchmarkConfig, message: str) -> BenchmarkConfigError:
    where = f" in {config.source}" if config.source else ""
    return BenchmarkConfigError(f"benchmark config{where}: {message}")


def resolve_dataset(config: BenchmarkConfig) -> DatasetContext:
    from nnunetv2.paths import nnUNet_raw, nnUNet_results
    from nnunetv2.utilities.dataset_name_id_conversion import maybe_convert_to_dataset_name

    from nnunetv2_pscm.data.locations import preprocessed_dataset_folder, splits_file
    from nnunetv2_pscm.data.ssl_split import training_case_ids

    if not nnUNet_results.is_set():
        raise RuntimeError("The environment variable nnUNet_results is not set; nnU-Net needs it to store the "
                           "benchmark's trained models.")
    try:
        name = maybe_convert_to_dataset_name(config.dataset)
    except RuntimeError as error:
        raise _config_error(config, f"'dataset' {config.dataset!r}: {error}") from error
    preprocessed = preprocessed_dataset_folder(name)
    plans_file = os.path.join(preprocessed, f"{config.plans}.json")
    if not os.path.isfile(plans_file):
        raise _config_error(config, f"'plans' {config.plans!r}: no plans file {plans_file}. Run "
                                   f"`nnUNetv2_plan_and_preprocess -d {config.dataset}` (or use the plans name it "
                                   f"wrote).")
    with open(plans_file) as f:
        plans = json.load(f)
    if config.configuration not in plans.get("configurations", {}):
        raise _config_error(config, f"'configuration' {config.configuration!r} is not in {plans_file} (it has: "
                                   f"{', '.join(plans.get('configurations', {}))}).")
    data_identifier = plans["configurations"][config.configuration].get("data_identifier")
    if data_identifier and not os.path.isdir(os.path.join(preprocessed, data_identifier)):
        raise _config_error(config, f"'configuration' {config.configuration!r} is not preprocessed (no folder "
                                   f"{os.path.join(preprocessed, data_identifier)}). Run `nnUNetv2_preprocess -d "
                                   f"{config.dataset} -c {config.configuration} -plans_name {config.plans}`.")
    with open(os.path.join(preprocessed, "dataset.json")) as f:
        dataset_json = json.load(f)
    return DatasetContext(
        name=name, preprocessed=preprocessed,
        raw=os.path.join(os.fspath(nnUNet_raw), name) if nnUNet_raw.is_set() else None,
        results=os.path.join(os.fspath(nnUNet_results), name), dataset_json=dataset_json,
        gt_folder=os.path.join(preprocessed, "gt_segmentations"), split_path=splits_file(preprocessed),
        training_ids=training_case_ids(preprocessed))


def find_test_set(context: DatasetContext) -> tuple:
    """(imagesTs, labelsTs) of the raw dataset, or a clear error saying what is missing."""
    if context.raw is None:
        raise FileNotFoundError("--test needs nnUNet_raw to be set (the test images are read from "
                                "nnUNet_raw/DatasetXXX/imagesTs).")
    images, labels = os.path.join(context.raw, "imagesTs"), os.path.join(context.raw, "labelsTs")
    for folder in (images, labels):
        if not os.path.isdir(folder) or not any(f.endswith(context.file_ending) for f in os.listdir(folder)):
            raise FileNotFoundError(f"--test needs a test set with labels, but {folder} is missing or holds no "
                                    f"'{context.file_ending}' files.")
    return images, labels
