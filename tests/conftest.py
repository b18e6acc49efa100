"""Shared fixtures: small synthetic nnU-Net datasets, planned and preprocessed once per test session.

Tests that change files work on a copy (`copied_dataset`), so the session copy stays pristine.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def seeded_random_state():
    """Every test starts from the same torch/numpy/random state, so its random networks and batches do not depend on
    which tests ran before it (CI runs the suite in one process; an unseeded test once met a rare draw there)."""
    import random

    import numpy as np
    import torch

    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


def nnunet_env(root: Path, **extra) -> dict:
    env = dict(os.environ)
    env.update({"nnUNet_raw": str(root / "raw"), "nnUNet_preprocessed": str(root / "preprocessed"),
                "nnUNet_results": str(root / "results"), "nnUNet_n_proc_DA": "0", "nnUNet_def_n_proc": "1",
                "nnUNet_compile": "0", "PYTHONUNBUFFERED": "1"})
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_cli(args, env, timeout=900) -> subprocess.CompletedProcess:
    """Run a console script; on failure show its output in the test report."""
    proc = subprocess.run([str(a) for a in args], env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stdout[-6000:]}\n"
                             f"{proc.stderr[-6000:]}")
    return proc


def console_script(name: str) -> str:
    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else name


def _prepare(root: Path, dataset_id: int, kind: str, num_cases: int, num_unlabeled_images: int) -> Path:
    from nnunetv2_pscm.synthetic import generate_synthetic_dataset

    configuration = "2d" if kind == "2d" else "3d_fullres"
    generate_synthetic_dataset(dataset_id, kind=kind, num_cases=num_cases, num_unlabeled_images=num_unlabeled_images,
                               seed=0, raw_root=str(root / "raw"))
    env = nnunet_env(root, nnUNet_n_proc_DA=1)  # nnU-Net's planner sets torch's thread count from it (0 fails)
    run_cli([console_script("nnUNetv2_plan_and_preprocess"), "-d", dataset_id, "-c", configuration, "-np", "1",
             "-npfp", "1"], env)
    run_cli([console_script("nnUNetv2_pscm_cpu_plans"), "-d", dataset_id, "-c", configuration], env)
    return root


@pytest.fixture(scope="session")
def dataset_3d(tmp_path_factory) -> Path:
    """Dataset 901: synthetic 3D binary, 10 labeled cases + 3 images in imagesUnlabeled, planned (nnUNetPlans and
    nnUNetPlans_cpu) and preprocessed for 3d_fullres."""
    return _prepare(tmp_path_factory.mktemp("ds3d"), 901, "3d", 10, 3)


@pytest.fixture(scope="session")
def dataset_2d(tmp_path_factory) -> Path:
    """Dataset 902: synthetic 2D multi-class, 10 labeled cases, planned and preprocessed for 2d."""
    return _prepare(tmp_path_factory.mktemp("ds2d"), 902, "2d", 10, 0)


def copy_dataset(source_root: Path, target_root: Path) -> Path:
    for sub in ("raw", "preprocessed"):
        shutil.copytree(source_root / sub, target_root / sub)
    (target_root / "results").mkdir()
    return target_root


@pytest.fixture
def copied_3d(dataset_3d, tmp_path, monkeypatch) -> Path:
    root = copy_dataset(dataset_3d, tmp_path)
    for k, v in nnunet_env(root).items():
        if k.startswith("nnUNet"):
            monkeypatch.setenv(k, v)
    return root


def dataset_folder(root: Path, kind: str) -> Path:
    """The single DatasetXXX_* folder under root/raw or root/preprocessed."""
    (folder,) = (root / kind).glob("Dataset*")
    return folder


def delete_hidden_labels(root: Path, case_ids, data_identifier: str = "nnUNetPlans_3d_fullres") -> None:
    """Remove every label-bearing file of these cases: raw labelsTr, gt_segmentations, preprocessed _seg and the
    .pkl (its class_locations derive from the label). Training must not notice."""
    raw, pp = dataset_folder(root, "raw"), dataset_folder(root, "preprocessed")
    for case in case_ids:
        for path in (raw / "labelsTr" / f"{case}.nii.gz", pp / "gt_segmentations" / f"{case}.nii.gz",
                     pp / data_identifier / f"{case}_seg.b2nd", pp / data_identifier / f"{case}.pkl"):
            path.unlink()
