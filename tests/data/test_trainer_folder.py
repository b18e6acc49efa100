from os.path import isfile, join

from nnunetv2_pscm.cli.trainer_dir import main
from nnunetv2_pscm.data.trainer_folder import trainer_dir


def test_trainer_folder_holds_our_trainers_and_the_cli_prints_it(capsys):
    assert isfile(join(trainer_dir(), "nnUNetTrainerPSCM.py"))
    main([])
    assert capsys.readouterr().out.strip() == trainer_dir()
