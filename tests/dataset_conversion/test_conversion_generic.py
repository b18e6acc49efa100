import json

import numpy as np
import pytest
import SimpleITK as sitk

from conversion_fakes import PYRADIOMICS_CASES, blob, write_sitk
from conversion_fixtures import nnunet_dirs, verify  # noqa: F401 (pytest fixtures)
from nnunetv2_pscm.cli.convert import convert_generic as generic_cli
from nnunetv2_pscm.dataset_conversion.common import ConversionError
from nnunetv2_pscm.dataset_conversion.generic import convert_generic, pattern_to_regex

SHAPE = (5, 8, 7)  # z, y, x


def _pairs(folder, cases, label_value=1, image_suffix="_image.nrrd", label_suffix="_label.nrrd", spacing=(0.7, 0.7, 2.0)):
    for case in cases:
        write_sitk(np.random.default_rng(1).normal(size=SHAPE).astype(np.float32), folder / f"{case}{image_suffix}", spacing)
        if label_suffix:
            write_sitk(blob(SHAPE, label_value), folder / f"{case}{label_suffix}", spacing)


def test_pattern_regex():
    regex = pattern_to_regex("{case}/{case}_t1*.nii.gz")
    assert regex.match("BraTS_1/BraTS_1_t1ce.nii.gz").group("case") == "BraTS_1"
    assert regex.match("BraTS_1/BraTS_2_t1.nii.gz") is None  # the second {case} must repeat the first
    with pytest.raises(ConversionError, match="placeholder"):
        pattern_to_regex("images/*.nii.gz")


def test_generic_pairs_auto_layout_with_unlabeled(tmp_path, nnunet_dirs, verify):
    _pairs(tmp_path / "cases", ["a 1", "b2"])  # a space in a case name becomes '_'
    _pairs(tmp_path / "more", ["u1"], label_suffix=None)
    out = convert_generic(tmp_path / "cases", 500, "Mine", unlabeled_root=tmp_path / "more",
                          unlabeled_patterns=["{case}_image.nrrd"])
    verify(out)
    assert sorted(p.name for p in (out / "imagesTr").iterdir()) == ["a_1_0000.nii.gz", "b2_0000.nii.gz"]
    assert [p.name for p in (out / "imagesUnlabeled").iterdir()] == ["u1_0000.nii.gz"]
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["labels"] == {"background": 0, "label_1": 1} and meta["numUnlabeled"] == 1
    assert sitk.ReadImage(str(out / "imagesTr" / "b2_0000.nii.gz")).GetSpacing() == pytest.approx((0.7, 0.7, 2.0))


def test_generic_multichannel_label_map_and_test_folder(tmp_path, nnunet_dirs, verify):
    for root, cases in ((tmp_path / "train", ["c1", "c2"]), (tmp_path / "test", ["t1"])):
        for case in cases:
            for modality in ("t1", "flair"):
                write_sitk(np.ones(SHAPE, np.int16), root / case / f"{case}_{modality}.nii.gz")
            write_sitk(blob(SHAPE, 4), root / case / f"{case}_seg.nii.gz")
    out = convert_generic(tmp_path / "train", 501, "Multi",
                          image_patterns=["{case}/{case}_t1.nii.gz", "{case}/{case}_flair.nii.gz"],
                          label_pattern="{case}/{case}_seg.nii.gz", channel_names=["T1", "FLAIR"],
                          label_names=["tumour"], label_map={4: 1}, test_root=tmp_path / "test")
    verify(out)
    assert (out / "imagesTr" / "c1_0001.nii.gz").is_file() and (out / "labelsTs" / "t1.nii.gz").is_file()
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["channel_names"] == {"0": "T1", "1": "FLAIR"} and meta["labels"]["tumour"] == 1


def test_generic_4d_file_split_into_channels(tmp_path, nnunet_dirs, verify):
    image = sitk.JoinSeries([sitk.GetImageFromArray(np.full(SHAPE, v, np.float32)) for v in (1, 2)])
    (tmp_path / "images").mkdir()
    sitk.WriteImage(image, str(tmp_path / "images" / "x.nii.gz"))
    write_sitk(blob(SHAPE), tmp_path / "labels" / "x.nii.gz")
    out = convert_generic(tmp_path, 502, "FourD", channel_names=["A", "B"])  # layout images/ + labels/ recognised
    verify(out)
    second = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "imagesTr" / "x_0001.nii.gz")))
    assert second.shape == SHAPE and np.all(second == 2)


def test_generic_dry_run_writes_nothing_and_reports(tmp_path, nnunet_dirs, capsys):
    _pairs(tmp_path, ["ok", "bad"])
    write_sitk(blob((5, 8, 6)), tmp_path / "bad_label.nrrd", (0.7, 0.7, 2.0))  # wrong shape
    generic_cli(["-i", str(tmp_path), "--dry-run", "--image-pattern", "{case}_image.nrrd",
                 "--label-pattern", "{case}_label.nrrd"])
    text = capsys.readouterr().out
    assert "2 labeled -> imagesTr/labelsTr" in text and "ok_image.nrrd -> imagesTr/ok_0000.nii.gz" in text
    assert "Image/label shape mismatch" in text and "bad_label.nrrd" in text
    assert list(nnunet_dirs["nnUNet_raw"].iterdir()) == []


def test_generic_clear_errors(tmp_path, nnunet_dirs, capsys):
    _pairs(tmp_path / "a", ["x"], label_value=255)
    with pytest.raises(ConversionError, match=r"not consecutive.*--label-map 255=1"):
        convert_generic(tmp_path / "a", 503)
    assert list(nnunet_dirs["nnUNet_raw"].iterdir()) == []  # the staged folder was removed
    _pairs(tmp_path / "b", ["x"])
    _pairs(tmp_path / "b", ["y"], label_suffix=None)
    with pytest.raises(ConversionError, match=r"1 image\(s\) have no label.*y_image.nrrd"):
        convert_generic(tmp_path / "b", 503, image_patterns=["{case}_image.nrrd"], label_pattern="{case}_label.nrrd")
    _pairs(tmp_path / "c", ["x"])
    write_sitk(blob(SHAPE), tmp_path / "c" / "x_label.nrrd", (0.7, 0.7, 3.0))
    with pytest.raises(ConversionError, match=r"spacing mismatch.*x_image.nrrd.*x_label.nrrd"):
        convert_generic(tmp_path / "c", 503)
    with pytest.raises(SystemExit):
        generic_cli(["-i", str(tmp_path / "c")])
    assert "Choose a dataset id" in capsys.readouterr().err


@pytest.mark.skipif(not (PYRADIOMICS_CASES / "breast1_image.nrrd").is_file(), reason="shared/data not available")
def test_generic_real_pyradiomics_breast(tmp_path, nnunet_dirs, verify):
    for part in ("image", "label"):  # link, never copy, the real files
        (tmp_path / f"breast1_{part}.nrrd").symlink_to(PYRADIOMICS_CASES / f"breast1_{part}.nrrd")
    out = convert_generic(tmp_path, 504, "Breast", channel_names=["MRI"], label_names=["lesion"])
    verify(out)
    original = sitk.ReadImage(str(PYRADIOMICS_CASES / "breast1_image.nrrd"))
    converted = sitk.ReadImage(str(out / "imagesTr" / "breast1_0000.nii.gz"))
    assert converted.GetSize() == original.GetSize()
    assert converted.GetSpacing() == pytest.approx(original.GetSpacing(), rel=1e-5)
    label = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "labelsTr" / "breast1.nii.gz")))
    assert int(label.sum()) == 143  # the real mask's foreground voxel count
