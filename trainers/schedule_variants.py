"""Any trainer on a shorter (or longer) schedule, by name: `<Trainer>_<E>ep<I>it`.

    nnUNetv2_train 1 3d_fullres 0 -tr nnUNetTrainerPSCM_20ep50it     # 20 epochs x 50 iterations
    nnUNetv2_train 1 3d_fullres 0 -tr nnUNetTrainer_20ep50it         # the stock trainer, same budget

nnU-Net's own way to change a schedule is a subclass per length (nnUNetTrainer_5epochs, ...); this module
makes that subclass on demand when nnU-Net's trainer search asks for such a name (PEP 562 module
__getattr__), for our trainers and for nnU-Net's, so equal budgets across methods need no code. The same
name works for nnUNetv2_predict. Validation batches per epoch scale with the schedule: one per five
training iterations, between 1 and nnU-Net's 50. The learning-rate schedule (poly) follows the new length.
"""
import re

_PATTERN = re.compile(r"^(?P<base>\w+?)_(?P<epochs>\d+)ep(?P<iterations>\d+)it$")
_made = {}


def _find_base(name: str):
    import importlib

    import nnunetv2
    from nnunetv2.utilities.find_class_by_name import recursive_find_python_class

    try:  # ours: module and class share the name
        return getattr(importlib.import_module(f"nnunetv2_pscm.trainers.{name}"), name)
    except (ImportError, AttributeError):
        pass
    import os

    return recursive_find_python_class(os.path.join(nnunetv2.__path__[0], "training", "nnUNetTrainer"), name,
                                       "nnunetv2.training.nnUNetTrainer")


def schedule_variant(base, epochs: int, iterations: int):
    import torch

    class ScheduleVariant(base):
        def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                     device: torch.device = torch.device("cuda")):
            super().__init__(plans, configuration, fold, dataset_json, device)
            self.num_epochs = epochs
            self.num_iterations_per_epoch = iterations
            self.num_val_iterations_per_epoch = max(1, min(50, iterations // 5))

    name = f"{base.__name__}_{epochs}ep{iterations}it"
    ScheduleVariant.__name__ = ScheduleVariant.__qualname__ = name
    ScheduleVariant.__module__ = __name__
    return ScheduleVariant


def __getattr__(name: str):
    match = _PATTERN.match(name)
    if match is None:
        raise AttributeError(name)
    if name not in _made:
        base = _find_base(match["base"])
        if base is None:
            raise AttributeError(f"{name}: no trainer called {match['base']}")
        _made[name] = schedule_variant(base, int(match["epochs"]), int(match["iterations"]))
    return _made[name]
