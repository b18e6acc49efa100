"""The benchmark's split: every labeled setting as its own fold index in the dataset's one splits_final.json.

Labeled counts / fractions are drawn from base cross-validation folds (split_file.make_benchmark_folds); presets
give their published cases, each seed a training replicate (split_file.make_preset_benchmark_folds).

An identical existing file is reused (so a benchmark resumes), a different one is replaced only with
`overwrite_split: true` (a backup is kept), because nnU-Net results already trained on its fold numbers would
otherwise silently change meaning.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from batchgenerators.utilities.file_and_folder_operations import isfile

from nnunetv2_pscm.benchmark_runner.config import BenchmarkConfig
from nnunetv2_pscm.data import split_file as sf

WRITE, REUSE, REPLACE = "write", "reuse", "replace"


@dataclass
class BenchmarkSplit:
    path: str
    folds: List[dict]
    index: List[dict]  # one entry per fold: fold, role, base_fold, num_labeled, fraction, seed (+ preset)
    action: str  # WRITE (no file yet), REUSE (identical file), REPLACE (different file, overwrite_split)


def _same_fold(a: dict, b: dict) -> bool:
    return sorted(a["train"]) == sorted(b["train"]) and sorted(a["val"]) == sorted(b["val"])


def base_folds_for_benchmark(existing: Optional[List[dict]], training_ids: Sequence[str], wanted: Sequence[int],
                             split_path: str) -> Dict[int, dict]:
    """The cross-validation folds to build on: the existing split's (a user's own CV is respected), nnU-Net's
    default 5 folds when there is no split file yet."""
    if existing is None:
        available = dict(enumerate(sf.default_base_folds(training_ids)))
    elif sf.is_benchmark_split(existing):
        available = sf.benchmark_base_folds(existing)
        # an earlier benchmark may have used only some base folds; if they are nnU-Net's default ones, the
        # others can be taken from the same default cross-validation
        try:
            default = dict(enumerate(sf.default_base_folds(training_ids)))
        except sf.SplitError:
            default = {}
        if available and all(b in default and _same_fold(f, default[b]) for b, f in available.items()):
            available = default
    else:
        available = dict(enumerate(sf.base_folds_from_existing(existing, training_ids)))
    missing = [b for b in wanted if b not in available]
    if missing:
        raise sf.SplitError(f"'folds' asks for base fold(s) {missing}, but the cross-validation in {split_path} has "
                            f"only base folds {sorted(available)}.")
    return {b: available[b] for b in wanted}


def labeled_settings(config: BenchmarkConfig) -> List[dict]:
    values = [{"num_labeled": n} for n in config.labeled] + [{"fraction": f} for f in config.fractions]
    return [dict(v, seed=s) for v in values for s in config.seeds]


def _canonical(folds) -> str:
    return json.dumps(folds, sort_keys=True)


def preset_folds(config: BenchmarkConfig, training_ids: Sequence[str],
                 extra_unlabeled_ids: Sequence[str] = ()) -> Tuple[List[dict], List[dict]]:
    from nnunetv2_pscm.data.presets import get_preset_split

    splits = {}
    for name in config.presets:
        try:
            splits[name] = get_preset_split(name, training_ids)
        except ValueError as error:  # names the preset and the cases the dataset lacks
            raise sf.SplitError(f"'presets': {error}") from error
    try:
        return sf.make_preset_benchmark_folds(splits, config.seeds, training_ids, extra_unlabeled_ids)
    except sf.SplitError as error:
        raise sf.SplitError(f"'presets': {error}") from error


def build_benchmark_split(config: BenchmarkConfig, split_path: str, training_ids: Sequence[str],
                          extra_unlabeled_ids: Sequence[str] = ()) -> BenchmarkSplit:
    """Compute the split (nothing is written) and decide what to do with an existing file."""
    existing = sf.load_splits(split_path) if isfile(split_path) else None
    if config.presets:
        folds, index = preset_folds(config, training_ids, extra_unlabeled_ids)
    else:
        base = base_folds_for_benchmark(existing, training_ids, config.folds, split_path)
        try:
            folds, index = sf.make_benchmark_folds(base, labeled_settings(config), extra_unlabeled_ids)
        except sf.SplitError as error:
            key = "labeled" if config.labeled else "fractions"
            raise sf.SplitError(f"'{key}' cannot be used with the training cases of the requested folds: {error}") \
                from error
    if existing is None:
        action = WRITE
    elif _canonical(existing) == _canonical(folds):
        action = REUSE
    elif config.overwrite_split:
        action = REPLACE
    else:
        raise sf.SplitError(
            f"{split_path} exists and differs from the split this benchmark needs ({len(existing)} folds there, "
            f"{len(folds)} needed). nnU-Net reads only this one file per dataset, and results already trained on "
            f"its fold numbers belong to it. Set 'overwrite_split: true' in the config to replace it (a backup is "
            f"kept next to it).")
    return BenchmarkSplit(split_path, folds, index, action)


def write_benchmark_split(split: BenchmarkSplit) -> Optional[str]:
    """Write the split file when needed; returns the backup path of a replaced file (or None)."""
    if split.action == REUSE:
        return None
    return sf.write_splits(split.path, split.folds, overwrite=split.action == REPLACE)


def write_index(split: BenchmarkSplit, runs, path: str) -> None:
    """setting -> fold number, plus which runs use each fold: the key to read nnU-Net's fold_X folders."""
    by_fold: Dict[int, List[str]] = {}
    for run in runs:
        by_fold.setdefault(run.fold, []).append(run.nnunet_trainer)
    entries = [dict(e, trainers=by_fold.get(e["fold"], []), num_val=len(split.folds[e["fold"]]["val"]))
               for e in split.index]
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"split_file": split.path, "folds": entries}, f, indent=2)
    os.replace(tmp, path)
