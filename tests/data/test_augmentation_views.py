import numpy as np
import pytest
import torch
from batchgeneratorsv2.transforms.base.basic_transform import BasicTransform, ImageOnlyTransform
from batchgeneratorsv2.transforms.spatial.mirroring import MirrorTransform
from batchgeneratorsv2.transforms.spatial.spatial import SpatialTransform
from batchgeneratorsv2.transforms.utils.compose import ComposeTransforms
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
from nnunetv2.utilities.label_handling.label_handling import LabelManager

from nnunetv2_pscm.data.augmentation_views import split_geometric_photometric
from nnunetv2_pscm.data.unlabeled_dataset import UnlabeledImageDataset
from nnunetv2_pscm.data.unlabeled_loader import nnUNetUnlabeledDataLoader


def stock_transforms():
    return nnUNetTrainer.get_training_transforms(
        (16, 16, 16), (-0.5, 0.5), [[1, 1, 1], [0.5, 0.5, 0.5]], (0, 1, 2), False, use_mask_for_norm=[True],
        is_cascaded=False, foreground_labels=[1], regions=None, ignore_label=None)


def test_stock_pipeline_splits_into_geometric_and_photometric():
    geometric, photometric = split_geometric_photometric(stock_transforms())
    assert [type(t) for t in geometric.transforms] == [SpatialTransform, MirrorTransform]
    assert len(photometric.transforms) == 7  # noise, blur, brightness, contrast, low-res, 2x gamma
    assert all(isinstance(t.transform, ImageOnlyTransform) for t in photometric.transforms)


def test_unknown_transform_is_refused():
    class Mystery(BasicTransform):
        pass

    with pytest.raises(TypeError, match="Mystery"):
        split_geometric_photometric(ComposeTransforms([Mystery()]))


class AddFive(ImageOnlyTransform):
    def _apply_to_image(self, img, **params):
        return img + 5


def test_weak_and_strong_views_are_aligned(tmp_path):
    rng = np.random.RandomState(0)
    for case in ("a", "b"):
        np.save(tmp_path / f"{case}.npy", rng.randn(1, 20, 24, 24).astype(np.float32))
    dataset = UnlabeledImageDataset({"a": str(tmp_path), "b": str(tmp_path)})
    geometric, _ = split_geometric_photometric(stock_transforms())
    loader = nnUNetUnlabeledDataLoader(dataset, 3, (22, 22, 22), (16, 16, 16), LabelManager({"background": 0, "x": 1},
                                       None), geometric, AddFive(), two_views=True)
    batch = next(loader)
    assert batch["data"].shape == (3, 1, 16, 16, 16) == batch["data_weak"].shape
    assert torch.allclose(batch["data"] - batch["data_weak"], torch.full_like(batch["data"], 5.0))
    assert set(batch["keys"]) <= {"a", "b"}


def test_single_view_batch_has_no_weak_key(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((2, 8, 30, 30), np.float32))
    loader = nnUNetUnlabeledDataLoader(UnlabeledImageDataset({"a": str(tmp_path)}), 2, (20, 20), (20, 20),
                                       LabelManager({"background": 0, "x": 1}, None), None, None)
    batch = next(loader)
    assert batch["data"].shape == (2, 2, 20, 20) and "data_weak" not in batch  # 2D patches from a 3D array
