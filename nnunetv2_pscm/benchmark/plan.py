"""Which runs a benchmark needs, and what state each is in.

Per SSL fold (one per labeled setting x seed x base fold): the stock nnUNetTrainer (the labeled-only baseline on
exactly the labeled cases the SSL trainers see) and every SSL trainer. Per full-label reference fold (one per base
fold, same validation cases): the stock nnUNetTrainer.

Status of a run, from nnU-Net's fold folder:
  done        checkpoint_final.pth, validation/summary.json and every validation prediction exist: reused
  revalidate  checkpoint_final.pth exists but validation is incomplete: `nnUNetv2_train ... --val`
  resume      checkpoint_latest.pth only (interrupted): `nnUNetv2_train ... --c`
  new         nothing yet
  conflict    the folder was trained on a different split entry under the same fold number (known from the entry
              the benchmark stored in the folder, or, for folders trained outside a benchmark, from the training
              and validation case counts in nnU-Net's training log)
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import List, Optional, Sequence

from nnunetv2_pscm.benchmark.config import STOCK_TRAINER, BenchmarkConfig
from nnunetv2_pscm.data.split_file import ROLE_FULL_LABEL

DONE, REVALIDATE, RESUME, NEW, CONFLICT = "done", "revalidate", "resume", "new", "conflict"
ROLE_SSL_RUN, ROLE_LABELED_ONLY, ROLE_FULL = "ssl", "labeled_only", "full_label"
# written into nnU-Net's fold folder when the benchmark starts a run, so a later split change cannot make a
# benchmark silently reuse a model trained on different cases under the same fold number
SPLIT_ENTRY_MARKER = "pscm_benchmark_split_entry.json"
SPLIT_SIZE_LINE = re.compile(r"This split has (\d+) training and (\d+) validation cases")


@dataclass(frozen=True)
class Run:
    fold: int  # fold index in splits_final.json
    trainer: str  # as listed in the config
    nnunet_trainer: str  # the name given to nnU-Net (with the schedule suffix)
    role: str  # ROLE_SSL_RUN, ROLE_LABELED_ONLY or ROLE_FULL
    base_fold: int
    num_labeled: int
    fraction: Optional[float]
    seed: Optional[int]

    @property
    def run_id(self) -> str:
        return f"fold{self.fold:02d}_{self.nnunet_trainer}"

    @property
    def method(self) -> str:
        """The row label of the results table."""
        if self.role == ROLE_LABELED_ONLY:
            return f"{self.trainer} (labeled only)"
        if self.role == ROLE_FULL:
            return f"{self.trainer} (full labels)"
        return self.trainer

    @property
    def setting(self) -> str:
        if self.role == ROLE_FULL:
            return "full"
        return f"{self.fraction:g}" if self.fraction is not None else str(self.num_labeled)


def plan_runs(config: BenchmarkConfig, index: Sequence[dict]) -> List[Run]:
    runs = []
    for entry in index:
        common = dict(fold=entry["fold"], base_fold=entry["base_fold"], num_labeled=entry["num_labeled"],
                      fraction=entry["fraction"], seed=entry["seed"])
        if entry["role"] == ROLE_FULL_LABEL:
            runs.append(Run(trainer=STOCK_TRAINER, nnunet_trainer=config.scheduled(STOCK_TRAINER), role=ROLE_FULL,
                            **common))
            continue
        runs.append(Run(trainer=STOCK_TRAINER, nnunet_trainer=config.scheduled(STOCK_TRAINER),
                        role=ROLE_LABELED_ONLY, **common))
        runs.extend(Run(trainer=t, nnunet_trainer=config.scheduled(t), role=ROLE_SSL_RUN, **common)
                    for t in config.ssl_trainers)
    return runs


def fold_folder(results_dataset_folder: str, run: Run, plans: str, configuration: str) -> str:
    """nnU-Net's output folder of a run (as nnunetv2.utilities.file_path_utilities.get_output_folder builds it)."""
    return os.path.join(results_dataset_folder, f"{run.nnunet_trainer}__{plans}__{configuration}", f"fold_{run.fold}")


def missing_validation_predictions(folder: str, val_cases: Sequence[str], file_ending: str) -> List[str]:
    validation = os.path.join(folder, "validation")
    return [c for c in val_cases if not os.path.isfile(os.path.join(validation, c + file_ending))]


def split_entry_of_marker(folder: str) -> Optional[dict]:
    path = os.path.join(folder, SPLIT_ENTRY_MARKER)
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def write_split_entry_marker(folder: str, split_entry: dict) -> None:
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, SPLIT_ENTRY_MARKER), "w") as f:
        json.dump(split_entry, f, indent=1)


def same_split_entry(a: dict, b: dict) -> bool:
    return all(sorted(a.get(k, [])) == sorted(b.get(k, [])) for k in ("train", "val", "unlabeled"))


def split_sizes_in_training_log(folder: str) -> Optional[tuple]:
    """(training, validation) case counts nnU-Net logged for its latest run in this folder, if any."""
    logs = sorted(f for f in os.listdir(folder) if f.startswith("training_log_") and f.endswith(".txt"))
    for name in reversed(logs):
        with open(os.path.join(folder, name)) as f:
            found = SPLIT_SIZE_LINE.findall(f.read())
        if found:
            return int(found[-1][0]), int(found[-1][1])
    return None


def run_status(folder: str, split_entry: dict, file_ending: str) -> str:
    marker = split_entry_of_marker(folder)
    if marker is not None and not same_split_entry(marker, split_entry):
        return CONFLICT
    if marker is None and os.path.isdir(folder):
        # trained outside a benchmark (no marker): at least nnU-Net's logged split sizes must match this fold
        sizes = split_sizes_in_training_log(folder)
        if sizes is not None and sizes != (len(split_entry["train"]), len(split_entry["val"])):
            return CONFLICT
    if os.path.isfile(os.path.join(folder, "checkpoint_final.pth")):
        complete = os.path.isfile(os.path.join(folder, "validation", "summary.json")) and \
            not missing_validation_predictions(folder, split_entry["val"], file_ending)
        return DONE if complete else REVALIDATE
    if os.path.isfile(os.path.join(folder, "checkpoint_latest.pth")):
        return RESUME
    return NEW


def format_plan(runs: Sequence[Run], statuses: Sequence[str]) -> str:
    header = ("fold", "trainer", "role", "labeled", "seed", "base fold", "status")
    rows = [(str(r.fold), r.nnunet_trainer, r.role, f"{r.num_labeled}" + (f" ({r.fraction:g})" if r.fraction else ""),
             "-" if r.seed is None else str(r.seed), str(r.base_fold), s) for r, s in zip(runs, statuses)]
    widths = [max(len(x) for x in col) for col in zip(header, *rows)]
    lines = ["  ".join(x.ljust(w) for x, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
