"""Images of the unlabeled cases of a fold, read without ever opening a segmentation.

Two kinds of unlabeled case share this class:
* hidden-label training cases: their image lives in the configuration's preprocessed folder, next to a
  `_seg` file that we must never touch;
* truly unlabeled images, preprocessed by `nnUNetv2_pscm_preprocess_unlabeled` into `<data_identifier>_unlabeled/`.
We open only the image file. We do not even read the case's `.pkl`: for a hidden-label case it holds
`class_locations`, which are derived from the label.
"""
from os.path import isfile, join
from typing import Dict, List

import numpy as np


class UnlabeledImageDataset:
    def __init__(self, case_folders: Dict[str, str]):
        """case_folders: case id -> preprocessed folder holding `{id}.b2nd` (or nnU-Net's numpy variants)."""
        self.case_folders = dict(case_folders)
        # `identifiers` is the attribute nnU-Net's DataLoader samples from
        self.identifiers: List[str] = sorted(self.case_folders)

    def __len__(self) -> int:
        return len(self.identifiers)

    def image_file(self, identifier: str) -> str:
        folder = self.case_folders[identifier]
        for ending in (".b2nd", ".npy", ".npz"):
            if isfile(join(folder, identifier + ending)):
                return join(folder, identifier + ending)
        raise FileNotFoundError(f"No preprocessed image for unlabeled case '{identifier}' in {folder}")

    def load_image(self, identifier: str):
        """(c, x, y, z) array-like; blosc2/npy are memory-mapped so a crop reads only what it needs."""
        path = self.image_file(identifier)
        if path.endswith(".b2nd"):
            import blosc2

            return blosc2.open(urlpath=path, mode="r", dparams={"nthreads": 1}, mmap_mode="r")
        if path.endswith(".npy"):
            return np.load(path, mmap_mode="r")
        with np.load(path) as npz:  # nnU-Net's npz holds 'data' and 'seg'; only 'data' is decompressed
            return npz["data"]
