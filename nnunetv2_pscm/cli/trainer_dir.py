"""`nnUNetv2_pscm_trainer_dir`: print the folder to export as `nnUNet_extTrainer`.

nnU-Net (>= 2.8) imports every module of that folder as a top-level module when it looks for a
trainer class by name, so the folder must hold only our small trainer modules, never site-packages.
"""
import argparse
import os


def trainer_dir() -> str:
    import nnunetv2_pscm.trainers as trainers_package

    # __path__ (not __file__) so that editable installs with a package_dir mapping resolve correctly
    return os.path.abspath(list(trainers_package.__path__)[0])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description="Print the directory to export as nnUNet_extTrainer, e.g. "
        "`export nnUNet_extTrainer=$(nnUNetv2_pscm_trainer_dir)`."
    )
    parser.parse_args(argv)
    print(trainer_dir())


if __name__ == "__main__":
    main()
