import json

import numpy as np
import pytest

from conversion_fakes import make_amos, write_nifti
from conversion_fixtures import nnunet_dirs, verify  # noqa: F401 (pytest fixtures)
from nnunetv2_pscm.dataset_conversion.common import ConversionError
from nnunetv2_pscm.dataset_conversion.Dataset951_AMOS2022 import convert_amos


def _ids(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_amos_ct_only(tmp_path, nnunet_dirs, verify):
    make_amos(tmp_path)
    out = convert_amos(tmp_path)  # finds amos22/ below the input folder
    assert out.name == "Dataset951_AMOS2022_CT"
    verify(out)
    assert _ids(out / "labelsTr") == ["amos_0001.nii.gz", "amos_0004.nii.gz"]  # Tr + Va, CT ids only
    assert _ids(out / "imagesTs") == ["amos_0005_0000.nii.gz"]
    assert _ids(out / "imagesUnlabeled") == ["amos_0700_0000.nii.gz"]
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["channel_names"] == {"0": "CT"} and meta["overwrite_image_reader_writer"] == "NibabelIOWithReorient"
    assert len(meta["labels"]) == 16 and meta["labels"]["aorta"] == 8


@pytest.mark.parametrize("modality, expected, channel", [("MRI", ["amos_0507.nii.gz", "amos_0540.nii.gz"], "MRI"),
                                                         ("both", 4, "CT_or_MRI")])
def test_amos_mri_and_both(tmp_path, nnunet_dirs, verify, modality, expected, channel):
    make_amos(tmp_path)
    out = convert_amos(tmp_path / "amos22", modality=modality)
    verify(out)
    labels = _ids(out / "labelsTr")
    assert labels == expected if isinstance(expected, list) else len(labels) == expected
    assert json.loads((out / "dataset.json").read_text())["channel_names"] == {"0": channel}


def test_amos_bad_label_value(tmp_path, nnunet_dirs):
    amos = make_amos(tmp_path)
    write_nifti(np.full((7, 6, 5), 16, np.uint8), amos / "labelsTr" / "amos_0001.nii.gz", np.diag([1.5, 1.5, 3, 1]))
    with pytest.raises(ConversionError, match=r"labelsTr/amos_0001.nii.gz: unexpected label value\(s\) \[16\]"):
        convert_amos(amos)
