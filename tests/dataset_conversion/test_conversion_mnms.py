import json

import numpy as np
import pytest
import SimpleITK as sitk

from conversion_fakes import make_mnms
from conversion_fixtures import nnunet_dirs, verify  # noqa: F401 (pytest fixtures)
from nnunetv2_pscm.dataset_conversion.common import ConversionError
from nnunetv2_pscm.dataset_conversion.Dataset931_MNMs import convert_mnms


def test_mnms_frames_vendors_unlabeled(tmp_path, nnunet_dirs, verify):
    make_mnms(tmp_path, ed=0, es=7)
    out = convert_mnms(tmp_path)
    assert out.name == "Dataset931_MNMs"
    verify(out)
    assert sorted(p.name for p in (out / "labelsTr").iterdir()) == [
        "A0S9V9_frame00.nii.gz", "A0S9V9_frame07.nii.gz", "B1C2D3_frame00.nii.gz", "B1C2D3_frame07.nii.gz"]
    assert sorted(p.name for p in (out / "imagesUnlabeled").iterdir()) == ["C7X8Y9_frame00_0000.nii.gz",
                                                                          "C7X8Y9_frame07_0000.nii.gz"]
    assert (out / "labelsTs" / "D4E5F6_frame07.nii.gz").is_file()
    meta = json.loads((out / "mnms_metadata.json").read_text())
    assert meta["B1C2D3_frame07"] == {"code": "B1C2D3", "frame": 7, "phase": "ES", "subset": "Training/Labeled",
                                      "vendor": "B", "vendor_name": "Philips", "centre": "2"}
    image = sitk.ReadImage(str(out / "imagesTr" / "A0S9V9_frame07_0000.nii.gz"))
    assert image.GetSize() == (12, 11, 4) and image.GetSpacing() == pytest.approx((1.3, 1.3, 9.0), rel=1e-3)
    label = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "labelsTr" / "A0S9V9_frame07.nii.gz")))
    assert sorted(np.unique(label)) == [0, 1, 2, 3]


def test_mnms_all_unlabeled_frames_and_missing_csv_row(tmp_path, nnunet_dirs):
    base = make_mnms(tmp_path)
    out = convert_mnms(base, unlabeled_frames="all")
    assert len(list((out / "imagesUnlabeled").iterdir())) == 9  # every cine frame
    csv = next(base.glob("*.csv"))
    csv.write_text("\n".join(l for l in csv.read_text().splitlines() if "C7X8Y9" not in l) + "\n")
    with pytest.raises(ConversionError, match=r"C7X8Y9 .* is not in .*csv.*--unlabeled-frames all"):
        convert_mnms(base, overwrite=True)


def test_mnms_frame_geometry_matches_simpleitk(tmp_path):
    """For a well-formed affine our nibabel-based geometry equals what SimpleITK reads from the same NIfTI."""
    import nibabel as nib

    from nnunetv2_pscm.dataset_conversion.Dataset931_MNMs import _frame_geometry

    angle = 0.3
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag([1.2, 1.4, 8.0])
    affine[:3, 3] = [5, -7, 11]
    nib.save(nib.Nifti1Image(np.zeros((4, 5, 3), np.int16), affine), str(tmp_path / "x.nii.gz"))
    reference = sitk.ReadImage(str(tmp_path / "x.nii.gz"))
    spacing, origin, direction = _frame_geometry(affine)
    assert spacing == pytest.approx(reference.GetSpacing())
    assert origin == pytest.approx(reference.GetOrigin())
    assert direction == pytest.approx(reference.GetDirection(), abs=1e-6)
