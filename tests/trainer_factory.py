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


def with_loaders(trainer):
    """A made trainer initialised with its loaders, as on_train_start leaves it (without logging to disk)."""
    trainer.initialize()
    trainer.dataloader_train, trainer.dataloader_val = trainer.get_dataloaders()
    trainer._register_log_keys()
    return trainer


def next_batches(trainer):
    """(labeled, unlabeled) batches on the trainer's device."""
    return trainer._to_device(next(trainer.dataloader_train)), trainer._to_device(next(trainer.dataloader_unlabeled))
