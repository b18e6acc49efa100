"""Synthetic dataset -> stock nnUNetv2_plan_and_preprocess -> nnUNetv2_pscm_cpu_plans -> network on the new patch.

Uses the session fixture of tests/conftest.py (synthetic 3D, planned and preprocessed once for the whole test
session, then `nnUNetv2_pscm_cpu_plans -c 3d_fullres`); `copied_3d` is a private copy we may write into.
Run alone, the fixture's stock nnU-Net subprocess makes this the slowest test of this folder (~30 s on 2 cores).
"""
import os

import torch
from nnunetv2.utilities.get_network_from_plans import get_network_from_plans
from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

from nnunetv2_pscm.cli.cpu_plans import main as cpu_plans_main


def _preprocessed_dataset_folder(root) -> str:
    (folder,) = (root / "preprocessed").glob("Dataset*")
    return str(folder)


def test_cpu_plans_reuse_the_stock_preprocessed_data(copied_3d):
    dataset_folder = _preprocessed_dataset_folder(copied_3d)
    source = PlansManager(os.path.join(dataset_folder, "nnUNetPlans.json")).get_configuration("3d_fullres")
    assert source.patch_size == [48, 48, 48]

    config = PlansManager(os.path.join(dataset_folder, "nnUNetPlans_cpu.json")).get_configuration("3d_fullres")
    # same spacing -> same preprocessed data, nothing to preprocess again
    assert config.data_identifier == source.data_identifier == "nnUNetPlans_3d_fullres"
    assert any(f.endswith(".b2nd") for f in os.listdir(os.path.join(dataset_folder, config.data_identifier)))
    assert config.patch_size == [32, 32, 32] and config.spacing == source.spacing
    net = get_network_from_plans(config.network_arch_class_name, config.network_arch_init_kwargs,
                                 config.network_arch_init_kwargs_req_import, 1, 2, deep_supervision=False)
    with torch.no_grad():
        assert tuple(net(torch.randn(2, 1, *config.patch_size)).shape) == (2, 2, 32, 32, 32)


def test_cpu_plans_with_new_spacing_ask_for_preprocessing(copied_3d, capsys):
    dataset_folder = _preprocessed_dataset_folder(copied_3d)
    dataset_id = os.path.basename(dataset_folder)[len("Dataset"):len("Dataset") + 3].lstrip("0")
    cpu_plans_main(["-d", dataset_id, "-c", "3d_fullres", "--spacing", "2", "2", "2", "-o", "cpu_2mm"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "cpu_2mm"
    assert f"Run: nnUNetv2_preprocess -d {dataset_id} -plans_name cpu_2mm -c 3d_fullres -np 1" in lines
    config = PlansManager(os.path.join(dataset_folder, "cpu_2mm.json")).get_configuration("3d_fullres")
    assert config.data_identifier == "cpu_2mm_3d_fullres" and config.spacing == [2.0, 2.0, 2.0]
    assert config.median_image_size_in_voxels == [24.0, 24.0, 24.0] and config.patch_size == [24, 24, 24]
