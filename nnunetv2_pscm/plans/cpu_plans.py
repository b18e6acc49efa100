"""Derive small "CPU plans" (narrower, shallower U-Net, smaller patch and batch) from existing nnU-Net plans.

Used for CPU smoke runs, tests and the demo: `nnUNetv2_train ID 3d_fullres 0 -p nnUNetPlans_cpu -device cpu`.

Design point: as long as the target spacing is unchanged, the preprocessed data do not depend on the
network, so each derived configuration keeps its source `data_identifier` and reuses the data that
`nnUNetv2_plan_and_preprocess` already wrote. Only a new spacing gets a new data identifier
(`<NEW_PLANS>_<CONFIG>`) and needs `nnUNetv2_preprocess -plans_name <NEW_PLANS>`.
"""
import os
from copy import deepcopy
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from batchgenerators.utilities.file_and_folder_operations import load_json, save_json
from nnunetv2.utilities.json_export import recursive_fix_for_json_export
from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

from nnunetv2_pscm.plans.topology import apply_topology, derive_topology

DEFAULT_SOURCE_PLANS = "nnUNetPlans"
DEFAULT_CPU_PLANS = "nnUNetPlans_cpu"


@dataclass(frozen=True)
class CpuDefaults:
    features: int
    max_features: int
    patch_cap: Tuple[int, ...]  # per axis; the default patch is min(cap, median image size)
    batch_size: int


# Chosen so that one iteration of the stock nnUNetTrainer stays well under a second on 2 CPU cores, leaving
# room for SSL trainers (two batches, a teacher). Measured with nnUNet_n_proc_DA=2 on the synthetic data,
# 2 shared cores: 3d ~0.11-0.14 s/iteration (stock nnUNetPlans, F=32, 48^3: ~1.4 s), 2d ~0.055 s/iteration.
CPU_DEFAULTS = {
    2: CpuDefaults(features=8, max_features=64, patch_cap=(64, 64), batch_size=4),
    3: CpuDefaults(features=8, max_features=64, patch_cap=(32, 32, 32), batch_size=2),
}


@dataclass
class DerivedConfiguration:
    name: str
    patch_size: Tuple[int, ...]
    requested_patch_size: Tuple[int, ...]
    spacing: Tuple[float, ...]
    features_per_stage: Tuple[int, ...]
    batch_size: int
    data_identifier: str
    needs_preprocessing: bool  # True when the spacing changed and the data must be preprocessed again
    data_present: Optional[bool] = None  # whether the preprocessed data folder exists (None: not checked)


@dataclass
class CpuPlansResult:
    plans_name: str
    plans_file: str
    dataset_name: str
    configurations: List[DerivedConfiguration] = field(default_factory=list)

    @property
    def preprocess_command(self) -> Optional[str]:
        """The nnUNetv2_preprocess call still needed, or None when the existing data are reused."""
        todo = [c.name for c in self.configurations if c.needs_preprocessing or c.data_present is False]
        if not todo:
            return None
        dataset_id = int(self.dataset_name[len("Dataset"):len("Dataset") + 3])
        return f"nnUNetv2_preprocess -d {dataset_id} -plans_name {self.plans_name} -c {' '.join(todo)} -np 1"


def derive_cpu_plans_dict(source_plans: dict, new_plans_name: str = DEFAULT_CPU_PLANS,
                          configurations: Optional[Sequence[str]] = None, features: Optional[int] = None,
                          max_features: Optional[int] = None, patch_size: Optional[Sequence[int]] = None,
                          batch_size: Optional[int] = None, spacing: Optional[Sequence[float]] = None
                          ) -> Tuple[dict, List[DerivedConfiguration]]:
    """Pure function: new plans dict (only the derived configurations) + a summary of each.

    `patch_size` and `spacing` are in the configuration's own axis order (as in the plans file, i.e.
    after transpose_forward) and only apply to configurations with that many axes. None picks the
    per-dimension defaults of CPU_DEFAULTS (spacing: unchanged)."""
    manager = PlansManager(source_plans)
    available = manager.available_configurations
    derivable = [c for c in available if _is_derivable(manager, c)]
    if configurations is None or len(configurations) == 0:
        # a 3-value --patch/--spacing can only mean the 3d configurations (and 2 values the 2d one)
        wanted_dims = {len(v) for v in (patch_size, spacing) if v is not None}
        configurations = [c for c in derivable
                          if not wanted_dims or {len(manager.get_configuration(c).patch_size)} == wanted_dims]
        if not configurations:
            raise ValueError(f"No configuration in {derivable} has {sorted(wanted_dims)} axes to match --patch/--spacing")
    for name in configurations:
        if name not in available:
            raise ValueError(f"Unknown configuration {name!r}. Available in plans {source_plans.get('plans_name')!r}: "
                             f"{available}")
        if name not in derivable:
            raise ValueError(f"Configuration {name!r} is a cascade stage and cannot be derived on its own; "
                             f"derivable configurations: {derivable}")
    dims = {len(manager.get_configuration(c).patch_size) for c in configurations}
    for option, value in (("patch size", patch_size), ("spacing", spacing)):
        if value is not None and any(len(value) != d for d in dims):
            raise ValueError(f"A {option} of {len(value)} values ({tuple(value)}) does not fit every requested "
                             f"configuration {list(configurations)}; derive 2d and 3d configurations in separate calls.")

    new_plans = deepcopy(source_plans)
    new_plans["plans_name"] = new_plans_name
    new_plans["configurations"] = {}
    new_plans["derived_from"] = {"plans_name": source_plans.get("plans_name"), "by": "nnUNetv2_pscm_cpu_plans"}
    summaries = []
    for name in configurations:
        config, summary = _derive_configuration(manager, name, new_plans_name, features, max_features, patch_size,
                                                batch_size, spacing)
        new_plans["configurations"][name] = config
        summaries.append(summary)
    recursive_fix_for_json_export(new_plans)
    return new_plans, summaries


def derive_cpu_plans(dataset_name_or_id: Union[int, str], configurations: Optional[Sequence[str]] = None,
                     source_plans_name: str = DEFAULT_SOURCE_PLANS, features: Optional[int] = None,
                     max_features: Optional[int] = None, patch_size: Optional[Sequence[int]] = None,
                     batch_size: Optional[int] = None, spacing: Optional[Sequence[float]] = None,
                     new_plans_name: str = DEFAULT_CPU_PLANS, overwrite: bool = False,
                     preprocessed_root: Optional[str] = None) -> CpuPlansResult:
    """Write $nnUNet_preprocessed/DatasetXXX/<new_plans_name>.json derived from <source_plans_name>.json."""
    if new_plans_name == source_plans_name:
        raise ValueError(f"The new plans name must differ from the source plans {source_plans_name!r}, "
                         f"otherwise the source plans would be replaced.")
    dataset_folder = find_preprocessed_dataset_folder(dataset_name_or_id, preprocessed_root)
    source_file = os.path.join(dataset_folder, source_plans_name + ".json")
    if not os.path.isfile(source_file):
        raise FileNotFoundError(f"Source plans file {source_file} does not exist. Plans available in "
                                f"{dataset_folder}: {available_plans(dataset_folder) or 'none'} "
                                f"(run nnUNetv2_plan_and_preprocess -d ... first).")
    new_file = os.path.join(dataset_folder, new_plans_name + ".json")
    if os.path.isfile(new_file) and not overwrite:
        raise FileExistsError(f"Plans file {new_file} already exists. Pass --overwrite (overwrite=True) to replace "
                              f"it, or choose another name with -o.")
    new_plans, summaries = derive_cpu_plans_dict(load_json(source_file), new_plans_name, configurations, features,
                                                 max_features, patch_size, batch_size, spacing)
    for summary in summaries:
        summary.data_present = os.path.isdir(os.path.join(dataset_folder, summary.data_identifier))
    save_json(new_plans, new_file, sort_keys=False)
    return CpuPlansResult(new_plans_name, new_file, os.path.basename(dataset_folder), summaries)


def find_preprocessed_dataset_folder(dataset_name_or_id: Union[int, str], preprocessed_root: Optional[str]) -> str:
    root = preprocessed_root or os.environ.get("nnUNet_preprocessed")
    if not root:
        raise RuntimeError("nnUNet_preprocessed is not set. Export it (see nnU-Net's "
                           "documentation/setting_up_paths.md) or pass preprocessed_root.")
    if isinstance(dataset_name_or_id, str) and dataset_name_or_id.startswith("Dataset"):
        folder = os.path.join(root, dataset_name_or_id)
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"No preprocessed dataset folder {folder}")
        return folder
    prefix = f"Dataset{int(dataset_name_or_id):03d}_"
    matches = sorted(d for d in os.listdir(root) if d.startswith(prefix) and os.path.isdir(os.path.join(root, d))) \
        if os.path.isdir(root) else []
    if len(matches) != 1:
        raise FileNotFoundError(f"Expected exactly one folder {prefix}* in {root}, found {matches or 'none'}. "
                                f"Run nnUNetv2_plan_and_preprocess -d {int(dataset_name_or_id)} first.")
    return os.path.join(root, matches[0])


def available_plans(dataset_folder: str) -> List[str]:
    not_plans = {"dataset.json", "dataset_fingerprint.json", "splits_final.json"}
    return sorted(f[:-len(".json")] for f in os.listdir(dataset_folder) if f.endswith(".json") and f not in not_plans)


def _is_derivable(manager: PlansManager, name: str) -> bool:
    # cascade stages need the previous stage's predictions; a CPU smoke run has no use for them
    return "previous_stage" not in manager.get_configuration(name).configuration


def _derive_configuration(manager: PlansManager, name: str, new_plans_name: str, features, max_features, patch_size,
                          batch_size, spacing) -> Tuple[dict, DerivedConfiguration]:
    # resolved (inheritance applied) so that the new configuration stands on its own
    config = deepcopy(manager.get_configuration(name).configuration)
    config.pop("inherits_from", None)
    config.pop("next_stage", None)  # the cascade is not derived
    dim = len(config["patch_size"])
    defaults = CPU_DEFAULTS[dim]

    old_spacing = np.asarray(config["spacing"], dtype=float)
    new_spacing = old_spacing if spacing is None else np.asarray(spacing, dtype=float)
    if np.any(new_spacing <= 0):
        raise ValueError(f"spacing must be positive, got {tuple(new_spacing)}")
    spacing_changed = not np.allclose(new_spacing, old_spacing)
    median_shape = np.asarray(config["median_image_size_in_voxels"], dtype=float) * old_spacing / new_spacing

    requested_patch = tuple(int(p) for p in patch_size) if patch_size is not None else tuple(
        int(min(cap, max(1, round(m)))) for cap, m in zip(defaults.patch_cap, median_shape))
    topology, new_patch = derive_topology(new_spacing, requested_patch, features or defaults.features,
                                          max_features or defaults.max_features)
    if topology["n_stages"] < 2:
        raise ValueError(f"Patch size {requested_patch} is too small for any pooling (each axis needs at least "
                         f"8 voxels to be pooled); choose a larger --patch.")

    config["architecture"] = deepcopy(config["architecture"])
    config["architecture"]["arch_kwargs"] = apply_topology(config["architecture"]["arch_kwargs"], topology)
    config["patch_size"] = list(new_patch)
    config["batch_size"] = int(batch_size or defaults.batch_size)
    if config["batch_size"] < 1:
        raise ValueError(f"batch size must be >= 1, got {config['batch_size']}")
    if spacing_changed:
        config["spacing"] = [float(s) for s in new_spacing]
        config["median_image_size_in_voxels"] = [float(round(m)) for m in median_shape]
        config["data_identifier"] = f"{new_plans_name}_{name}"
    summary = DerivedConfiguration(name, new_patch, requested_patch, tuple(float(s) for s in new_spacing),
                                   tuple(topology["features_per_stage"]), config["batch_size"],
                                   config["data_identifier"], spacing_changed)
    return config, summary


def describe(result: CpuPlansResult) -> List[str]:
    """Human-readable lines for the CLI."""
    lines = [f"Wrote {result.plans_file}"]
    for c in result.configurations:
        adjusted = "" if c.patch_size == c.requested_patch_size else \
            f" (requested {list(c.requested_patch_size)}, rounded up to a multiple of the pooling factor)"
        if c.needs_preprocessing:
            data = f"new data identifier {c.data_identifier}: preprocessing needed"
        elif c.data_present is False:
            data = f"keeps data identifier {c.data_identifier}, which is not preprocessed yet"
        else:
            data = f"reuses preprocessed data {c.data_identifier}"
        lines.append(f"  {c.name}: patch {list(c.patch_size)}{adjusted}, batch {c.batch_size}, features "
                     f"{list(c.features_per_stage)}, spacing {list(c.spacing)}; {data}")
    if result.preprocess_command:
        lines.append(f"Run: {result.preprocess_command}")
    return lines

