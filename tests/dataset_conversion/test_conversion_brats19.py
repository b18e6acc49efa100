import json

import numpy as np
import pytest
import SimpleITK as sitk

from conversion_fakes import make_brats19, write_nifti
from conversion_fixtures import nnunet_dirs, verify  # noqa: F401 (pytest fixtures)
from nnunetv2_pscm.dataset_conversion.common import ConversionError
from nnunetv2_pscm.dataset_conversion.Dataset941_BraTS19 import convert_brats19


def test_brats19_regions(tmp_path, nnunet_dirs, verify):
    base = make_brats19(tmp_path)
    out = convert_brats19(base)
    assert out.name == "Dataset941_BraTS19"
    verify(out)
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["channel_names"] == {"0": "T1", "1": "T1ce", "2": "T2", "3": "Flair"}
    assert meta["regions_class_order"] == [1, 2, 3] and meta["labels"]["whole_tumor"] == [1, 2, 3]
    seg = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "labelsTr" / "BraTS19_2013_2_1.nii.gz")))
    assert sorted(np.unique(seg)) == [0, 1, 2, 3]  # 2 -> 1, 1 -> 2, 4 -> 3
    assert seg[3, 3, 3] == 3 and seg[3, 3, 4] == 2 and seg[2, 2, 2] == 1  # (z, y, x) of nibabel (4, 3, 3) etc.
    flair = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "imagesTr" / "BraTS19_2013_2_1_0003.nii.gz")))
    assert np.all(flair == 4)  # channel order t1, t1ce, t2, flair
    grades = json.loads((out / "brats19_metadata.json").read_text())
    assert grades["BraTS19_TCIA02_309_1"]["grade"] == "LGG"


def test_brats19_wt_flair_with_held_out_test(tmp_path, nnunet_dirs, verify):
    base = make_brats19(tmp_path, ending=".nii")  # uncompressed files are accepted too
    out = convert_brats19(base, task="wt", hold_out_test="BraTS19-25")
    assert out.name == "Dataset942_BraTS19_WT_FLAIR"
    verify(out)
    assert sorted(p.name for p in (out / "imagesTr").iterdir()) == ["BraTS19_2013_2_1_0000.nii.gz",
                                                                   "BraTS19_TCIA02_370_1_0000.nii.gz"]
    assert (out / "labelsTs" / "BraTS19_TCIA02_309_1.nii.gz").is_file()  # in the SSL4MIS test list
    seg = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "labelsTr" / "BraTS19_2013_2_1.nii.gz")))
    assert sorted(np.unique(seg)) == [0, 1]


def test_brats19_unexpected_label(tmp_path, nnunet_dirs):
    base = make_brats19(tmp_path)
    seg = np.zeros((8, 9, 7), np.uint8)
    seg[1, 1, 1] = 3
    write_nifti(seg, base / "HGG" / "BraTS19_2013_2_1" / "BraTS19_2013_2_1_seg.nii.gz")
    with pytest.raises(ConversionError, match=r"BraTS19_2013_2_1_seg.nii.gz: unexpected label value\(s\) \[3\]"):
        convert_brats19(base)
    assert list(nnunet_dirs["nnUNet_raw"].iterdir()) == []
