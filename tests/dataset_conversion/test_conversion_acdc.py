import json

import numpy as np
import pytest
import SimpleITK as sitk

from conversion_fakes import make_acdc_h5, make_acdc_original, write_nifti
from conversion_fixtures import nnunet_dirs, verify  # noqa: F401 (pytest fixtures)
from nnunetv2_pscm.data.presets import get_preset_split
from nnunetv2_pscm.dataset_conversion.common import ConversionError
from nnunetv2_pscm.dataset_conversion.Dataset921_ACDC import convert_acdc


def test_acdc_original(tmp_path, nnunet_dirs, verify):
    make_acdc_original(tmp_path, ed=1, es=5)
    out = convert_acdc(tmp_path)  # finds database/ below the input folder
    assert out.name == "Dataset921_ACDC"
    verify(out)
    assert sorted(p.name for p in (out / "labelsTr").iterdir()) == [
        "patient001_frame01.nii.gz", "patient001_frame05.nii.gz", "patient002_frame01.nii.gz",
        "patient002_frame05.nii.gz"]
    assert (out / "imagesTs" / "patient101_frame05_0000.nii.gz").is_file()
    assert (out / "labelsTs" / "patient101_frame01.nii.gz").is_file()
    assert not any("4d" in p.name for p in (out / "imagesTr").iterdir())
    meta = json.loads((out / "acdc_metadata.json").read_text())
    assert meta["patient001_frame05"]["phase"] == "ES" and meta["patient001_frame05"]["group"] == "DCM"
    spacing = sitk.ReadImage(str(out / "imagesTr" / "patient001_frame01_0000.nii.gz")).GetSpacing()
    assert spacing == pytest.approx((1.5, 1.5, 10.0))


def test_acdc_original_errors_name_the_file(tmp_path, nnunet_dirs):
    database = make_acdc_original(tmp_path, training=("patient001",), testing=())
    gt = database / "training" / "patient001" / "patient001_frame05_gt.nii.gz"
    write_nifti(np.full((9, 8, 4), 7, np.uint8), gt, np.diag([1.5, 1.5, 10.0, 1.0]))
    with pytest.raises(ConversionError, match=r"patient001_frame05_gt.nii.gz: unexpected label value\(s\) \[7\]"):
        convert_acdc(tmp_path)
    (database / "training" / "patient001" / "Info.cfg").write_text("Group: NOR\n")
    with pytest.raises(ConversionError, match=r"Info.cfg: no integer 'ED:'"):
        convert_acdc(tmp_path)


def test_acdc_ssl4mis_h5_and_preset(tmp_path, nnunet_dirs, verify):
    acdc = make_acdc_h5(tmp_path)
    out = convert_acdc(acdc)
    assert out.name == "Dataset922_ACDC_SSL4MIS_h5"
    verify(out)
    image = sitk.ReadImage(str(out / "imagesTr" / "patient099_frame01_0000.nii.gz"))
    assert image.GetSize() == (8, 9, 4) and image.GetSpacing() == pytest.approx((1, 1, 10))  # (Z, H, W) h5
    assert sorted(p.name for p in (out / "labelsTs").iterdir()) == ["patient011_frame01.nii.gz",
                                                                   "patient011_frame02.nii.gz"]
    assert not any("slice" in p.name for p in (out / "imagesTr").iterdir())
    # the fake has only a few patients: the preset names the missing ones
    case_ids = sorted(p.name[:-12] for p in (out / "imagesTr").iterdir())
    with pytest.raises(ValueError, match="ACDC-3"):
        get_preset_split("ACDC-3", case_ids)
