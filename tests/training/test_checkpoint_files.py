"""Interrupted runs lose little and say what is wrong: checkpoints are written atomically, a damaged one is named
with the fix, and the short schedules (`_<E>ep<I>it`) write `checkpoint_latest.pth` often enough that `--c` resumes
at the last finished epoch with the same semi-supervised state."""
import os
import subprocess
import sys

import pytest
import torch
from conftest import console_script, copy_dataset, dataset_folder, nnunet_env
from trainer_factory import make_trainer

from nnunetv2_pscm.data.ssl_split import write_ssl_split
from nnunetv2_pscm.training import checkpoint_files
from nnunetv2_pscm.training.checkpoint_files import CheckpointError, read_checkpoint, write_checkpoint_atomically
from nnunetv2_pscm.trainers import schedule_variants


def _saved(path, **extra):
    torch.save({"network_weights": {"w": torch.ones(2)}, **extra}, path)
    return path


def test_an_empty_checkpoint_is_named_with_the_fallback_nnunet_would_use(tmp_path):
    (tmp_path / "checkpoint_latest.pth").write_bytes(b"")
    with pytest.raises(CheckpointError, match="checkpoint_latest.pth is empty .*start the run again without --c"):
        read_checkpoint(str(tmp_path / "checkpoint_latest.pth"))
    _saved(tmp_path / "checkpoint_best.pth")
    with pytest.raises(CheckpointError, match="run again with --c to continue from checkpoint_best.pth"):
        read_checkpoint(str(tmp_path / "checkpoint_latest.pth"))


def test_a_truncated_checkpoint_is_named_with_its_size(tmp_path):
    path = _saved(tmp_path / "checkpoint_latest.pth", big=torch.zeros(10000))
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    with pytest.raises(CheckpointError, match=rf"checkpoint_latest.pth \({len(content) // 2} bytes\) is truncated"):
        read_checkpoint(str(path))


def test_a_file_that_is_no_nnunet_checkpoint_is_refused(tmp_path):
    torch.save([1, 2, 3], tmp_path / "checkpoint_final.pth")
    with pytest.raises(CheckpointError, match="not an nnU-Net checkpoint"):
        read_checkpoint(str(tmp_path / "checkpoint_final.pth"))


def test_a_save_that_dies_halfway_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = str(_saved(tmp_path / "checkpoint_latest.pth", epoch=1))

    def dying_save(obj, filename):
        with open(filename, "wb") as f:
            f.write(b"PK\x03\x04 half a file")
        raise KeyboardInterrupt("killed while saving")

    monkeypatch.setattr(checkpoint_files.torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        write_checkpoint_atomically({"network_weights": {}, "epoch": 2}, path)
    assert read_checkpoint(path)["epoch"] == 1


def test_short_schedules_write_checkpoint_latest_every_tenth_of_the_schedule():
    interval = schedule_variants.latest_checkpoint_interval
    assert [interval(e) for e in (1, 5, 10, 30, 60, 500, 1000)] == [1, 1, 1, 3, 6, 50, 50]
    assert interval(30, default=2) == 2  # never less often than the trainer's own setting


@pytest.fixture
def split(copied_3d):
    write_ssl_split(901, num_labeled=3, n_folds=1)
    return copied_3d


def test_a_killed_short_schedule_resumes_at_its_last_finished_epoch_with_the_same_ssl_state(split, monkeypatch):
    """nnU-Net's save_every = 50 never writes checkpoint_latest.pth in a 4-epoch run: --c would start over."""
    monkeypatch.setattr(sys, "argv", ["nnUNetv2_train"])
    cls = schedule_variants.nnUNetTrainerMeanTeacher_4ep2it
    trainer = make_trainer(cls, 901)
    stock_on_epoch_end = trainer.on_epoch_end

    def killed_after_epoch_1():
        stock_on_epoch_end()
        if trainer.current_epoch == 2:
            raise SystemExit("killed after epoch 1")

    monkeypatch.setattr(trainer, "on_epoch_end", killed_after_epoch_1)
    with pytest.raises(SystemExit):
        trainer.run_training()
    latest = os.path.join(trainer.output_folder, "checkpoint_latest.pth")
    saved = read_checkpoint(latest)
    assert saved["current_epoch"] == 2 and saved["ssl_state"]["ssl_step"] == 4

    resumed = make_trainer(cls, 901)
    resumed.load_checkpoint(latest)  # what nnUNetv2_train --c does
    assert resumed.current_epoch == 2 and resumed.ssl_step == 4
    for (name, a), b in zip(resumed.teacher.module.state_dict().items(), trainer.teacher.module.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=f"teacher {name}")
    for (name, a), b in zip(resumed.student_module.state_dict().items(), trainer.student_module.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_resume_from_an_empty_checkpoint_through_nnunetv2_train_names_the_file(dataset_3d, tmp_path):
    """A stock trainer on a short schedule (ours by name), as the benchmark resumes it: a one-line reason."""
    root = copy_dataset(dataset_3d, tmp_path)
    from nnunetv2_pscm.data.trainer_folder import trainer_dir

    env = nnunet_env(root, nnUNet_extTrainer=trainer_dir())
    trainer = "nnUNetTrainer_2ep2it"
    name = dataset_folder(root, "raw").name
    fold = root / "results" / name / f"{trainer}__nnUNetPlans_cpu__3d_fullres" / "fold_0"
    os.makedirs(fold)
    (fold / "checkpoint_latest.pth").write_bytes(b"")
    proc = subprocess.run([console_script("nnUNetv2_train"), "901", "3d_fullres", "0", "-tr", trainer, "-p",
                           "nnUNetPlans_cpu", "-device", "cpu", "--c"], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode != 0
    assert f"checkpoint {fold / 'checkpoint_latest.pth'} is empty" in proc.stderr
    assert "start the run again without --c" in proc.stderr
