import os
import shutil
from os.path import join

import blosc2
import numpy as np
import pytest
from batchgenerators.utilities.file_and_folder_operations import load_pickle

from nnunetv2_pscm.data.locations import preprocessed_dataset_folder, raw_dataset_folder
from nnunetv2_pscm.data.unlabeled_preprocessing import UnlabeledDataError, preprocess_unlabeled

DATASET = 901


def raw_images(sub="imagesUnlabeled"):
    return join(raw_dataset_folder(DATASET), sub)


def first_training_case():
    return sorted(os.listdir(raw_images("imagesTr")))[0][:-len("_0000.nii.gz")]


def test_same_preprocessing_as_nnunet_and_no_label_files(copied_3d):
    case = first_training_case()
    shutil.copy(join(raw_images("imagesTr"), f"{case}_0000.nii.gz"), join(raw_images(), "twin_0000.nii.gz"))
    out = preprocess_unlabeled(DATASET, "3d_fullres", num_processes=1)
    assert out.endswith("nnUNetPlans_3d_fullres_unlabeled")
    files = os.listdir(out)
    assert not [f for f in files if "_seg" in f], "no label file may be written"
    assert "twin.b2nd" in files and "twin.pkl" in files
    assert "class_locations" not in load_pickle(join(out, "twin.pkl"))
    ours = blosc2.open(join(out, "twin.b2nd"), mode="r")[:]
    stock = blosc2.open(join(preprocessed_dataset_folder(DATASET), "nnUNetPlans_3d_fullres", f"{case}.b2nd"),
                        mode="r")[:]
    np.testing.assert_allclose(ours, stock, atol=1e-5)


def test_refuses_to_overwrite(copied_3d):
    preprocess_unlabeled(DATASET, "3d_fullres", num_processes=1)
    with pytest.raises(UnlabeledDataError, match="--overwrite"):
        preprocess_unlabeled(DATASET, "3d_fullres", num_processes=1)
    preprocess_unlabeled(DATASET, "3d_fullres", num_processes=1, overwrite=True)


def test_channel_mismatch_names_the_case(copied_3d):
    some = sorted(os.listdir(raw_images()))[0]
    shutil.copy(join(raw_images(), some), join(raw_images(), "extra_0001.nii.gz"))
    with pytest.raises(UnlabeledDataError, match="'extra'.*channels \\[1\\]"):
        preprocess_unlabeled(DATASET, "3d_fullres", num_processes=1)
    assert not [f for f in os.listdir(preprocessed_dataset_folder(DATASET)) if "unlabeled" in f], "nothing half-written"


def test_id_clash_with_training_case(copied_3d):
    case = first_training_case()
    shutil.copy(join(raw_images("imagesTr"), f"{case}_0000.nii.gz"), join(raw_images(), f"{case}_0000.nii.gz"))
    with pytest.raises(UnlabeledDataError, match=case):
        preprocess_unlabeled(DATASET, "3d_fullres", num_processes=1)


def test_missing_folder_says_what_to_do(copied_3d):
    shutil.rmtree(raw_images())
    with pytest.raises(UnlabeledDataError, match="imagesUnlabeled.*does not exist"):
        preprocess_unlabeled(DATASET, "3d_fullres", num_processes=1)


def test_unknown_configuration(copied_3d):
    with pytest.raises(UnlabeledDataError, match="available"):
        preprocess_unlabeled(DATASET, "3d_lowresss", num_processes=1)


def no_unlabeled_output_left():
    return not [f for f in os.listdir(preprocessed_dataset_folder(DATASET)) if "unlabeled" in f]


@pytest.mark.parametrize("num_processes", [1, 2])  # in-process and through the worker pool (the CLI's default)
def test_corrupt_image_is_named_and_nothing_is_left(copied_3d, num_processes):
    with open(join(raw_images(), "broken_0000.nii.gz"), "wb") as f:
        f.write(b"not an image")
    with pytest.raises(UnlabeledDataError, match=r"broken_0000\.nii\.gz: cannot be read .*imagesUnlabeled"):
        preprocess_unlabeled(DATASET, "3d_fullres", num_processes=num_processes)
    assert no_unlabeled_output_left(), "neither a temporary nor a half-filled output folder may remain"


def test_vector_valued_image_is_named(copied_3d):
    import SimpleITK as sitk

    rgb = sitk.GetImageFromArray(np.zeros((6, 10, 12, 3), dtype=np.float32), isVector=True)
    sitk.WriteImage(rgb, join(raw_images(), "rgb_0000.nii.gz"))
    with pytest.raises(UnlabeledDataError, match=r"rgb_0000\.nii\.gz: read as an array of shape .*one file per channel"):
        preprocess_unlabeled(DATASET, "3d_fullres", num_processes=1)
    assert no_unlabeled_output_left()


def test_failed_overwrite_keeps_the_previous_images(copied_3d):
    out = preprocess_unlabeled(DATASET, "3d_fullres", num_processes=1)
    before = sorted(os.listdir(out))
    with open(join(raw_images(), "broken_0000.nii.gz"), "wb") as f:
        f.write(b"not an image")
    with pytest.raises(UnlabeledDataError, match="broken_0000"):
        preprocess_unlabeled(DATASET, "3d_fullres", num_processes=1, overwrite=True)
    assert sorted(os.listdir(out)) == before
    assert [f for f in os.listdir(preprocessed_dataset_folder(DATASET)) if "unlabeled" in f] == [os.path.basename(out)]
