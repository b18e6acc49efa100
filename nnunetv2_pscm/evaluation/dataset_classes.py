"""Which classes to evaluate, read from an nnU-Net dataset.json (labels or regions, ignore label).

Label-based datasets evaluate every foreground label (``{"background": 0, "LA": 1}``). Region-based
datasets (labels given as lists + ``regions_class_order``, e.g. BraTS ``"whole tumor": [1, 2, 3]``)
evaluate every foreground region, whose mask is the union of its labels in both the reference and the
prediction (nnU-Net writes region predictions back into label space). The ``"ignore"`` entry is never
evaluated; its voxels are excluded (see :mod:`nnunetv2_pscm.evaluation.metrics`).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import FrozenSet, Optional, Tuple, Union

LabelOrRegion = Union[int, Tuple[int, ...]]


@dataclass(frozen=True)
class EvaluationClasses:
    """Foreground classes of a dataset, in dataset.json order.

    Attributes:
        names: one name per class (the dataset.json key).
        labels_or_regions: ints (labels) or tuples of ints (regions), aligned with ``names``.
        allowed_values: every value a segmentation file may contain (background, labels, ignore).
        ignore_label: the ignore label, or ``None``.
        has_regions: whether the dataset is region-based.
    """

    names: Tuple[str, ...]
    labels_or_regions: Tuple[LabelOrRegion, ...]
    allowed_values: FrozenSet[int]
    ignore_label: Optional[int]
    has_regions: bool


def _is_background(value) -> bool:
    values = value if isinstance(value, (list, tuple)) else [value]
    return all(int(v) == 0 for v in values)


def _as_label_tuple(value) -> Tuple[int, ...]:
    return tuple(int(v) for v in (value if isinstance(value, (list, tuple)) else [value]))


def classes_from_dataset_json(dataset_json: dict) -> EvaluationClasses:
    """Foreground labels or regions (with names) of a dataset.json, by nnU-Net's rules.

    The rules are those of nnU-Net's ``LabelManager`` (background must be 0; the dataset is region-based
    when any entry is a list of more than one label, and then needs one ``regions_class_order`` entry per
    foreground region; ``"ignore"`` must be a single int above every other label). They are re-stated here
    because ``label_handling`` imports torch, which would add seconds to every evaluation process; a test
    checks that both agree.

    Args:
        dataset_json: the parsed dataset.json (needs ``labels``; ``regions_class_order`` if region-based).

    Returns:
        The :class:`EvaluationClasses` to evaluate.

    Raises:
        ValueError: if ``labels`` is missing or breaks one of the rules above.
    """
    label_dict = dataset_json.get("labels")
    if not isinstance(label_dict, dict):
        raise ValueError("dataset.json has no 'labels' dictionary")
    if "background" not in label_dict or isinstance(label_dict["background"], (list, tuple)) or int(
        label_dict["background"]
    ) != 0:
        raise ValueError(f"dataset.json labels must declare 'background': 0, got {label_dict}")
    has_regions = any(isinstance(v, (list, tuple)) and len(v) > 1 for v in label_dict.values())

    names, labels_or_regions, all_labels = [], [], set()
    for name, value in label_dict.items():
        if name == "ignore":
            continue
        members = _as_label_tuple(value)
        all_labels.update(members)
        if _is_background(value):
            continue
        names.append(str(name))
        # a one-element list in a label-based dataset is just that label
        labels_or_regions.append(members if has_regions else members[0])
    if not names:
        raise ValueError(f"dataset.json labels declare no foreground class: {label_dict}")
    if has_regions:
        order = dataset_json.get("regions_class_order")
        if order is None or len(order) != len(names):
            raise ValueError(
                f"region-based dataset.json needs 'regions_class_order' with one entry per foreground region "
                f"({len(names)}), got {order}"
            )

    ignore_label = label_dict.get("ignore")
    if ignore_label is not None:
        if isinstance(ignore_label, (list, tuple)) or int(ignore_label) <= max(all_labels):
            raise ValueError(f"the ignore label must be one int above every other label, got {ignore_label}")
        ignore_label = int(ignore_label)
    allowed = all_labels | {0} | ({ignore_label} if ignore_label is not None else set())
    return EvaluationClasses(
        names=tuple(names),
        labels_or_regions=tuple(labels_or_regions),
        allowed_values=frozenset(allowed),
        ignore_label=ignore_label,
        has_regions=has_regions,
    )


def load_dataset_json_for(dataset_name_or_id: Union[str, int]) -> Tuple[dict, str]:
    """Load dataset.json of a dataset from ``nnUNet_preprocessed`` (preferred) or ``nnUNet_raw``.

    Args:
        dataset_name_or_id: ``"Dataset004_Hippocampus"``, ``"4"`` or ``4``.

    Returns:
        ``(dataset_json, path_it_was_read_from)``.

    Raises:
        FileNotFoundError: if neither location holds a dataset.json for that dataset.
    """
    from nnunetv2.paths import nnUNet_preprocessed, nnUNet_raw
    from nnunetv2.utilities.dataset_name_id_conversion import maybe_convert_to_dataset_name

    dataset_name = maybe_convert_to_dataset_name(dataset_name_or_id)
    # the nnU-Net 2.8 path objects are falsy when their environment variable is unset
    bases = [base for base in (nnUNet_preprocessed, nnUNet_raw) if base]
    candidates = [os.path.join(base, dataset_name, "dataset.json") for base in bases]
    for candidate in candidates:
        if os.path.isfile(candidate):
            with open(candidate) as f:
                return json.load(f), candidate
    raise FileNotFoundError(f"no dataset.json for {dataset_name}; looked at {candidates}")
