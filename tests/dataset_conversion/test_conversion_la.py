import json
import shutil

import numpy as np
import pytest
import SimpleITK as sitk

from conversion_fakes import LA_H5_ROOT, make_la_h5, make_la_nrrd, write_h5
from conversion_fixtures import nnunet_dirs, verify, verify_spawned  # noqa: F401 (pytest fixtures)
from nnunetv2_pscm.cli.convert import convert_LA
from nnunetv2_pscm.data.presets import get_preset_split, load_preset_file
from nnunetv2_pscm.dataset_conversion.common import ConversionError
from nnunetv2_pscm.dataset_conversion.Dataset901_LA2018 import convert_la

LA_LISTS = load_preset_file("LA2018_UAMT.json")["lists"]


def test_la_h5_fake_full_lists_and_presets(tmp_path, nnunet_dirs, verify):
    # every id of the official lists, tiny volumes: conversion + the LA presets end to end
    make_la_h5(tmp_path / "data", LA_LISTS["train"], LA_LISTS["test"], shape=(5, 4, 3))
    out = convert_la(tmp_path / "data")
    assert out == nnunet_dirs["nnUNet_raw"] / "Dataset901_LA2018"
    verify(out)
    train_ids = sorted(p.name[: -len("_0000.nii.gz")] for p in (out / "imagesTr").iterdir())
    test_ids = sorted(p.name[: -len(".nii.gz")] for p in (out / "labelsTs").iterdir())
    assert len(train_ids) == 80 and len(test_ids) == 20
    assert not (out / "imagesUnlabeled").exists()
    split = get_preset_split("LA-8", train_ids)
    assert split["train"] == [f"la_{i}" for i in LA_LISTS["train"][:8]]
    assert split["val"] == [f"la_{i}" for i in LA_LISTS["train"][-16:]]
    assert len(split["unlabeled"]) == 56
    assert sorted(split["test"]) == test_ids


def test_la_h5_axis_order_and_spacing(tmp_path, nnunet_dirs):
    # h5 arrays are (x, y, z); nnU-Net must see (z, y, x) with the 0.625 mm the h5 lacks
    make_la_h5(tmp_path, ["A" * 20], ["B" * 20], shape=(7, 5, 3))
    out = convert_la(tmp_path)
    image = sitk.ReadImage(str(out / "imagesTr" / f"la_{'A' * 20}_0000.nii.gz"))
    assert image.GetSize() == (7, 5, 3)
    assert image.GetSpacing() == pytest.approx((0.625, 0.625, 0.625))
    import h5py
    with h5py.File(tmp_path / "2018LA_Seg_Training Set" / ("A" * 20) / "mri_norm2.h5") as f:
        original = f["image"][()]
    np.testing.assert_allclose(sitk.GetArrayFromImage(image), original.transpose(2, 1, 0))
    assert (out / "labelsTs" / f"la_{'B' * 20}.nii.gz").is_file()


def test_la_h5_missing_key_names_file(tmp_path, nnunet_dirs):
    make_la_h5(tmp_path, ["A" * 20], [])
    bad = tmp_path / "2018LA_Seg_Training Set" / ("A" * 20) / "mri_norm2.h5"
    bad.unlink()
    write_h5(bad, image=np.zeros((4, 4, 4), np.float32), seg=np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ConversionError, match=r"mri_norm2.h5: missing key\(s\) \['label'\]"):
        convert_la(tmp_path)
    assert list(nnunet_dirs["nnUNet_raw"].iterdir()) == []  # nothing half-written


def test_la_overwrite_required(tmp_path, nnunet_dirs, capsys):
    make_la_h5(tmp_path, ["A" * 20], [])
    (nnunet_dirs["nnUNet_raw"] / "Dataset901_Other").mkdir()
    with pytest.raises(SystemExit):
        convert_LA(["-i", str(tmp_path), "-np", "1"])
    assert "--overwrite" in capsys.readouterr().err
    convert_LA(["-i", str(tmp_path), "-np", "1", "--overwrite"])
    assert capsys.readouterr().out.strip().endswith("Dataset901_LA2018")
    assert [p.name for p in nnunet_dirs["nnUNet_raw"].iterdir()] == ["Dataset901_LA2018"]


def test_la_nrrd_original(tmp_path, nnunet_dirs, verify):
    ids = [LA_LISTS["train"][0], LA_LISTS["test"][0]]
    make_la_nrrd(tmp_path, ids)
    out = convert_la(tmp_path, num_processes=2)  # also exercises the spawned worker pool
    assert out.name == "Dataset902_LA2018Original"
    verify(out)
    label = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "labelsTr" / f"la_{ids[0]}.nii.gz")))
    assert set(np.unique(label)) == {0, 1}  # 255 -> 1
    assert (out / "imagesTs" / f"la_{ids[1]}_0000.nii.gz").is_file()  # shipped test list applied


@pytest.mark.skipif(not LA_H5_ROOT.is_dir(), reason="real LA h5 data (shared/data) not available")
def test_la_real_data_spawned_verify(tmp_path, nnunet_dirs, verify_spawned):
    # the two smallest real cases, linked (not copied) into the release layout, plus the real train.list
    folder = tmp_path / "2018LA_Seg_Training Set"
    folder.mkdir()
    for case in ("8M99G0JLAXG9GLPV0O8G", "FGM5NIWN3URY4HF4WNUW"):
        (folder / case).symlink_to(LA_H5_ROOT / "2018LA_Seg_Training Set" / case)
    shutil.copy(LA_H5_ROOT / "train.list", tmp_path / "train.list")
    out = convert_la(tmp_path)
    verify_spawned(out)  # nnU-Net's check with its real spawned pool
    image = sitk.ReadImage(str(out / "imagesTr" / "la_8M99G0JLAXG9GLPV0O8G_0000.nii.gz"))
    assert image.GetSize()[2] == 88  # z is always 88 in the h5 release
    assert json.loads((out / "dataset.json").read_text())["numTraining"] == 2


@pytest.mark.skipif(not LA_H5_ROOT.is_dir(), reason="real LA h5 data (shared/data) not available")
def test_la_real_plan_and_preprocess_SLOW(tmp_path, nnunet_dirs, monkeypatch):
    """SLOW (~30 s on 2 cores): stock `nnUNetv2_plan_and_preprocess -d 901 -c 3d_fullres -np 1` on two converted
    real LA cases, run in-process through nnU-Net's own entry point (a subprocess would add ~20 s of imports)."""
    from nnunetv2.experiment_planning.plan_and_preprocess_entrypoints import plan_and_preprocess_entry

    folder = tmp_path / "in" / "2018LA_Seg_Training Set"
    folder.mkdir(parents=True)
    for case in ("8M99G0JLAXG9GLPV0O8G", "FGM5NIWN3URY4HF4WNUW"):
        (folder / case).symlink_to(LA_H5_ROOT / "2018LA_Seg_Training Set" / case)
    convert_la(tmp_path / "in")
    monkeypatch.setattr("sys.argv", ["nnUNetv2_plan_and_preprocess", "-d", "901", "-c", "3d_fullres", "-np", "1"])
    plan_and_preprocess_entry()
    pre = nnunet_dirs["nnUNet_preprocessed"] / "Dataset901_LA2018"
    plans = json.loads((pre / "nnUNetPlans.json").read_text())
    assert plans["configurations"]["3d_fullres"]["spacing"] == pytest.approx([0.625, 0.625, 0.625])
    assert len(list((pre / "nnUNetPlans_3d_fullres").glob("la_*"))) >= 2
