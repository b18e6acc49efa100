"""The one split file: nnU-Net's own `splits_final.json`, whose fold entries gain an `"unlabeled"` list.

    [{"train": [labeled ids], "val": [...], "unlabeled": [...], "role": "ssl"},        # fold 0 .. K-1
     ...,
     {"train": [all training ids of fold 0], "val": [same val], "role": "full_label_reference",
      "reference_for_fold": 0},                                                          # fold K .. 2K-1
     ...]

The stock nnUNetTrainer ignores the extra keys, so `nnUNetv2_train D C i` on an SSL fold is the
labeled-only baseline on exactly the labeled cases our SSL trainers see, and fold `K + i` is the
full-label reference with the same validation cases. Unlabeled ids are either training cases whose
labels are treated as hidden or truly unlabeled images from `imagesUnlabeled/`.
"""
import os
import shutil
from datetime import datetime
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from batchgenerators.utilities.file_and_folder_operations import isfile, load_json, save_json
from nnunetv2.utilities.crossval_split import generate_crossval_split

ROLE_SSL = "ssl"
ROLE_FULL_LABEL = "full_label_reference"
# nnU-Net's own default: 5 folds, seed 12345 (nnUNetTrainer.do_split)
NNUNET_DEFAULT_FOLDS = 5
NNUNET_DEFAULT_SPLIT_SEED = 12345


class SplitError(ValueError):
    """A split file or split request that cannot be used; the message says what to change."""


def is_ssl_split(folds: Sequence[dict]) -> bool:
    return any("unlabeled" in f for f in folds)


def load_splits(path: str) -> List[dict]:
    if not isfile(path):
        raise SplitError(f"No split file at {path}. Create one with `nnUNetv2_pscm_split -d DATASET --labeled N`.")
    folds = load_json(path)
    if not isinstance(folds, list) or not all(isinstance(f, dict) and "train" in f and "val" in f for f in folds):
        raise SplitError(f"{path} is not an nnU-Net split file (expected a list of {{'train': [...], 'val': [...]}}).")
    return folds


def default_base_folds(training_ids: Sequence[str], n_folds: int = NNUNET_DEFAULT_FOLDS) -> List[dict]:
    """Exactly the folds nnU-Net would create itself, so our validation sets match its defaults."""
    if len(training_ids) < n_folds:
        raise SplitError(f"Only {len(training_ids)} training cases: cannot build {n_folds} cross-validation folds.")
    return generate_crossval_split(sorted(training_ids), seed=NNUNET_DEFAULT_SPLIT_SEED, n_splits=n_folds)


def base_folds_from_existing(folds: Sequence[dict], training_ids: Sequence[str]) -> List[dict]:
    """Recover the plain cross-validation folds behind an existing split file.

    A stock split is used as it is (respecting a user's own cross-validation). For an SSL split we undo
    our own work: labeled + hidden-label training cases form the fold's training set again; truly
    unlabeled images and the full-label reference entries are dropped. A benchmark split (see
    `make_benchmark_folds`) gives back its base folds in increasing base fold number.
    """
    if is_benchmark_split(folds):  # several SSL entries share one base fold: read the reference entries
        return [fold for _, fold in sorted(benchmark_base_folds(folds).items())]
    if not is_ssl_split(folds):
        return [{"train": list(f["train"]), "val": list(f["val"])} for f in folds]
    known = set(training_ids)
    base = []
    for f in folds:
        if f.get("role", ROLE_SSL) != ROLE_SSL or "unlabeled" not in f:
            continue
        train = list(f["train"]) + [u for u in f["unlabeled"] if u in known]
        base.append({"train": sorted(train), "val": list(f["val"])})
    return base


def choose_num_labeled(n_train: int, num_labeled: Optional[int], fraction: Optional[float]) -> int:
    if (num_labeled is None) == (fraction is None):
        raise SplitError("Give exactly one of --labeled N and --fraction F.")
    if fraction is not None:
        if not 0 < fraction < 1:
            raise SplitError(f"--fraction must be in (0, 1), got {fraction}.")
        num_labeled = max(1, int(round(fraction * n_train)))
    if not 1 <= num_labeled < n_train:
        raise SplitError(f"--labeled must be between 1 and {n_train - 1} (the fold has {n_train} training cases, "
                         f"at least one must stay unlabeled), got {num_labeled}.")
    return num_labeled


def make_ssl_folds(base_folds: Sequence[dict], num_labeled: Optional[int] = None, fraction: Optional[float] = None,
                   seed: int = 0, extra_unlabeled_ids: Sequence[str] = ()) -> List[dict]:
    """Per base fold: a seeded random labeled subset of its training cases, the rest unlabeled, val unchanged.
    Then one full-label reference fold per base fold (same val, all training labels)."""
    ssl_folds, reference_folds = [], []
    for i, fold in enumerate(base_folds):
        train = sorted(fold["train"])
        n_lab = choose_num_labeled(len(train), num_labeled, fraction)
        rng = np.random.RandomState(seed + i)
        labeled = sorted(rng.choice(train, n_lab, replace=False).tolist())
        labeled_set = set(labeled)
        unlabeled = [c for c in train if c not in labeled_set] + list(extra_unlabeled_ids)
        ssl_folds.append({"train": labeled, "val": list(fold["val"]), "unlabeled": unlabeled, "role": ROLE_SSL})
        reference_folds.append({"train": train, "val": list(fold["val"]), "role": ROLE_FULL_LABEL,
                                "reference_for_fold": i})
    return ssl_folds + reference_folds


def fold_from_preset(preset_split: Dict[str, list], extra_unlabeled_ids: Sequence[str] = ()) -> List[dict]:
    """A published protocol gives one fold, plus its full-label reference as fold 1."""
    ssl = {"train": list(preset_split["train"]), "val": list(preset_split["val"]),
           "unlabeled": list(preset_split["unlabeled"]) + list(extra_unlabeled_ids), "role": ROLE_SSL}
    full = {"train": list(preset_split["train"]) + list(preset_split["unlabeled"]), "val": list(preset_split["val"]),
            "role": ROLE_FULL_LABEL, "reference_for_fold": 0}
    return [ssl, full]


def write_splits(path: str, folds: Sequence[dict], overwrite: bool = False) -> Optional[str]:
    """Write atomically. An existing file is replaced only with overwrite=True, and then kept as a
    timestamped backup next to it; returns the backup path (or None)."""
    backup = None
    if isfile(path):
        if not overwrite:
            raise SplitError(f"{path} already exists. Pass --overwrite to replace it (a backup is kept).")
        backup = path + ".backup-" + datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        shutil.copyfile(path, backup)
    tmp = path + ".tmp"
    save_json(list(folds), tmp, sort_keys=False)
    os.replace(tmp, path)
    return backup


def validate_ssl_fold(fold_entry: dict, fold: int, labeled_ids: Sequence[str], unlabeled_image_ids: Sequence[str],
                      split_path: str) -> None:
    """Checks the trainer runs at start: clear errors instead of a crash deep in a worker process."""
    if "unlabeled" not in fold_entry or len(fold_entry["unlabeled"]) == 0:
        raise SplitError(
            f"Fold {fold} of {split_path} lists no unlabeled cases. Write a semi-supervised split with "
            f"`nnUNetv2_pscm_split -d DATASET --labeled N` (hides the labels of the other training cases), or put "
            f"images without labels into nnUNet_raw/DatasetXXX/imagesUnlabeled/, run "
            f"`nnUNetv2_pscm_preprocess_unlabeled -d DATASET -c CONFIG` and then "
            f"`nnUNetv2_pscm_split ... --include-unlabeled-images`.")
    train, val, unl = set(fold_entry["train"]), set(fold_entry["val"]), list(fold_entry["unlabeled"])
    both = train.intersection(unl)
    if both:
        raise SplitError(f"Fold {fold} of {split_path}: cases listed as both labeled and unlabeled: {sorted(both)[:10]}")
    in_val = val.intersection(unl)
    if in_val:
        raise SplitError(f"Fold {fold} of {split_path}: validation cases must not be used as unlabeled training "
                         f"data: {sorted(in_val)[:10]}")
    known = set(labeled_ids).union(unlabeled_image_ids)
    unknown = [u for u in unl if u not in known]
    if unknown:
        raise SplitError(
            f"Fold {fold} of {split_path} names {len(unknown)} unlabeled case(s) that are neither preprocessed "
            f"training cases nor preprocessed unlabeled images: {unknown[:10]}. Preprocess imagesUnlabeled with "
            f"`nnUNetv2_pscm_preprocess_unlabeled` for this configuration, or fix the split.")


# ---- benchmark splits: many labeled settings side by side in the one split file ----------------------------------
#
# nnU-Net reads exactly one splits_final.json per dataset, so a benchmark that compares several labeled counts, seeds
# and base folds writes them all as separate fold indices:
#
#     [{"train": [labeled], "val": [...], "unlabeled": [...], "role": "ssl",
#       "base_fold": 0, "num_labeled": 4, "seed": 0},                       # one per (setting, seed, base fold)
#      ...,
#      {"train": [all training ids], "val": [same val], "role": "full_label_reference",
#       "base_fold": 0, "reference_for_fold": [0, 1, ...]}]                 # one per base fold
#
# "base_fold" marks a benchmark split: it is what lets us recover the cross-validation behind it, because one base
# fold now appears in several SSL entries. The extra keys are ignored by nnU-Net.

def is_benchmark_split(folds: Sequence[dict]) -> bool:
    return any("base_fold" in f for f in folds)


def benchmark_base_folds(folds: Sequence[dict]) -> Dict[int, dict]:
    """base fold number -> {"train", "val"} of a benchmark split, read from its full-label reference entries."""
    base = {}
    for f in folds:
        if f.get("role") == ROLE_FULL_LABEL and "base_fold" in f:
            base[int(f["base_fold"])] = {"train": sorted(f["train"]), "val": list(f["val"])}
    return base


def make_benchmark_folds(base_folds: Dict[int, dict], labeled_settings: Sequence[dict],
                         extra_unlabeled_ids: Sequence[str] = ()) -> Tuple[List[dict], List[dict]]:
    """All requested labeled settings as separate folds, plus one full-label reference fold per base fold.

    Args:
        base_folds: base fold number -> {"train", "val"}; every entry is used, in increasing fold number.
        labeled_settings: each {"num_labeled": N} or {"fraction": F}, plus "seed" (default 0). The labeled subset of
            base fold b with seed s is exactly the one `nnUNetv2_pscm_split --labeled N --seed s` writes for fold b.
        extra_unlabeled_ids: truly unlabeled images added to every SSL fold.

    Returns:
        (folds, index): the split file entries, and one index entry per fold
        {"fold", "role", "base_fold", "num_labeled", "fraction", "seed"} (fraction/seed None where not applicable).
    """
    if not base_folds:
        raise SplitError("No base folds given for the benchmark split.")
    if not labeled_settings:
        raise SplitError("No labeled settings given for the benchmark split.")
    folds, index = [], []
    ssl_folds_of_base: Dict[int, List[int]] = {b: [] for b in base_folds}
    for setting in labeled_settings:
        num_labeled, fraction, seed = setting.get("num_labeled"), setting.get("fraction"), int(setting.get("seed", 0))
        for b in sorted(base_folds):
            # make_ssl_folds seeds fold i with seed + i; passing seed + b gives base fold b the subset that
            # nnUNetv2_pscm_split writes for fold b
            ssl = make_ssl_folds([base_folds[b]], num_labeled, fraction, seed + b, extra_unlabeled_ids)[0]
            ssl.update({"base_fold": b, "num_labeled": len(ssl["train"]), "seed": seed})
            if fraction is not None:
                ssl["fraction"] = fraction
            ssl_folds_of_base[b].append(len(folds))
            index.append({"fold": len(folds), "role": ROLE_SSL, "base_fold": b, "num_labeled": len(ssl["train"]),
                          "fraction": fraction, "seed": seed})
            folds.append(ssl)
    for b in sorted(base_folds):
        train = sorted(base_folds[b]["train"])
        index.append({"fold": len(folds), "role": ROLE_FULL_LABEL, "base_fold": b, "num_labeled": len(train),
                      "fraction": None, "seed": None})
        folds.append({"train": train, "val": list(base_folds[b]["val"]), "role": ROLE_FULL_LABEL, "base_fold": b,
                      "reference_for_fold": ssl_folds_of_base[b]})
    return folds, index


# ---- benchmark splits from published presets ---------------------------------------------------------------------
#
# A preset fixes the labeled, validation and unlabeled cases, so there is no cross-validation behind it and seeds
# can only be training replicates: the same entry again under another fold number, trained independently.
#
#     [{"train": [labeled], "val": [...], "unlabeled": [...], "role": "ssl", "preset": "LA-4",
#       "num_labeled": 4, "seed": 0},                                        # preset-major, seed-minor
#      ...,
#      {"train": [all training ids but val (and test)], "val": [same val], "role": "full_label_reference",
#       "seed": 0, "reference_for_fold": [ssl folds of seed 0]}]             # one per seed

def make_preset_benchmark_folds(preset_splits: Dict[str, dict], seeds: Sequence[int], case_ids: Sequence[str],
                                extra_unlabeled_ids: Sequence[str] = ()) -> Tuple[List[dict], List[dict]]:
    """All presets x seeds as SSL folds, then one full-label reference fold per seed.

    Args:
        preset_splits: preset name -> `presets.get_preset_split(name, case_ids)`, in the order to write them. All
            must share their validation cases (one full-label reference per seed serves them all).
        seeds: training replicates.
        case_ids: the dataset's training cases; the full-label reference trains on all of them except the
            validation cases and any preset test case (test cases are usually absent from imagesTr anyway).
        extra_unlabeled_ids: truly unlabeled images added to every SSL fold.

    Returns:
        (folds, index) as `make_benchmark_folds` returns them; index entries have "base_fold": None and "preset".
    """
    if not preset_splits:
        raise SplitError("No presets given for the benchmark split.")
    if not seeds:
        raise SplitError("No seeds given for the benchmark split.")
    val = list(next(iter(preset_splits.values()))["val"])
    differing = [name for name, split in preset_splits.items() if list(split["val"]) != val]
    if differing:
        raise SplitError(f"presets {list(preset_splits)} do not share their validation cases ({differing} differ "
                         f"from {list(preset_splits)[0]}); compare presets of one protocol in one benchmark.")
    held_out = set(val).union(*(split.get("test", []) for split in preset_splits.values()))
    full_train = sorted(c for c in dict.fromkeys(case_ids) if c not in held_out)
    folds, index = [], []
    ssl_folds_of_seed: Dict[int, List[int]] = {s: [] for s in seeds}
    for name, split in preset_splits.items():
        for seed in seeds:
            ssl = fold_from_preset(split, extra_unlabeled_ids)[0]
            ssl.update({"preset": name, "num_labeled": len(ssl["train"]), "seed": seed})
            ssl_folds_of_seed[seed].append(len(folds))
            index.append({"fold": len(folds), "role": ROLE_SSL, "base_fold": None, "num_labeled": len(ssl["train"]),
                          "fraction": None, "seed": seed, "preset": name})
            folds.append(ssl)
    for seed in seeds:
        index.append({"fold": len(folds), "role": ROLE_FULL_LABEL, "base_fold": None, "num_labeled": len(full_train),
                      "fraction": None, "seed": seed, "preset": None})
        folds.append({"train": list(full_train), "val": list(val), "role": ROLE_FULL_LABEL, "seed": seed,
                      "reference_for_fold": ssl_folds_of_seed[seed]})
    return folds, index
