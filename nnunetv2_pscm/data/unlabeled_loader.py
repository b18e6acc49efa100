"""Random patches of unlabeled images, augmented like the labeled ones, optionally as two aligned views."""
from typing import Optional

import numpy as np
import torch
from acvl_utils.cropping_and_padding.bounding_boxes import crop_and_pad_nd
from batchgeneratorsv2.transforms.base.basic_transform import BasicTransform
from nnunetv2.training.dataloading.data_loader import nnUNetDataLoader
from threadpoolctl import threadpool_limits

from nnunetv2_pscm.data.unlabeled_dataset import UnlabeledImageDataset


class nnUNetUnlabeledDataLoader(nnUNetDataLoader):
    """nnU-Net's loader (same patch geometry, padding and 2D handling via `get_bbox`) minus every label:
    no foreground oversampling, no class locations, no segmentation in the batch.

    Batch keys: 'data' (geometric + photometric augmentation, the same family as the labeled batch),
    'data_weak' (geometric only, voxel-aligned with 'data'; only with two_views=True), 'keys'.
    """

    def __init__(self, data: UnlabeledImageDataset, batch_size: int, patch_size, final_patch_size, label_manager,
                 geometric_transforms: Optional[BasicTransform], photometric_transforms: Optional[BasicTransform],
                 two_views: bool = False):
        super().__init__(data, batch_size, patch_size, final_patch_size, label_manager,
                         oversample_foreground_percent=0.0, transforms=None)
        # get_bbox would sample from labeled voxels for ignore-label datasets; unlabeled crops are uniform
        self.has_ignore = False
        self.geometric_transforms = geometric_transforms
        self.photometric_transforms = photometric_transforms
        self.two_views = two_views

    def _augment(self, crop: torch.Tensor):
        weak = self.geometric_transforms(image=crop)["image"] if self.geometric_transforms is not None else crop
        source = weak.clone() if self.two_views else weak
        strong = self.photometric_transforms(image=source)["image"] if self.photometric_transforms is not None \
            else source
        return weak, strong

    def generate_train_batch(self):
        keys = self.get_indices()
        data_all = weak_all = None
        with torch.no_grad(), threadpool_limits(limits=1, user_api=None):
            for j, key in enumerate(keys):
                image = self._data.load_image(key)
                bbox_lbs, bbox_ubs = self.get_bbox(image.shape[1:], force_fg=False, class_locations=None)
                bbox = [[lo, hi] for lo, hi in zip(bbox_lbs, bbox_ubs)]
                crop = torch.from_numpy(np.ascontiguousarray(crop_and_pad_nd(image, bbox, 0))).float()
                if self.patch_size_was_2d:
                    crop = crop[:, 0]
                weak, strong = self._augment(crop)
                if data_all is None:
                    data_all = torch.empty((self.batch_size, *strong.shape), dtype=torch.float32)
                    if self.two_views:
                        weak_all = torch.empty_like(data_all)
                data_all[j] = strong
                if self.two_views:
                    weak_all[j] = weak
        batch = {"data": data_all, "keys": keys}
        if self.two_views:
            batch["data_weak"] = weak_all
        return batch
