"""`nnUNetv2_pscm_trainer_dir`: print the folder to export as `nnUNet_extTrainer` (see data/trainer_folder.py)."""
import argparse

from nnunetv2_pscm.data.trainer_folder import trainer_dir


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description="Print the directory to export as nnUNet_extTrainer, e.g. "
        "`export nnUNet_extTrainer=$(nnUNetv2_pscm_trainer_dir)`."
    )
    parser.parse_args(argv)
    print(trainer_dir())


if __name__ == "__main__":
    main()
