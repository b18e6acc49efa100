"""The split written from a dataset on disk (`data/ssl_split.py`, behind `nnUNetv2_pscm_split`)."""
import shutil
from os.path import isfile, join

import pytest

from nnunetv2_pscm.cli.split import main as split_main
from nnunetv2_pscm.data.locations import preprocessed_dataset_folder, raw_dataset_folder, splits_file
from nnunetv2_pscm.data.split_file import SplitError
from nnunetv2_pscm.data.ssl_split import training_case_ids, unlabeled_image_ids, write_ssl_split

DATASET = 901


def add_unlabeled_copy_of_training_case() -> str:
    raw = raw_dataset_folder(DATASET)
    case = training_case_ids(preprocessed_dataset_folder(DATASET))[0]
    shutil.copy(join(raw, "imagesTr", f"{case}_0000.nii.gz"), join(raw, "imagesUnlabeled", f"{case}_0000.nii.gz"))
    return case


def test_unlabeled_images_join_every_ssl_fold(copied_3d):
    images = unlabeled_image_ids(DATASET)
    assert len(images) == 3 and not set(images) & set(training_case_ids(preprocessed_dataset_folder(DATASET)))
    _, folds, _ = write_ssl_split(DATASET, num_labeled=3, n_folds=2, include_unlabeled_images=True)
    for fold in folds[:2]:
        assert set(images) <= set(fold["unlabeled"]) and not set(images) & set(fold["train"] + fold["val"])


def test_unlabeled_image_with_a_training_id_is_refused_at_split_time(copied_3d):
    case = add_unlabeled_copy_of_training_case()
    with pytest.raises(SplitError, match=f"imagesUnlabeled holds images with the id of a training case: .*'{case}'"):
        write_ssl_split(DATASET, num_labeled=3, include_unlabeled_images=True)
    assert not isfile(splits_file(preprocessed_dataset_folder(DATASET)))


def test_split_cli_names_the_clashing_id(copied_3d):
    case = add_unlabeled_copy_of_training_case()
    with pytest.raises(SystemExit, match=f"nnUNetv2_pscm_split: .*'{case}'"):
        split_main(["-d", str(DATASET), "--labeled", "3", "--include-unlabeled-images"])


def test_without_unlabeled_images_a_clash_does_not_matter(copied_3d):
    add_unlabeled_copy_of_training_case()
    _, folds, _ = write_ssl_split(DATASET, num_labeled=3, n_folds=1)
    assert all(c in folds[-1]["train"] for c in folds[0]["unlabeled"])  # hidden-label training cases only
