import json

import pytest

from conversion_fakes import make_msd
from conversion_fixtures import nnunet_dirs, verify  # noqa: F401 (pytest fixtures)
from nnunetv2_pscm.dataset_conversion.common import ConversionError
from nnunetv2_pscm.dataset_conversion.Dataset960_MSD import convert_msd


def test_msd_3d_task(tmp_path, nnunet_dirs, verify):
    task = make_msd(tmp_path)
    out = convert_msd(task)
    assert out.name == "Dataset966_Lung"  # 960 + task number: never nnU-Net's own Dataset006
    verify(out)
    assert sorted(p.name for p in (out / "imagesTr").iterdir()) == [
        "lung_001_0000.nii.gz", "lung_003_0000.nii.gz", "lung_004_0000.nii.gz"]  # no '._' junk
    assert [p.name for p in (out / "imagesTs").iterdir()] == ["lung_002_0000.nii.gz"]
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["labels"] == {"background": 0, "cancer": 1} and meta["channel_names"] == {"0": "CT"}
    assert meta["release"] == "1.0" and "training" not in meta


def test_msd_4d_task_split_into_channels(tmp_path, nnunet_dirs, verify):
    task = make_msd(tmp_path, "Task01_BrainTumour", ("BRATS_001", "BRATS_002"), ("BRATS_003",), channels=3)
    out = convert_msd(task, dataset_id=123, num_processes=2)
    assert out.name == "Dataset123_BrainTumour"
    verify(out)
    assert (out / "imagesTr" / "BRATS_001_0002.nii.gz").is_file()
    assert (out / "imagesTs" / "BRATS_003_0002.nii.gz").is_file()


def test_msd_unpaired_label_is_an_error(tmp_path, nnunet_dirs):
    task = make_msd(tmp_path)
    (task / "labelsTr" / "lung_003.nii.gz").unlink()
    with pytest.raises(ConversionError, match="lung_003"):
        convert_msd(task)
    assert list(nnunet_dirs["nnUNet_raw"].iterdir()) == []
