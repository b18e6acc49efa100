"""Find a fold's quality predictor and check that it was built for that fold (the plug-in, QC and suggest share
this): a predictor of another fold has trained on cases that this fold validates on."""
import os
from typing import Optional, Tuple

from nnunetv2_pscm.data.locations import dataset_name
from nnunetv2_pscm.methods.quality.network import QualityNet
from nnunetv2_pscm.methods.quality.training import (PREDICTOR_FILENAME, QualityTrainingError, load_quality_predictor,
                                                    quality_output_folder)


def build_command(dataset, configuration: str, fold: int, plans_identifier: str) -> str:
    return f"nnUNetv2_pscm_train_quality -d {dataset} -c {configuration} -f {fold} -p {plans_identifier}"


def fold_predictor(dataset, configuration: str, fold: int, plans_identifier: str,
                   path: Optional[str] = None) -> Tuple[QualityNet, dict, str]:
    """(QualityNet in eval mode, its record, its path) of the fold's predictor, at ``path`` or in nnUNet_results;
    a clear error naming the file and the command that builds it when it is missing or built for something else."""
    name = dataset_name(dataset)
    path = path or os.path.join(quality_output_folder(name, plans_identifier, configuration, fold), PREDICTOR_FILENAME)
    build = build_command(name, configuration, fold, plans_identifier)
    if not os.path.isfile(path):
        raise QualityTrainingError(f"No quality predictor of fold {fold} at {path}. Build it first (it learns from "
                                   f"the fold's labeled cases only): {build}")
    net, record = load_quality_predictor(path)
    got = (record.get("dataset_name"), record.get("plans_identifier"), record.get("configuration"), record.get("fold"))
    if got != (name, plans_identifier, configuration, fold):
        raise QualityTrainingError(f"{path} was built for dataset/plans/configuration/fold {got}, not "
                                   f"{(name, plans_identifier, configuration, fold)}. Build the right one: {build}")
    return net, record, path
