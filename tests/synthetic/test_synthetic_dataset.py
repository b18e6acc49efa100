"""The synthetic raw dataset on disk: nnU-Net layout, integrity, unlabeled images, overwrite policy."""
import json
import os

import numpy as np
import pytest
import SimpleITK as sitk
from nnunetv2.experiment_planning.verify_dataset_integrity import verify_dataset_integrity

from nnunetv2_pscm.cli.synthetic import main as synthetic_main
from nnunetv2_pscm.synthetic import generate_synthetic_dataset, make_case


def _read(path: str) -> np.ndarray:
    return sitk.GetArrayFromImage(sitk.ReadImage(path))


def test_3d_dataset_layout_integrity_and_unlabeled_images(tmp_path):
    folder = generate_synthetic_dataset(501, "3d", num_cases=4, num_unlabeled_images=2, seed=1, raw_root=str(tmp_path))
    assert os.path.basename(folder) == "Dataset501_SyntheticOrgan3D"
    dataset_json = json.load(open(os.path.join(folder, "dataset.json")))
    assert dataset_json["numTraining"] == 4  # unlabeled images are not training cases
    assert dataset_json["labels"] == {"background": 0, "organ": 1}
    assert dataset_json["channel_names"] == {"0": "MRI"} and dataset_json["file_ending"] == ".nii.gz"
    assert sorted(os.listdir(os.path.join(folder, "imagesTr")))[0] == "case_000_0000.nii.gz"
    assert sorted(os.listdir(os.path.join(folder, "imagesUnlabeled"))) == \
        ["unlabeled_000_0000.nii.gz", "unlabeled_001_0000.nii.gz"]
    assert len(os.listdir(os.path.join(folder, "labelsTr"))) == 4

    # what is on disk is exactly what make_case returns, with the spacing attached
    written = sitk.ReadImage(os.path.join(folder, "imagesTr", "case_002_0000.nii.gz"))
    expected = make_case("3d", seed=1, index=2)
    assert sitk.GetArrayFromImage(written).tobytes() == expected.image.tobytes()
    assert written.GetSpacing() == (1.0, 1.0, 1.0)
    assert _read(os.path.join(folder, "imagesUnlabeled", "unlabeled_001_0000.nii.gz")).tobytes() == \
        make_case("3d", seed=1, index=1, unlabeled=True).image.tobytes()

    verify_dataset_integrity(folder, num_processes=1)  # raises on any problem
    assert not [d for d in os.listdir(tmp_path) if d.startswith(".tmp_")], "temporary folder left behind"


def test_2d_dataset_is_stored_as_single_slice_3d_images(tmp_path):
    folder = generate_synthetic_dataset(502, "2d", num_cases=3, seed=0, raw_root=str(tmp_path))
    image = sitk.ReadImage(os.path.join(folder, "imagesTr", "case_000_0000.nii.gz"))
    assert sitk.GetArrayFromImage(image).shape == (1, 96, 96)
    assert image.GetSpacing()[2] > image.GetSpacing()[0]
    assert not os.path.isdir(os.path.join(folder, "imagesUnlabeled"))
    assert json.load(open(os.path.join(folder, "dataset.json")))["labels"] == \
        {"background": 0, "cavity": 1, "wall": 2, "crescent": 3}
    verify_dataset_integrity(folder, num_processes=1)


def test_same_seed_writes_the_same_arrays(tmp_path):
    first = generate_synthetic_dataset(503, "2d", num_cases=2, seed=7, raw_root=str(tmp_path / "a"))
    second = generate_synthetic_dataset(503, "2d", num_cases=2, seed=7, raw_root=str(tmp_path / "b"))
    for sub, name in (("imagesTr", "case_001_0000.nii.gz"), ("labelsTr", "case_001.nii.gz")):
        assert _read(os.path.join(first, sub, name)).tobytes() == _read(os.path.join(second, sub, name)).tobytes()


def test_refuses_an_existing_dataset_id_unless_overwrite(tmp_path):
    first = generate_synthetic_dataset(504, "2d", num_cases=2, name="First", raw_root=str(tmp_path))
    with pytest.raises(FileExistsError, match="Dataset504_First"):
        generate_synthetic_dataset(504, "2d", num_cases=2, name="Second", raw_root=str(tmp_path))
    assert os.path.isdir(first)
    second = generate_synthetic_dataset(504, "2d", num_cases=2, name="Second", raw_root=str(tmp_path), overwrite=True)
    assert not os.path.exists(first) and os.path.isdir(second)  # one name per id, as nnU-Net requires


def test_clear_errors_for_bad_input(tmp_path, monkeypatch):
    monkeypatch.delenv("nnUNet_raw", raising=False)
    with pytest.raises(RuntimeError, match="nnUNet_raw"):
        generate_synthetic_dataset(505, "2d", num_cases=2)
    with pytest.raises(ValueError, match="kind"):
        generate_synthetic_dataset(505, "4d", raw_root=str(tmp_path))
    with pytest.raises(ValueError, match="1..999"):
        generate_synthetic_dataset(1000, raw_root=str(tmp_path))


def test_cli_uses_nnunet_raw_and_prints_the_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("nnUNet_raw", str(tmp_path))
    synthetic_main(["-d", "506", "--kind", "2d", "-n", "2", "--n-unlabeled-images", "1", "--name", "Cli"])
    folder = capsys.readouterr().out.strip().splitlines()[-1]
    assert folder == str(tmp_path / "Dataset506_Cli")
    with pytest.raises(SystemExit, match="Dataset506_Cli"):
        synthetic_main(["-d", "506", "--kind", "2d", "-n", "2"])
