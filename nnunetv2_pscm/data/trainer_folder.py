"""The folder to export as `nnUNet_extTrainer`: where nnU-Net looks for our trainer classes.

nnU-Net (>= 2.8) imports every module of that folder as a top-level module when it looks for a
trainer class by name, so the folder must hold only our small trainer modules, never site-packages.
This module imports nothing heavy: `nnUNetv2_pscm_trainer_dir` runs inside `$(...)` in users' shells.
"""
import os


def trainer_dir() -> str:
    import nnunetv2_pscm.trainers as trainers_package

    # __path__ (not __file__) so that editable installs with a package_dir mapping resolve correctly
    return os.path.abspath(list(trainers_package.__path__)[0])
