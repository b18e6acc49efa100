"""Which plans produced `<data_identifier>_unlabeled/`, so that training refuses images preprocessed differently.

Why: re-planning (say a new target spacing under the same plans name) makes nnU-Net preprocess its own
configuration folder again, but it knows nothing of our `_unlabeled` sibling. Without a record, training
would mix labeled patches at the new spacing with unlabeled patches at the old one, and say nothing.

`nnUNetv2_pscm_preprocess_unlabeled` writes `preprocessing_record.json` into the folder: the plans name, the
configuration, and the plans settings that decide the written voxels, with a hash of them. The trainer
compares that hash with its own plans when it opens the folder.

Only settings that change the preprocessed arrays count. Network, batch size and patch size do not (the patch
size only sets blosc2's chunking), so plans derived without a new spacing (`nnUNetv2_pscm_cpu_plans` keeps the
data_identifier then) share the folder, just as they share nnU-Net's own preprocessed folder.
"""
import hashlib
import json
from os.path import isfile, join
from typing import Optional

from batchgenerators.utilities.file_and_folder_operations import load_json, save_json
from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

RECORD_FILENAME = "preprocessing_record.json"
# what DefaultPreprocessor.run_case_npy reads from the configuration and from the plans
CONFIGURATION_KEYS = ("data_identifier", "preprocessor_name", "spacing", "normalization_schemes", "use_mask_for_norm",
                      "resampling_fn_data", "resampling_fn_data_kwargs")
PLANS_KEYS = ("image_reader_writer", "transpose_forward", "foreground_intensity_properties_per_channel")
SHOWN_VALUE_CHARS = 80


class UnlabeledPlansMismatchError(ValueError):
    """The unlabeled images were preprocessed with other plans; the message names both and the fix."""


def _canonical(value):
    """JSON-like value whose dump does not depend on tuple/list, int/float or tiny float noise."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return _canonical(value.tolist())
    return round(float(value), 6)


def preprocessing_settings(plans: dict, configuration: str) -> dict:
    """The settings of `plans` that decide the preprocessed images of `configuration` (inheritance resolved)."""
    resolved = PlansManager(plans).get_configuration(configuration).configuration
    settings = {key: resolved.get(key) for key in CONFIGURATION_KEYS}
    settings.update({key: plans.get(key) for key in PLANS_KEYS})
    return _canonical(settings)


def settings_fingerprint(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def write_preprocessing_record(folder: str, plans_name: str, configuration: str, plans: dict) -> None:
    settings = preprocessing_settings(plans, configuration)
    save_json({"plans_name": plans_name, "configuration": configuration,
               "fingerprint": settings_fingerprint(settings), "settings": settings},
              join(folder, RECORD_FILENAME), sort_keys=False)


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= SHOWN_VALUE_CHARS else text[:SHOWN_VALUE_CHARS - 3] + "..."


def _differences(recorded: dict, current: dict) -> str:
    keys = sorted(k for k in set(recorded) | set(current) if recorded.get(k) != current.get(k))
    return "; ".join(f"{k} {_short(recorded.get(k))} there, {_short(current.get(k))} now" for k in keys)


def check_preprocessing_record(folder: str, dataset: str, plans_name: str, configuration: str,
                               plans: dict) -> Optional[str]:
    """Raise UnlabeledPlansMismatchError if `folder` was preprocessed with settings other than `plans`'.

    Returns a warning (None when all is well) for a folder written before records existed: it cannot be
    checked, and refusing it would break trainings that were fine."""
    fix = f"`nnUNetv2_pscm_preprocess_unlabeled -d {dataset} -c {configuration} -p {plans_name} --overwrite`"
    record_file = join(folder, RECORD_FILENAME)
    if not isfile(record_file):
        return (f"{folder} has no {RECORD_FILENAME} (preprocessed by an older nnunetv2_pscm), so nothing checks "
                f"that its images match plans '{plans_name}' ({configuration}); if you re-planned since, run {fix}.")
    record = load_json(record_file)
    current = preprocessing_settings(plans, configuration)
    if record.get("fingerprint") == settings_fingerprint(current):
        return None
    raise UnlabeledPlansMismatchError(
        f"{folder} was preprocessed with plans '{record.get('plans_name')}' ({record.get('configuration')}), but "
        f"this training uses plans '{plans_name}' ({configuration}), which preprocess differently: "
        f"{_differences(record.get('settings', {}), current)}. Preprocess the unlabeled images again: {fix}.")
