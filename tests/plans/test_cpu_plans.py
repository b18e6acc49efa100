"""CPU plans derived from nnU-Net plans: topology, data identifier policy, files and CLI."""
import json

import numpy as np
import pytest
import torch
from nnunetv2.utilities.get_network_from_plans import get_network_from_plans
from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

from nnunetv2_pscm.cli.cpu_plans import main as cpu_plans_main
from nnunetv2_pscm.plans import derive_cpu_plans, derive_cpu_plans_dict


def _configuration(dim: int, patch, spacing, data_identifier: str) -> dict:
    """A configuration shaped like ExperimentPlanner's output (PlainConvUNet, F=32)."""
    n_stages = 5 if dim == 2 else 4
    return {
        "data_identifier": data_identifier, "preprocessor_name": "DefaultPreprocessor", "batch_size": 2,
        "patch_size": list(patch), "median_image_size_in_voxels": [float(p) for p in patch], "spacing": list(spacing),
        "normalization_schemes": ["ZScoreNormalization"], "use_mask_for_norm": [False],
        "resampling_fn_data": "resample_data_or_seg_to_shape", "resampling_fn_seg": "resample_data_or_seg_to_shape",
        "resampling_fn_data_kwargs": {"is_seg": False, "order": 3, "order_z": 0, "force_separate_z": None},
        "resampling_fn_seg_kwargs": {"is_seg": True, "order": 1, "order_z": 0, "force_separate_z": None},
        "resampling_fn_probabilities": "resample_data_or_seg_to_shape",
        "resampling_fn_probabilities_kwargs": {"is_seg": False, "order": 1, "order_z": 0, "force_separate_z": None},
        "architecture": {
            "network_class_name": "dynamic_network_architectures.architectures.unet.PlainConvUNet",
            "arch_kwargs": {
                "n_stages": n_stages, "features_per_stage": [min(32 * 2 ** i, 320) for i in range(n_stages)],
                "conv_op": f"torch.nn.modules.conv.Conv{dim}d", "kernel_sizes": [[3] * dim] * n_stages,
                "strides": [[1] * dim] + [[2] * dim] * (n_stages - 1), "n_conv_per_stage": [2] * n_stages,
                "n_conv_per_stage_decoder": [2] * (n_stages - 1), "conv_bias": True,
                "norm_op": f"torch.nn.modules.instancenorm.InstanceNorm{dim}d",
                "norm_op_kwargs": {"eps": 1e-05, "affine": True}, "dropout_op": None, "dropout_op_kwargs": None,
                "nonlin": "torch.nn.LeakyReLU", "nonlin_kwargs": {"inplace": True}},
            "_kw_requires_import": ["conv_op", "norm_op", "dropout_op", "nonlin"]},
        "batch_dice": True,
    }


def _source_plans() -> dict:
    lowres = _configuration(3, (48, 48, 48), (2.0, 2.0, 2.0), "nnUNetPlans_3d_lowres")
    lowres["next_stage"] = "3d_cascade_fullres"
    return {
        "dataset_name": "Dataset123_Toy", "plans_name": "nnUNetPlans",
        "original_median_spacing_after_transp": [1.0, 1.0, 1.0], "original_median_shape_after_transp": [96, 96, 96],
        "image_reader_writer": "SimpleITKIO", "transpose_forward": [0, 1, 2], "transpose_backward": [0, 1, 2],
        "configurations": {
            "2d": _configuration(2, (96, 96), (1.0, 1.0), "nnUNetPlans_2d"),
            "3d_lowres": lowres,
            "3d_fullres": _configuration(3, (96, 96, 96), (1.0, 1.0, 1.0), "nnUNetPlans_3d_fullres"),
            "3d_cascade_fullres": {"inherits_from": "3d_fullres", "previous_stage": "3d_lowres"},
        },
        "experiment_planner_used": "ExperimentPlanner", "label_manager": "LabelManager",
        "foreground_intensity_properties_per_channel": {"0": {"mean": 0.0, "std": 1.0}},
    }


def _forward(plans: dict, configuration: str, num_classes: int = 3) -> torch.Tensor:
    config = PlansManager(plans).get_configuration(configuration)
    net = get_network_from_plans(config.network_arch_class_name, config.network_arch_init_kwargs,
                                 config.network_arch_init_kwargs_req_import, 1, num_classes, deep_supervision=False)
    with torch.no_grad():
        return net(torch.randn(1, 1, *config.patch_size))


@pytest.mark.parametrize("configuration, patch, features, max_features", [
    ("3d_fullres", (32, 32, 32), 4, 32),
    ("3d_fullres", (20, 40, 24), 8, 64),
    ("2d", (64, 64), 8, 64),
    ("2d", (48, 80), 16, 128),
])
def test_derived_network_runs_on_its_patch_size(configuration, patch, features, max_features):
    plans, (summary,) = derive_cpu_plans_dict(_source_plans(), "cpu", [configuration], features, max_features, patch)
    config = plans["configurations"][configuration]
    arch = config["architecture"]["arch_kwargs"]
    total_pooling = np.prod(np.array(arch["strides"]), axis=0)
    assert np.all(np.array(config["patch_size"]) % total_pooling == 0)
    assert arch["features_per_stage"] == [min(features * 2 ** i, max_features) for i in range(arch["n_stages"])]
    assert len(arch["n_conv_per_stage"]) == arch["n_stages"] == len(arch["kernel_sizes"])
    assert len(arch["n_conv_per_stage_decoder"]) == arch["n_stages"] - 1
    output = _forward(plans, configuration)
    assert tuple(output.shape) == (1, 3, *config["patch_size"])


def test_residual_encoder_plans_keep_their_block_counts_per_stage():
    source = _source_plans()
    arch = source["configurations"]["3d_fullres"]["architecture"]
    arch["network_class_name"] = "dynamic_network_architectures.architectures.unet.ResidualEncoderUNet"
    arch["arch_kwargs"]["n_blocks_per_stage"] = [1, 3, 4, 6]
    arch["arch_kwargs"]["n_conv_per_stage_decoder"] = [1, 1, 1]
    del arch["arch_kwargs"]["n_conv_per_stage"]
    plans, _ = derive_cpu_plans_dict(source, "cpu", ["3d_fullres"], patch_size=(16, 16, 16))
    new_arch = plans["configurations"]["3d_fullres"]["architecture"]["arch_kwargs"]
    assert new_arch["n_stages"] == 3 and new_arch["n_blocks_per_stage"] == [1, 3, 4]
    assert new_arch["n_conv_per_stage_decoder"] == [1, 1]
    assert tuple(_forward(plans, "3d_fullres").shape) == (1, 3, 16, 16, 16)


def test_patch_is_rounded_up_to_the_pooling_factor():
    plans, (summary,) = derive_cpu_plans_dict(_source_plans(), "cpu", ["3d_fullres"], patch_size=(30, 30, 30))
    assert summary.requested_patch_size == (30, 30, 30) and summary.patch_size == (32, 32, 32)
    assert plans["configurations"]["3d_fullres"]["patch_size"] == [32, 32, 32]


def test_anisotropic_spacing_pools_the_coarse_axis_later():
    plans, _ = derive_cpu_plans_dict(_source_plans(), "cpu", ["3d_fullres"], patch_size=(16, 64, 64),
                                     spacing=(3.0, 1.0, 1.0))
    arch = plans["configurations"]["3d_fullres"]["architecture"]["arch_kwargs"]
    assert arch["strides"][1] == [1, 2, 2] and arch["kernel_sizes"][0] == [1, 3, 3]
    assert tuple(_forward(plans, "3d_fullres").shape[2:]) == (16, 64, 64)


def test_unchanged_spacing_keeps_data_identifier_and_new_spacing_gets_its_own():
    source = _source_plans()
    kept, summaries = derive_cpu_plans_dict(source, "nnUNetPlans_cpu")
    assert set(kept["configurations"]) == {"2d", "3d_lowres", "3d_fullres"}  # the cascade is not derived
    assert kept["plans_name"] == "nnUNetPlans_cpu"
    for name, config in kept["configurations"].items():
        assert config["data_identifier"] == source["configurations"][name]["data_identifier"]
        assert config["spacing"] == source["configurations"][name]["spacing"]
        assert "next_stage" not in config
    assert not any(s.needs_preprocessing for s in summaries)

    changed, (summary,) = derive_cpu_plans_dict(source, "nnUNetPlans_cpu", ["3d_fullres"], spacing=(2.0, 2.0, 2.0))
    config = changed["configurations"]["3d_fullres"]
    assert config["data_identifier"] == "nnUNetPlans_cpu_3d_fullres" and summary.needs_preprocessing
    assert config["spacing"] == [2.0, 2.0, 2.0] and config["median_image_size_in_voxels"] == [48.0, 48.0, 48.0]


def test_default_configurations_follow_the_dimension_of_patch_or_spacing():
    plans, _ = derive_cpu_plans_dict(_source_plans(), "cpu", patch_size=(32, 32))
    assert list(plans["configurations"]) == ["2d"]


def test_clear_errors_for_unknown_configuration_and_mismatched_patch():
    with pytest.raises(ValueError, match=r"Unknown configuration '3d'.*2d"):
        derive_cpu_plans_dict(_source_plans(), "cpu", ["3d"])
    with pytest.raises(ValueError, match="cascade"):
        derive_cpu_plans_dict(_source_plans(), "cpu", ["3d_cascade_fullres"])
    with pytest.raises(ValueError, match="does not fit"):
        derive_cpu_plans_dict(_source_plans(), "cpu", ["2d", "3d_fullres"], patch_size=(32, 32, 32))
    with pytest.raises(ValueError, match="too small"):
        derive_cpu_plans_dict(_source_plans(), "cpu", ["2d"], patch_size=(4, 4))


@pytest.fixture
def preprocessed_root(tmp_path, monkeypatch):
    folder = tmp_path / "Dataset123_Toy"
    (folder / "nnUNetPlans_3d_fullres").mkdir(parents=True)  # preprocessed data exist for 3d_fullres only
    (folder / "nnUNetPlans.json").write_text(json.dumps(_source_plans()))
    monkeypatch.setenv("nnUNet_preprocessed", str(tmp_path))
    return tmp_path


def test_writes_plans_file_and_refuses_to_overwrite(preprocessed_root):
    result = derive_cpu_plans(123, ["3d_fullres"])
    assert result.plans_file == str(preprocessed_root / "Dataset123_Toy" / "nnUNetPlans_cpu.json")
    assert PlansManager(result.plans_file).plans_name == "nnUNetPlans_cpu"
    assert result.preprocess_command is None  # data reused
    with pytest.raises(FileExistsError, match="nnUNetPlans_cpu.json"):
        derive_cpu_plans(123, ["3d_fullres"])
    derive_cpu_plans(123, ["3d_fullres"], batch_size=1, overwrite=True)
    assert json.load(open(result.plans_file))["configurations"]["3d_fullres"]["batch_size"] == 1
    with pytest.raises(ValueError, match="must differ"):
        derive_cpu_plans(123, new_plans_name="nnUNetPlans", overwrite=True)


def test_missing_source_plans_lists_the_available_ones(preprocessed_root):
    with pytest.raises(FileNotFoundError, match=r"nnUNetPlansXL.json.*\['nnUNetPlans'\]"):
        derive_cpu_plans(123, source_plans_name="nnUNetPlansXL")
    with pytest.raises(FileNotFoundError, match="Dataset124_"):
        derive_cpu_plans(124)


def test_missing_data_or_new_spacing_asks_for_preprocessing(preprocessed_root):
    result = derive_cpu_plans(123, ["2d"], new_plans_name="cpu2d")
    assert result.preprocess_command == "nnUNetv2_preprocess -d 123 -plans_name cpu2d -c 2d -np 1"
    result = derive_cpu_plans(123, ["3d_fullres"], spacing=(1.5, 1.5, 1.5), new_plans_name="cpu_iso15")
    assert result.configurations[0].data_identifier == "cpu_iso15_3d_fullres"
    assert "-plans_name cpu_iso15 -c 3d_fullres" in result.preprocess_command


def test_cli_prints_the_plans_name_last(preprocessed_root, capsys):
    cpu_plans_main(["-d", "123", "-c", "3d_fullres", "--spacing", "2", "2", "2", "-o", "cpu_s2"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "cpu_s2"
    assert any(line.startswith("Run: nnUNetv2_preprocess -d 123 -plans_name cpu_s2 -c 3d_fullres") for line in lines)
    with pytest.raises(SystemExit, match="already exists"):
        cpu_plans_main(["-d", "123", "-c", "3d_fullres", "-o", "cpu_s2"])
    with pytest.raises(SystemExit, match="Available"):
        cpu_plans_main(["-d", "123", "-c", "3d_highres"])
