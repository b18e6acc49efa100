"""Behaviour shared by all converters: staging, --overwrite, interrupted runs, id clashes, the CLI wrappers."""
import numpy as np
import pytest

from conversion_fakes import make_la_h5
from conversion_fixtures import nnunet_dirs  # noqa: F401 (pytest fixtures)
from nnunetv2_pscm.cli import convert as cli
from nnunetv2_pscm.dataset_conversion import Dataset901_LA2018 as la
from nnunetv2_pscm.dataset_conversion.common import (
    ConversionError, TMP_PREFIX, read_id_list, staged_dataset, to_label_array,
)

CONSOLE_FUNCTIONS = ["convert_LA", "convert_pancreas", "convert_MSD", "convert_AMOS", "convert_ACDC", "convert_MNMs",
                     "convert_BraTS19", "convert_generic"]


@pytest.mark.parametrize("name", CONSOLE_FUNCTIONS)
def test_console_functions_have_help(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        getattr(cli, name)(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "-i INPUT_ROOT" in text and "--overwrite" in text and "-np" in text


def test_interrupted_conversion_leaves_nothing(tmp_path, nnunet_dirs, monkeypatch):
    make_la_h5(tmp_path, ["A" * 20, "B" * 20], [])
    calls = []

    def interrupted(**job):
        calls.append(job)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return la.convert_h5_case(**job)

    monkeypatch.setattr(la, "convert_h5_case", interrupted)
    with pytest.raises(KeyboardInterrupt):
        la.convert_la(tmp_path)
    assert list(nnunet_dirs["nnUNet_raw"].iterdir()) == []  # neither DatasetNNN_* nor the temp folder


def test_overwrite_replaces_every_folder_with_the_id(tmp_path, nnunet_dirs):
    raw = nnunet_dirs["nnUNet_raw"]
    (raw / "Dataset901_Old").mkdir()
    (raw / "Dataset901_Old" / "marker").write_text("x")
    with pytest.raises(ConversionError, match="Dataset901_Old.*--overwrite"):
        with staged_dataset(901, "New"):
            pass
    with staged_dataset(901, "New", overwrite=True) as stage:
        assert stage.path.name.startswith(TMP_PREFIX)  # hidden from nnU-Net while being written
        (stage.path / "dataset.json").write_text("{}")
    assert [p.name for p in raw.iterdir()] == ["Dataset901_New"]


def test_stale_temp_folder_of_a_killed_run_is_removed(tmp_path, nnunet_dirs):
    stale = nnunet_dirs["nnUNet_raw"] / f"{TMP_PREFIX}999999999_Dataset901_LA2018_deadbeef"
    stale.mkdir()
    with staged_dataset(901, "LA2018"):
        pass
    assert not stale.exists()


def test_id_used_by_another_name_in_preprocessed(tmp_path, nnunet_dirs):
    (nnunet_dirs["nnUNet_preprocessed"] / "Dataset901_Other").mkdir()
    with pytest.raises(ConversionError, match="Dataset901_Other.*nnUNet_preprocessed.*another id"):
        with staged_dataset(901, "LA2018"):
            pass


def test_missing_nnunet_raw(monkeypatch):
    monkeypatch.delenv("nnUNet_raw", raising=False)
    with pytest.raises(ConversionError, match="nnUNet_raw is not set"):
        with staged_dataset(901, "LA2018"):
            pass


def test_label_checks():
    assert to_label_array(np.array([0.0, 1.0], np.float32), "x").dtype == np.uint8
    with pytest.raises(ConversionError, match=r"f.h5: label contains non-integer"):
        to_label_array(np.array([0.0, 0.5]), "f.h5")
    assert to_label_array(np.array([0, 255]), "m", allowed={0, 255}, mapping={255: 1}).tolist() == [0, 1]
    with pytest.raises(ConversionError, match=r"m: unexpected label value\(s\) \[3\]"):
        to_label_array(np.array([0, 3]), "m", allowed={0, 1})


def test_read_id_list_tolerates_crlf_blank_and_extra_columns(tmp_path):
    f = tmp_path / "train.txt"
    f.write_bytes(b"a.h5\r\n\r\nb.h5,extra\r\n")
    assert read_id_list(f, strip_suffix=".h5") == ["a", "b"]
