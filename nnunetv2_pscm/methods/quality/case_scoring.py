"""A whole case's predicted quality from a quality predictor that scores patches (QC and "label these next").

The predictor was trained on patches of its ``patch_size`` centred on a random foreground voxel of the mask
(`training.cut_patch`), so a case is scored the same way [ours]: ``num_windows`` patches centred on random
voxels of the MASK being scored (a fixed seed, so a case always gets the same score), each scored by the predictor,
and the per-class predictions averaged. A mask without foreground gets one patch at the image centre, as a training
case without foreground did. 2D configurations take axial slices, as in training.

Inputs are in the configuration's preprocessed space (resampled, cropped, normalised by the plans):
`preprocess_raw_case` brings a raw image and a mask there with nnU-Net's own preprocessor; a mask is resampled as
nnU-Net resamples a segmentation.
"""
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch

from nnunetv2_pscm.methods.quality.network import QualityNet
from nnunetv2_pscm.methods.quality.training import cut_patch


@torch.no_grad()
def score_case(net: QualityNet, image: np.ndarray, mask: np.ndarray, patch_size: Sequence[int],
               num_windows: int = 8, seed: int = 0, device: torch.device = torch.device("cpu")) -> np.ndarray:
    """(C-1,) predicted Dice per foreground class of ``mask`` (*spatial, integer) for ``image`` (c, *spatial)."""
    if num_windows < 1:
        raise ValueError(f"num_windows must be >= 1, got {num_windows}")
    mask = np.asarray(mask)
    rng = np.random.default_rng(seed)
    windows = num_windows if (mask > 0).any() else 1
    images, masks = zip(*(cut_patch(image, mask, patch_size, rng) for _ in range(windows)))
    image_batch = torch.from_numpy(np.stack(images).astype(np.float32)).to(device)
    mask_batch = torch.from_numpy(np.stack(masks).astype(np.int64))[:, None].to(device)
    return net.to(device)(image_batch, mask_batch).float().mean(0).cpu().numpy()


def preprocess_raw_case(image_files: List[str], mask_file: Optional[str], plans_manager, configuration_manager,
                        dataset_json: dict) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """(image (c, *spatial) float32, mask (*spatial) uint8 or None) in the configuration's preprocessed space, by
    nnU-Net's own preprocessor for the plans (the mask treated as nnU-Net treats a segmentation)."""
    from nnunetv2.preprocessing.preprocessors.default_preprocessor import DefaultPreprocessor

    data, seg, _ = DefaultPreprocessor(verbose=False).run_case(image_files, mask_file, plans_manager,
                                                               configuration_manager, dataset_json)
    mask = None if mask_file is None else np.where(seg[0] < 0, 0, seg[0]).astype(np.uint8)
    return np.asarray(data, dtype=np.float32), mask
