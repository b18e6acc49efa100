"""Write a synthetic nnU-Net raw dataset (imagesTr, labelsTr, dataset.json [+ imagesUnlabeled]).

The dataset is built in a hidden temporary folder next to its destination and moved into place
only when complete, so an interrupted run never leaves a half-written DatasetXXX_ folder behind.
"""
import json
import os
import re
import shutil
import tempfile
from typing import Optional, Sequence

import numpy as np
import SimpleITK as sitk
from nnunetv2.dataset_conversion.generate_dataset_json import generate_dataset_json

from nnunetv2_pscm.synthetic.case import SyntheticCase
from nnunetv2_pscm.synthetic.heart2d import make_heart_case
from nnunetv2_pscm.synthetic.organ3d import make_organ_case

KINDS = ("3d", "2d")
DEFAULT_NAMES = {"3d": "SyntheticOrgan3D", "2d": "SyntheticHeart2D"}
LABELS = {
    "3d": {"background": 0, "organ": 1},
    "2d": {"background": 0, "cavity": 1, "wall": 2, "crescent": 3},
}
# "MRI" is not "CT", so nnU-Net picks per-image z-score normalisation, which absorbs the per-case scaling
CHANNEL_NAMES = {0: "MRI"}
FILE_ENDING = ".nii.gz"
GENERATOR_VERSION = 1  # bump when the same seed would produce different images

# independent random streams, so that adding unlabeled images never changes the labeled ones
_LABELED_STREAM, _UNLABELED_STREAM = 0, 1


def labeled_case_id(index: int) -> str:
    return f"case_{index:03d}"


def unlabeled_case_id(index: int) -> str:
    return f"unlabeled_{index:03d}"


def make_case(kind: str, seed: int, index: int, unlabeled: bool = False,
              spacing: Optional[Sequence[float]] = None) -> SyntheticCase:
    """Generate one case in memory. Case i depends only on (kind, seed, i, unlabeled, spacing), so the
    first cases of a dataset are the same whatever the number of cases."""
    _check_kind(kind)
    stream = _UNLABELED_STREAM if unlabeled else _LABELED_STREAM
    rng = np.random.default_rng([int(seed), stream, int(index)])
    if kind == "3d":
        return make_organ_case(rng, spacing if spacing is not None else (1.0, 1.0, 1.0))
    if spacing is not None:
        raise ValueError("spacing can only be chosen for kind '3d'; the 2d images are 96 x 96 at 1 mm")
    return make_heart_case(rng)


def generate_synthetic_dataset(dataset_id: int, kind: str = "3d", num_cases: int = 40,
                               num_unlabeled_images: int = 0, seed: int = 0, name: Optional[str] = None,
                               overwrite: bool = False, raw_root: Optional[str] = None,
                               spacing: Optional[Sequence[float]] = None) -> str:
    """Write $nnUNet_raw/DatasetXXX_NAME and return its path.

    spacing (3d only, mm, array axis order z, y, x): the field of view stays 48 mm, so e.g.
    (2, 1, 1) gives 24 x 48 x 48 voxels; default isotropic 1 mm.
    """
    _check_kind(kind)
    if not 1 <= int(dataset_id) <= 999:
        raise ValueError(f"dataset_id must be in 1..999 (nnU-Net uses three digits), got {dataset_id}")
    if num_cases < 2:
        raise ValueError(f"num_cases must be at least 2 (nnU-Net needs training and validation cases), got {num_cases}")
    if num_unlabeled_images < 0:
        raise ValueError(f"num_unlabeled_images must be >= 0, got {num_unlabeled_images}")
    name = name or DEFAULT_NAMES[kind]
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_\-]*", name):
        raise ValueError(f"dataset name {name!r} must be letters, digits, '_' or '-' (it becomes a folder name)")
    raw_root = resolve_raw_root(raw_root)
    os.makedirs(raw_root, exist_ok=True)

    folder_name = f"Dataset{int(dataset_id):03d}_{name}"
    existing = existing_dataset_folders(raw_root, dataset_id)
    if existing and not overwrite:
        raise FileExistsError(
            f"Dataset id {dataset_id} is already used by {', '.join(os.path.join(raw_root, e) for e in existing)}. "
            f"Pass --overwrite (overwrite=True) to replace it, or pick another id.")

    staging = tempfile.mkdtemp(prefix=f".tmp_{folder_name}_", dir=raw_root)
    try:
        _write_dataset(staging, kind, num_cases, num_unlabeled_images, seed, name, spacing)
        for old in existing:  # only now that the replacement is complete
            shutil.rmtree(os.path.join(raw_root, old))
        destination = os.path.join(raw_root, folder_name)
        os.replace(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return destination


def resolve_raw_root(raw_root: Optional[str]) -> str:
    if raw_root is not None:
        return os.path.abspath(raw_root)
    from_env = os.environ.get("nnUNet_raw")
    if not from_env:
        raise RuntimeError("nnUNet_raw is not set. Export nnUNet_raw=/path/to/nnUNet_raw (see nnU-Net's "
                           "documentation/setting_up_paths.md) or pass raw_root.")
    return os.path.abspath(from_env)


def existing_dataset_folders(raw_root: str, dataset_id: int) -> list:
    """Every DatasetXXX_* folder with this id: nnU-Net refuses ids that map to more than one name."""
    prefix = f"Dataset{int(dataset_id):03d}_"
    if not os.path.isdir(raw_root):
        return []
    return sorted(d for d in os.listdir(raw_root) if d.startswith(prefix) and os.path.isdir(os.path.join(raw_root, d)))


def write_nifti(array: np.ndarray, spacing_zyx: Sequence[float], path: str) -> None:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(tuple(float(s) for s in reversed(spacing_zyx)))  # SimpleITK wants (x, y, z)
    sitk.WriteImage(image, path, useCompression=True)


def _write_dataset(folder, kind, num_cases, num_unlabeled_images, seed, name, spacing) -> None:
    for sub in ("imagesTr", "labelsTr"):
        os.makedirs(os.path.join(folder, sub))
    for index in range(num_cases):
        case = make_case(kind, seed, index, spacing=spacing)
        case_id = labeled_case_id(index)
        write_nifti(case.image, case.spacing, os.path.join(folder, "imagesTr", f"{case_id}_0000{FILE_ENDING}"))
        write_nifti(case.label, case.spacing, os.path.join(folder, "labelsTr", f"{case_id}{FILE_ENDING}"))
    if num_unlabeled_images > 0:
        os.makedirs(os.path.join(folder, "imagesUnlabeled"))
        for index in range(num_unlabeled_images):
            case = make_case(kind, seed, index, unlabeled=True, spacing=spacing)
            write_nifti(case.image, case.spacing,
                        os.path.join(folder, "imagesUnlabeled", f"{unlabeled_case_id(index)}_0000{FILE_ENDING}"))

    description = (f"nnunetv2_pscm synthetic {kind} dataset (seed {seed}): " +
                   ("a lobulated organ among look-alike cysts and vessels" if kind == "3d" else
                    "heart-short-axis-like ring (cavity, wall) and crescent among look-alike rings and blobs") +
                   "; look-alikes are never labeled.")
    generate_dataset_json(folder, dict(CHANNEL_NAMES), dict(LABELS[kind]), num_cases, FILE_ENDING,
                          dataset_name=name, description=description, license="CC0 (synthetic data)",
                          converted_by="nnUNetv2_pscm_synthetic")
    # provenance, outside dataset.json so nnU-Net never sees it
    with open(os.path.join(folder, "synthetic_info.json"), "w") as f:
        json.dump({"generator": "nnunetv2_pscm.synthetic", "generator_version": GENERATOR_VERSION, "kind": kind,
                   "seed": seed, "num_cases": num_cases, "num_unlabeled_images": num_unlabeled_images,
                   "spacing_zyx": list(spacing) if spacing is not None else None,
                   "unlabeled_folder": "imagesUnlabeled" if num_unlabeled_images else None}, f, indent=2)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
