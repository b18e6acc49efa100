"""Build trainers in-process the way nnUNetv2_train does (minus the class search)."""
from os.path import join

import torch
from batchgenerators.utilities.file_and_folder_operations import load_json

from nnunetv2_pscm.data.locations import preprocessed_dataset_folder


def make_trainer(trainer_class, dataset_id: int, configuration: str = "3d_fullres", fold=0,
                 plans_identifier: str = "nnUNetPlans_cpu", dataset_json_edit=None, **attributes):
    folder = preprocessed_dataset_folder(dataset_id)
    plans = load_json(join(folder, plans_identifier + ".json"))
    plans["continue_training"] = False
    dataset_json = load_json(join(folder, "dataset.json"))
    if dataset_json_edit is not None:
        dataset_json_edit(dataset_json)
    trainer = trainer_class(plans=plans, configuration=configuration, fold=fold, dataset_json=dataset_json,
                            device=torch.device("cpu"))
    for k, v in attributes.items():
        setattr(trainer, k, v)
    return trainer
