from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from conversion_fakes import make_pancreas_coranet, make_pancreas_dicom, make_pancreas_mcnet, write_nifti
from conversion_fixtures import nnunet_dirs, verify  # noqa: F401 (pytest fixtures)
from nnunetv2_pscm.dataset_conversion.common import ConversionError
from nnunetv2_pscm.dataset_conversion.Dataset911_NIHPancreas import convert_pancreas

pytest.importorskip("pydicom")


@pytest.mark.parametrize("reversed_instances", [False, True])
def test_pancreas_dicom_overlay_and_orientation(tmp_path, nnunet_dirs, verify, reversed_instances):
    make_pancreas_dicom(tmp_path, "0001", reversed_instances=reversed_instances, marker=(1, 2, 3))
    out = convert_pancreas(tmp_path)
    assert out.name == "Dataset911_NIHPancreas"
    verify(out)
    image = sitk.ReadImage(str(out / "imagesTr" / "pancreas_0001_0000.nii.gz"))
    label = sitk.ReadImage(str(out / "labelsTr" / "pancreas_0001.nii.gz"))
    # overlay: the mask voxel sits exactly on the bright marker pixel (voxel correspondence)
    image_array, label_array = sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(label)
    assert np.argwhere(label_array == 1).tolist() == [[1, 2, 3]]
    assert image_array[1, 2, 3] == 2000 and image_array.min() == -100  # Hounsfield units (intercept applied)
    # orientation: that voxel lies where the DICOM headers put it (slice with InstanceNumber 2, row 2, column 3)
    z_of_instance_2 = 99.0 if reversed_instances else 101.0
    assert image.TransformIndexToPhysicalPoint((3, 2, 1)) == pytest.approx((-50 + 3 * 0.7, -40 + 2 * 0.8,
                                                                            z_of_instance_2))
    assert image.GetSpacing() == pytest.approx((0.7, 0.8, 1.0))
    assert label.GetOrigin() == pytest.approx(image.GetOrigin())
    assert label.GetDirection() == pytest.approx(image.GetDirection())


def test_pancreas_dicom_hold_out_and_errors(tmp_path, nnunet_dirs, verify):
    make_pancreas_dicom(tmp_path, "0057")  # in the MC-Net train list
    make_pancreas_dicom(tmp_path, "0050")  # in the MC-Net test list
    out = convert_pancreas(tmp_path, hold_out_test="Pancreas-6")
    verify(out)
    assert (out / "imagesTr" / "pancreas_0057_0000.nii.gz").is_file()
    assert (out / "labelsTs" / "pancreas_0050.nii.gz").is_file()

    broken = next((tmp_path / "Pancreas-CT" / "PANCREAS_0057").rglob("1-004.dcm"))
    broken.write_bytes(b"not a dicom file")
    with pytest.raises(ConversionError, match=r"Unreadable DICOM file .*1-004.dcm"):
        convert_pancreas(tmp_path, overwrite=True)
    broken.unlink()  # the last slice missing: shape mismatch naming both
    with pytest.raises(ConversionError, match=r"shape mismatch: DICOM series in .*PANCREAS_0057.*label0057.nii.gz"):
        convert_pancreas(tmp_path, overwrite=True)
    gap = make_pancreas_dicom(tmp_path / "gap", "0002", n=5)
    next(gap.rglob("1-003.dcm")).unlink()  # a slice missing inside the series
    with pytest.raises(ConversionError, match=r"PANCREAS_0002.*not evenly spaced"):
        convert_pancreas(gap, overwrite=True)
    assert [p.name for p in nnunet_dirs["nnUNet_raw"].iterdir()] == ["Dataset911_NIHPancreas"]  # old one kept


def test_pancreas_mcnet_h5_float_labels(tmp_path, nnunet_dirs, verify):
    base = make_pancreas_mcnet(tmp_path, shape=(9, 8, 6))
    out = convert_pancreas(base)
    assert out.name == "Dataset912_NIHPancreas_MCNet_h5"
    verify(out)
    assert sorted(p.name for p in (out / "labelsTr").iterdir()) == ["pancreas_0018.nii.gz", "pancreas_0057.nii.gz"]
    assert (out / "labelsTs" / "pancreas_0050.nii.gz").is_file()
    image = sitk.ReadImage(str(out / "imagesTr" / "pancreas_0057_0000.nii.gz"))
    assert image.GetSize() == (9, 8, 6) and image.GetSpacing() == (1.0, 1.0, 1.0)  # (x, y, z) h5
    label = sitk.ReadImage(str(out / "labelsTr" / "pancreas_0057.nii.gz"))
    assert label.GetPixelID() == sitk.sitkUInt8


def test_pancreas_h5_non_binary_label_rejected(tmp_path, nnunet_dirs):
    from conversion_fakes import write_h5
    base = make_pancreas_mcnet(tmp_path)
    write_h5(base / "Pancreas_h5" / "image0018_norm.h5", image=np.zeros((4, 4, 4), np.float32),
             label=np.full((4, 4, 4), 0.5, np.float32))
    with pytest.raises(ConversionError, match=r"image0018_norm.h5 \(key 'label'\): label contains non-integer"):
        convert_pancreas(base)


def test_pancreas_coranet(tmp_path, nnunet_dirs, verify):
    make_pancreas_coranet(tmp_path)
    out = convert_pancreas(tmp_path)
    assert out.name == "Dataset913_NIHPancreas_CoraNet_h5"
    verify(out)
    assert sorted(p.name for p in (out / "labelsTr").iterdir()) == ["pancreas_0001.nii.gz", "pancreas_0013.nii.gz"]
    assert [p.name for p in (out / "labelsTs").iterdir()] == ["pancreas_0064.nii.gz"]


def test_pancreas_dicom_real_series_matches_geometric_reader(tmp_path, nnunet_dirs):
    """pydicom's bundled real 5-slice CT series (InstanceNumber 6..10 runs towards -z): our InstanceNumber-ordered
    volume must be the same physical image as SimpleITK/GDCM's position-sorted series read."""
    import shutil

    from pydicom.data import get_testdata_file

    series = Path(get_testdata_file("DICOMDIR")).parent / "98892001" / "CT5N"
    if not series.is_dir():
        pytest.skip("pydicom test series CT5N not installed")
    target = tmp_path / "Pancreas-CT" / "PANCREAS_0003" / "study" / "series"
    shutil.copytree(series, target)
    label = np.zeros((16, 16, 5), np.uint8)
    label[4, 9, 0] = 1  # column 4, row 9 of the slice with the lowest InstanceNumber (6)
    write_nifti(label, tmp_path / "labels" / "label0003.nii.gz", np.diag([0.488281, 0.488281, 2.5, 1]))
    out = convert_pancreas(tmp_path)
    ours = sitk.ReadImage(str(out / "imagesTr" / "pancreas_0003_0000.nii.gz"))
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(target)))
    reference = reader.Execute()
    resampled = sitk.Resample(ours, reference, sitk.Transform(), sitk.sitkNearestNeighbor, -5000, ours.GetPixelID())
    np.testing.assert_array_equal(sitk.GetArrayFromImage(resampled), sitk.GetArrayFromImage(reference))
    ours_label = sitk.ReadImage(str(out / "labelsTr" / "pancreas_0003.nii.gz"))
    point = ours_label.TransformIndexToPhysicalPoint((4, 9, 0))
    assert point[2] == pytest.approx(8.7625, abs=1e-3)  # z of InstanceNumber 6 (ImagePositionPatient)
