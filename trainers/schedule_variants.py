"""Any trainer on a shorter (or longer) schedule, by name: `<Trainer>_<E>ep<I>it`.

    nnUNetv2_train 1 3d_fullres 0 -tr nnUNetTrainerPSCM_20ep50it     # 20 epochs x 50 iterations
    nnUNetv2_train 1 3d_fullres 0 -tr nnUNetTrainer_20ep50it         # the stock trainer, same budget

nnU-Net's own way to change a schedule is a subclass per length (nnUNetTrainer_5epochs, ...); this module
makes that subclass on demand when nnU-Net's trainer search asks for such a name (PEP 562 module
__getattr__), for our trainers and for nnU-Net's, so equal budgets across methods need no code. The same
name works for nnUNetv2_predict. Validation batches per epoch scale with the schedule: one per five
training iterations, between 1 and nnU-Net's 50. The learning-rate schedule (poly) follows the new length.
`checkpoint_latest.pth` is written every `save_every` epochs: nnU-Net's 50 would never write it in a schedule
shorter than 50 epochs, so an interrupted short run could only restart; here at most 10 % of the epochs
(at least every epoch, at most nnU-Net's 50) are lost to an interruption. Checkpoints are written atomically
and a damaged one is named with the fix (`training/checkpoint_files.py`), for nnU-Net's trainers too.
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


def latest_checkpoint_interval(epochs: int, default: int = 50) -> int:
    """Epochs between two `checkpoint_latest.pth`: a tenth of the schedule, within [1, nnU-Net's default]."""
    return max(1, min(default, epochs // 10))


def schedule_variant(base, epochs: int, iterations: int):
    import torch

    from nnunetv2_pscm.training import nnUNetTrainerSSL
    from nnunetv2_pscm.training.checkpoint_files import SafeCheckpointFiles

    # our trainers save atomically and name a damaged checkpoint; give nnU-Net's own trainers the same, since a
    # short run is the one most likely to be interrupted and resumed (e.g. the benchmark across sessions)
    bases = (base,) if issubclass(base, nnUNetTrainerSSL) else (SafeCheckpointFiles, base)

    class ScheduleVariant(*bases):
        def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                     device: torch.device = torch.device("cuda")):
            super().__init__(plans, configuration, fold, dataset_json, device)
            self.num_epochs = epochs
            self.num_iterations_per_epoch = iterations
            self.num_val_iterations_per_epoch = max(1, min(50, iterations // 5))
            self.save_every = latest_checkpoint_interval(epochs, self.save_every)

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
