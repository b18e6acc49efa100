"""Sources whose voxels cannot be trusted: truncated files (SimpleITK fills the missing part of a .nii.gz with
zeros without a word) and NaN/Inf voxels (refused unless --replace-nonfinite VALUE says what to write)."""
import json
import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from conversion_fakes import (
    blob, make_acdc_h5, make_acdc_original, make_amos, make_brats19, make_la_h5, make_mnms, make_msd,
    make_pancreas_dicom, make_pancreas_mcnet, write_h5, write_nifti, write_sitk,
)
from conversion_fixtures import nnunet_dirs  # noqa: F401 (pytest fixtures)
from nnunetv2_pscm.cli.convert import convert_generic as generic_cli, convert_LA as la_cli
from nnunetv2_pscm.dataset_conversion.common import TMP_PREFIX, ConversionError
from nnunetv2_pscm.dataset_conversion.Dataset901_LA2018 import convert_la
from nnunetv2_pscm.dataset_conversion.Dataset911_NIHPancreas import convert_pancreas
from nnunetv2_pscm.dataset_conversion.Dataset921_ACDC import convert_acdc
from nnunetv2_pscm.dataset_conversion.Dataset931_MNMs import convert_mnms
from nnunetv2_pscm.dataset_conversion.Dataset941_BraTS19 import convert_brats19
from nnunetv2_pscm.dataset_conversion.Dataset951_AMOS2022 import convert_amos
from nnunetv2_pscm.dataset_conversion.Dataset960_MSD import convert_msd
from nnunetv2_pscm.dataset_conversion.generic import convert_generic

SHAPE = (12, 16, 20)  # z, y, x: big enough that a cut-off .nii.gz still has a readable header
PATTERNS = ["--image-pattern", "{case}_image.nii.gz", "--label-pattern", "{case}_label.nii.gz"]


def _truncate(path, keep=0.75):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _nifti_pairs(folder, cases, ending=".nii.gz"):
    for case in cases:
        write_sitk(np.random.default_rng(2).normal(size=SHAPE).astype(np.float32), folder / f"{case}_image{ending}")
        write_sitk(blob(SHAPE), folder / f"{case}_label{ending}")


def _raw_is_empty(nnunet_dirs):
    return list(nnunet_dirs["nnUNet_raw"].iterdir()) == []


# ------------------------------------------------------------------------------------------ truncated files
def test_truncated_nifti_fails_the_cli_with_verify_naming_the_file(tmp_path, nnunet_dirs, capsys):
    _nifti_pairs(tmp_path, ["good", "cut"])
    truncated = tmp_path / "cut_image.nii.gz"
    _truncate(truncated)
    assert sitk.GetArrayFromImage(sitk.ReadImage(str(truncated))).shape == SHAPE  # SimpleITK alone does not notice
    with pytest.raises(SystemExit) as exit_info:
        generic_cli(["-i", str(tmp_path), "-d", "500", "--verify", "-np", "1", *PATTERNS])
    assert exit_info.value.code == 1
    error = capsys.readouterr().err
    assert f"{truncated} is truncated or corrupt" in error and "Download or extract it again" in error
    assert _raw_is_empty(nnunet_dirs)  # no DatasetNNN_* and no temporary folder either


def test_truncated_uncompressed_nifti_is_refused(tmp_path, nnunet_dirs):
    _nifti_pairs(tmp_path, ["cut"], ending=".nii")
    _truncate(tmp_path / "cut_label.nii")
    with pytest.raises(ConversionError, match=r"cut_label\.nii is truncated: its header announces \d+ bytes"):
        convert_generic(tmp_path, 500, image_patterns=["{case}_image.nii"], label_pattern="{case}_label.nii")
    assert _raw_is_empty(nnunet_dirs)


def test_truncated_source_keeps_the_dataset_it_would_overwrite(tmp_path, nnunet_dirs):
    old = nnunet_dirs["nnUNet_raw"] / "Dataset500_Mine"
    old.mkdir()
    (old / "marker").write_text("the previous conversion")
    _nifti_pairs(tmp_path / "Mine", ["a", "b"])
    _truncate(tmp_path / "Mine" / "b_label.nii.gz")
    with pytest.raises(ConversionError, match="b_label.nii.gz is truncated"):
        convert_generic(tmp_path / "Mine", 500, overwrite=True, image_patterns=["{case}_image.nii.gz"],
                        label_pattern="{case}_label.nii.gz")
    assert [p.name for p in nnunet_dirs["nnUNet_raw"].iterdir()] == ["Dataset500_Mine"]
    assert (old / "marker").read_text() == "the previous conversion"
    assert not any(p.name.startswith(TMP_PREFIX) for p in nnunet_dirs["nnUNet_raw"].iterdir())


def _msd(tmp_path):
    return convert_msd, make_msd(tmp_path), "imagesTr/lung_003.nii.gz"  # a 3-D image, copied unchanged


def _amos(tmp_path):
    return convert_amos, make_amos(tmp_path), "imagesTr/amos_0001.nii.gz"  # copied unchanged


def _mnms(tmp_path):
    return convert_mnms, make_mnms(tmp_path), "Training/Labeled/A0S9V9/A0S9V9_sa.nii.gz"  # read frame by frame


def _brats(tmp_path):
    base = make_brats19(tmp_path)
    flair = "HGG/BraTS19_2013_2_1/BraTS19_2013_2_1_flair.nii.gz"
    # noise, so that the header survives the cut and SimpleITK would read the file zero-filled
    write_nifti(np.random.default_rng(7).integers(0, 900, (8, 9, 7)).astype(np.int16), base / flair)
    return convert_brats19, base, flair


def _acdc(tmp_path):
    return convert_acdc, make_acdc_original(tmp_path), "training/patient002/patient002_frame05.nii.gz"


def _pancreas_label(tmp_path):
    root = make_pancreas_dicom(tmp_path, "0001")
    return convert_pancreas, root, "TCIA_pancreas_labels-02-05-2017/label0001.nii.gz"


@pytest.mark.parametrize("make", [_msd, _amos, _mnms, _brats, _acdc, _pancreas_label])
def test_truncated_nifti_source_of_each_converter(tmp_path, nnunet_dirs, make):
    convert, root, relative = make(tmp_path)
    _truncate(root / relative, keep=0.6)
    with pytest.raises(ConversionError, match=re.escape(f"{root / relative} is truncated")):
        convert(root)
    assert _raw_is_empty(nnunet_dirs)


# ------------------------------------------------------------------------------------------ NaN / Inf voxels
def _spoil(array):
    """Two NaN and one Inf voxel; returns where they are."""
    spoiled = np.zeros(array.shape, bool)
    spoiled.flat[[0, 7, 11]] = True
    array.flat[[0, 7]] = np.nan
    array.flat[11] = np.inf
    return spoiled


def _la_with_nan(tmp_path):
    make_la_h5(tmp_path, ["A" * 20, "B" * 20], [])
    h5 = tmp_path / "2018LA_Seg_Training Set" / ("B" * 20) / "mri_norm2.h5"
    image = np.random.default_rng(3).normal(size=(10, 9, 6)).astype(np.float32)
    spoiled = _spoil(image)
    write_h5(h5, image=image, label=blob(image.shape))
    return convert_la, tmp_path, h5, f"la_{'B' * 20}", image, spoiled


def _pancreas_h5_with_nan(tmp_path):
    base = make_pancreas_mcnet(tmp_path)
    h5 = base / "Pancreas_h5" / "image0018_norm.h5"
    image = np.random.default_rng(3).normal(size=(9, 8, 6)).astype(np.float32)
    _spoil(image)
    write_h5(h5, image=image, label=blob(image.shape, 1.0, np.float32))
    return convert_pancreas, base, h5, "pancreas_0018", image, None


def _acdc_h5_with_nan(tmp_path):
    acdc = make_acdc_h5(tmp_path)
    h5 = acdc / "data" / "patient038_frame02.h5"
    image = np.random.default_rng(3).random((4, 9, 8)).astype(np.float32)
    _spoil(image)
    write_h5(h5, image=image, label=blob(image.shape))
    return convert_acdc, acdc, h5, "patient038_frame02", image, None


@pytest.mark.parametrize("make", [_la_with_nan, _pancreas_h5_with_nan, _acdc_h5_with_nan])
def test_nonfinite_h5_image_is_refused_naming_case_file_and_count(tmp_path, nnunet_dirs, make):
    convert, root, h5, case, image, _ = make(tmp_path)
    expected = (f"{h5} (key 'image') (case {case}): 3 of {image.size} voxels are not finite (2 NaN, 1 Inf). "
                f"Fix the file, or pass --replace-nonfinite VALUE")
    with pytest.raises(ConversionError, match=re.escape(expected)):
        convert(root)
    assert _raw_is_empty(nnunet_dirs)


def test_nonfinite_h5_image_repaired_with_cli_option(tmp_path, nnunet_dirs, capsys):
    _, root, h5, case, image, spoiled = _la_with_nan(tmp_path)
    la_cli(["-i", str(root), "-np", "1", "--replace-nonfinite", "-2.5"])
    captured = capsys.readouterr()
    assert captured.out.strip().endswith("Dataset901_LA2018")
    assert f"{h5} (key 'image') (case {case}): 3 of {image.size} voxels are not finite" in captured.err
    assert "replaced them with -2.5 (--replace-nonfinite)" in captured.err
    written = sitk.GetArrayFromImage(sitk.ReadImage(str(
        nnunet_dirs["nnUNet_raw"] / "Dataset901_LA2018" / "imagesTr" / f"{case}_0000.nii.gz")))
    expected = np.where(spoiled, -2.5, image).transpose(2, 1, 0)  # h5 is (x, y, z)
    np.testing.assert_array_equal(written, expected)


def _nrrd_with_nan(folder):
    write_sitk(np.random.default_rng(4).normal(size=SHAPE).astype(np.float32), folder / "ok_image.nrrd")
    image = np.random.default_rng(5).normal(size=SHAPE).astype(np.float32)
    spoiled = _spoil(image)
    write_sitk(image, folder / "bad_image.nrrd", (0.7, 0.7, 2.0))
    for case in ("ok", "bad"):
        write_sitk(blob(SHAPE), folder / f"{case}_label.nrrd", (0.7, 0.7, 2.0) if case == "bad" else (1, 1, 1))
    return image, spoiled


def test_nonfinite_nrrd_image_refused_then_repaired(tmp_path, nnunet_dirs, capsys):
    image, spoiled = _nrrd_with_nan(tmp_path)
    source = tmp_path / "bad_image.nrrd"
    with pytest.raises(ConversionError, match=re.escape(f"{source} (case bad): 3 of {image.size} voxels are not finite")):
        convert_generic(tmp_path, 500)
    assert _raw_is_empty(nnunet_dirs)

    generic_cli(["-i", str(tmp_path), "-d", "500", "-np", "1", "--replace-nonfinite", "0"])
    captured = capsys.readouterr()
    assert "replaced them with 0.0 (--replace-nonfinite)" in captured.err
    written = sitk.ReadImage(str(Path(captured.out.strip()) / "imagesTr" / "bad_0000.nii.gz"))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(written), np.where(spoiled, 0, image))
    assert written.GetSpacing() == pytest.approx((0.7, 0.7, 2.0))  # the geometry survives the repair


def test_nonfinite_copied_nifti_refused_then_repaired_keeping_its_header(tmp_path, nnunet_dirs):
    task = make_msd(tmp_path)
    source = task / "imagesTr" / "lung_004.nii.gz"
    image = np.random.default_rng(6).normal(size=(8, 7, 5)).astype(np.float32)  # (x, y, z) as nibabel writes it
    spoiled = _spoil(image)
    affine = np.diag([0.8, 0.8, 2.5, 1.0])
    write_nifti(image, source, affine)
    with pytest.raises(ConversionError, match=re.escape(f"{source} (case lung_004): 3 of 280 voxels are not finite")):
        convert_msd(task)
    assert _raw_is_empty(nnunet_dirs)

    out = convert_msd(task, replace_nonfinite=100)
    written = nib.load(str(out / "imagesTr" / "lung_004_0000.nii.gz"))
    np.testing.assert_array_equal(np.asarray(written.dataobj), np.where(spoiled, 100, image))
    np.testing.assert_allclose(written.affine, affine)


def test_replacement_value_must_be_finite(tmp_path, nnunet_dirs, capsys):
    _nrrd_with_nan(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        generic_cli(["-i", str(tmp_path), "-d", "500", "--replace-nonfinite", "nan"])
    assert exit_info.value.code == 2
    assert "--replace-nonfinite: expected a finite number (e.g. 0), got 'nan'" in capsys.readouterr().err
    with pytest.raises(ConversionError, match="must be a finite number, got inf"):
        convert_generic(tmp_path, 500, replace_nonfinite=float("inf"))
    assert _raw_is_empty(nnunet_dirs)


def test_integer_and_finite_images_are_written_unchanged(tmp_path, nnunet_dirs):
    """The check costs nothing for the common case and never rewrites a finite image."""
    write_sitk(np.arange(np.prod(SHAPE), dtype=np.int16).reshape(SHAPE), tmp_path / "x_image.nrrd")
    write_sitk(blob(SHAPE), tmp_path / "x_label.nrrd")
    out = convert_generic(tmp_path, 500, replace_nonfinite=0)
    written = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "imagesTr" / "x_0000.nii.gz")))
    assert written.dtype == np.int16 and written.ravel().tolist() == list(range(np.prod(SHAPE)))
    assert json.loads((out / "dataset.json").read_text())["numTraining"] == 1
