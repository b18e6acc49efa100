"""Reference and prediction of a case must lie on the same grid: origin and direction, not only shape and spacing.

Tiny SimpleITK-written images: the same array with a flipped direction or a shifted origin is an error naming
the case, both files and both values; float noise far below a voxel is accepted; the opt-out is recorded.
"""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import SimpleITK as sitk

from nnunetv2_pscm.evaluation import EvaluationInputError, evaluate_folders

SPACING = (0.8, 0.9, 2.5)  # SimpleITK order (x, y, z)
ORIGIN = (10.0, -20.0, 30.0)
IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
FLIPPED_X = (-1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
DATASET_JSON = {"labels": {"background": 0, "organ": 1}, "file_ending": ".nii.gz"}


def _mask():
    mask = np.zeros((4, 6, 5), np.uint8)
    mask[1:3, 1:4, 1:3] = 1
    return mask


def write_seg(path, array, origin=ORIGIN, direction=IDENTITY):
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(SPACING)
    image.SetOrigin(origin)
    image.SetDirection(direction)
    sitk.WriteImage(image, str(path))


@pytest.fixture()
def case_folders(tmp_path):
    """One reference case and its prediction (the same array, same geometry); tests rewrite the prediction."""
    ref_dir, pred_dir = tmp_path / "ref", tmp_path / "pred"
    ref_dir.mkdir()
    pred_dir.mkdir()
    write_seg(ref_dir / "case_a.nii.gz", _mask())
    write_seg(pred_dir / "case_a.nii.gz", _mask())
    return ref_dir, pred_dir


def _rotation_about_z(angle):
    c, s = math.cos(angle), math.sin(angle)
    return (c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0)


@pytest.mark.parametrize("reader", ["SimpleITKIO", "NibabelIO"])  # sitk's origin/direction, nibabel's affine
def test_flipped_direction_is_an_error_naming_case_files_and_values(case_folders, reader):
    ref_dir, pred_dir = case_folders
    # same array, other direction: written as is, the prediction lies mirrored in space (the x axis runs backwards)
    write_seg(pred_dir / "case_a.nii.gz", _mask(), direction=FLIPPED_X)
    dataset_json = dict(DATASET_JSON, overwrite_image_reader_writer=reader)
    with pytest.raises(EvaluationInputError) as error:
        evaluate_folders(ref_dir, pred_dir, dataset_json, modes=("voxel",))
    message = str(error.value)
    assert message.startswith("case case_a: direction mismatch, reference ")
    assert str(ref_dir / "case_a.nii.gz") in message and str(pred_dir / "case_a.nii.gz") in message
    assert "\n" not in message and "--ignore_origin_direction" in message
    if reader == "SimpleITKIO":  # values as SimpleITK reports them, reference first
        assert "(1, 0, 0, 0, 1, 0, 0, 0, 1) vs prediction" in message and "(-1, 0, 0, 0, 1, 0, 0, 0, 1)" in message


def test_shifted_origin_is_an_error_naming_case_files_and_values(case_folders):
    ref_dir, pred_dir = case_folders
    write_seg(pred_dir / "case_a.nii.gz", _mask(), origin=(10.4, -20.0, 30.0))  # half a voxel along x
    expected = (r"^case case_a: origin mismatch, reference .*case_a\.nii\.gz \(10, -20, 30\) "
                r"vs prediction .*case_a\.nii\.gz \(10\.4, -20, 30\)")
    with pytest.raises(EvaluationInputError, match=expected):
        evaluate_folders(ref_dir, pred_dir, DATASET_JSON, modes=("voxel",))


def test_float_noise_in_origin_and_direction_is_accepted(case_folders):
    ref_dir, pred_dir = case_folders
    # what float32 headers and other tools leave behind: 1e-5 mm of origin, a rotation of 1e-7 rad
    noisy_origin = (10.0 + 1e-5, -20.0 - 1e-5, 30.0 + 1e-5)
    write_seg(pred_dir / "case_a.nii.gz", _mask(), origin=noisy_origin, direction=_rotation_about_z(1e-7))
    summary = evaluate_folders(ref_dir, pred_dir, DATASET_JSON, modes=("voxel",))
    assert summary["origin_direction_checked"] is True
    assert summary["per_case"][0]["metrics"]["organ"]["voxel"]["dice"] == 1.0


def test_opt_out_skips_origin_and_direction_but_is_recorded(case_folders):
    ref_dir, pred_dir = case_folders
    write_seg(pred_dir / "case_a.nii.gz", _mask(), origin=(99.0, 0.0, 0.0), direction=FLIPPED_X)
    summary = evaluate_folders(ref_dir, pred_dir, DATASET_JSON, modes=("voxel",), check_origin_direction=False)
    assert summary["origin_direction_checked"] is False
    assert summary["per_case"][0]["metrics"]["organ"]["voxel"]["dice"] == 1.0
    # spacing is still checked with the opt-out
    image = sitk.GetImageFromArray(_mask())
    image.SetSpacing((0.8, 0.9, 3.0))
    sitk.WriteImage(image, str(pred_dir / "case_a.nii.gz"))
    with pytest.raises(EvaluationInputError, match="case_a: spacing mismatch"):
        evaluate_folders(ref_dir, pred_dir, DATASET_JSON, modes=("voxel",), check_origin_direction=False)


def test_parallel_workers_check_geometry_too(case_folders):
    ref_dir, pred_dir = case_folders
    write_seg(ref_dir / "case_b.nii.gz", _mask())
    write_seg(pred_dir / "case_b.nii.gz", _mask(), direction=FLIPPED_X)
    with pytest.raises(EvaluationInputError, match="case case_b: direction mismatch"):
        evaluate_folders(ref_dir, pred_dir, DATASET_JSON, modes=("voxel",), num_processes=2)


def _run_cli(*args):
    return subprocess.run([sys.executable, "-m", "nnunetv2_pscm.cli.evaluate", *map(str, args)],
                          capture_output=True, text=True, env=dict(os.environ), timeout=120)


def test_cli_direction_mismatch_is_one_clear_line_and_the_opt_out_works(case_folders, tmp_path):
    ref_dir, pred_dir = case_folders
    write_seg(pred_dir / "case_a.nii.gz", _mask(), direction=FLIPPED_X)
    dataset_json_file = tmp_path / "dataset.json"
    dataset_json_file.write_text(json.dumps(DATASET_JSON))
    common = ["-ref", ref_dir, "-pred", pred_dir, "-djfile", dataset_json_file, "-o", tmp_path / "s.json",
              "--mode", "voxel"]
    refused = _run_cli(*common)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines() == [refused.stderr.strip()]
    assert refused.stderr.startswith("nnUNetv2_pscm_evaluate: error: case case_a: direction mismatch")
    assert not (tmp_path / "s.json").exists()
    accepted = _run_cli(*common, "--ignore_origin_direction")
    assert accepted.returncode == 0, accepted.stderr
    assert "origin and direction were NOT checked" in accepted.stdout
    assert json.loads((tmp_path / "s.json").read_text())["origin_direction_checked"] is False
