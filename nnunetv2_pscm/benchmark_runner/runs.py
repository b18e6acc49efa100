"""Which runs a benchmark needs, and what state each is in.

Per SSL fold (one per labeled setting x seed x base fold, or preset x seed): the stock nnUNetTrainer (the
labeled-only baseline on exactly the labeled cases the SSL trainers see) and every SSL trainer. With warm_start the
SSL trainers start from that labeled-only run's checkpoint_final, and a stock run with the same total budget follows
them. Per full-label reference fold (one per base fold, or per seed with presets; same validation cases): the stock
nnUNetTrainer. The list is in training order: per fold labeled-only, SSL trainers, equal-budget run; full-label
runs last, so that an interruption costs the least useful work.

Status of a run, from nnU-Net's fold folder:
  done        checkpoint_final.pth, validation/summary.json and every validation prediction exist: reused
  revalidate  checkpoint_final.pth exists but validation is incomplete: `nnUNetv2_train ... --val`
  resume      checkpoint_latest.pth only (interrupted): `nnUNetv2_train ... --c`
  new         nothing yet
  conflict    the folder was trained on a different split entry under the same fold number (known from the entry
              the benchmark stored in the folder, or, for folders trained outside a benchmark, from the training
              and validation case counts in nnU-Net's training log), or it was started warm while the config
              wants it cold or vice versa (from the benchmark's init marker, else the SSL trainers' log line)
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass
from typing import List, Optional, Sequence

from nnunetv2_pscm.benchmark_runner.config import STOCK_TRAINER, BenchmarkConfig
from nnunetv2_pscm.data.split_file import ROLE_FULL_LABEL

DONE, REVALIDATE, RESUME, NEW, CONFLICT = "done", "revalidate", "resume", "new", "conflict"
ROLE_SSL_RUN, ROLE_LABELED_ONLY, ROLE_FULL = "ssl", "labeled_only", "full_label"
ROLE_EQUAL_BUDGET = "labeled_only_equal_budget"  # warm_start: stock trainer, labeled-only + SSL epochs together
# written into nnU-Net's fold folder when the benchmark starts a run, so a later split change cannot make a
# benchmark silently reuse a model trained on different cases under the same fold number
SPLIT_ENTRY_MARKER = "pscm_benchmark_split_entry.json"
SPLIT_SIZE_LINE = re.compile(r"This split has (\d+) training and (\d+) validation cases")
# written when the benchmark starts a new run: whether it was warm-started (a warm and a cold run of one trainer share
# nnU-Net's folder name, so toggling warm_start must not reuse the other kind silently)
INIT_MARKER = "pscm_benchmark_init.json"
WARM_START_LOG_LINE = "Warm start from"  # nnUNetTrainerSSL's log line at the start of a warm-started training
CHECKPOINTS = ("checkpoint_final.pth", "checkpoint_latest.pth")


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
    preset: Optional[str] = None
    # warm_start: the nnU-Net trainer of the same fold whose checkpoint_final initialises this run when it is new
    pretrained_from: Optional[str] = None

    @property
    def run_id(self) -> str:
        return f"fold{self.fold:02d}_{self.nnunet_trainer}"

    @property
    def warm_started(self) -> bool:
        return self.pretrained_from is not None

    @property
    def method(self) -> str:
        """The row label of the results table."""
        if self.role == ROLE_LABELED_ONLY:
            return f"{self.trainer} (labeled only)"
        if self.role == ROLE_EQUAL_BUDGET:
            return f"{self.trainer} (labeled only, same total budget (2x))"
        if self.role == ROLE_FULL:
            return f"{self.trainer} (full labels)"
        return f"{self.trainer} (warm-started)" if self.warm_started else self.trainer

    @property
    def setting(self) -> str:
        if self.role == ROLE_FULL:
            return "full"
        if self.preset is not None:
            return self.preset
        return f"{self.fraction:g}" if self.fraction is not None else str(self.num_labeled)

    @property
    def where(self) -> str:
        """Setting and replicate in words, for progress lines."""
        if self.preset is not None or self.base_fold is None:
            return f"setting {self.setting}, seed {self.seed}"
        return f"labeled {self.num_labeled}, base fold {self.base_fold}"


def plan_runs(config: BenchmarkConfig, index: Sequence[dict]) -> List[Run]:
    """The runs in training order (the index lists SSL folds before the full-label ones)."""
    runs = []
    for entry in index:
        common = dict(fold=entry["fold"], base_fold=entry["base_fold"], num_labeled=entry["num_labeled"],
                      fraction=entry["fraction"], seed=entry["seed"], preset=entry.get("preset"))
        if entry["role"] == ROLE_FULL_LABEL:
            runs.append(Run(trainer=STOCK_TRAINER, nnunet_trainer=config.scheduled(STOCK_TRAINER), role=ROLE_FULL,
                            **common))
            continue
        labeled_only = Run(trainer=STOCK_TRAINER, nnunet_trainer=config.scheduled(STOCK_TRAINER),
                           role=ROLE_LABELED_ONLY, **common)
        runs.append(labeled_only)
        warm_from = labeled_only.nnunet_trainer if config.warm_start else None
        runs.extend(Run(trainer=t, nnunet_trainer=config.scheduled(t), role=ROLE_SSL_RUN, pretrained_from=warm_from,
                        **common) for t in config.ssl_trainers)
        if config.equal_budget_trainer is not None:
            runs.append(Run(trainer=STOCK_TRAINER, nnunet_trainer=config.equal_budget_trainer,
                            role=ROLE_EQUAL_BUDGET, **common))
    return runs


def fold_folder(results_dataset_folder: str, run: Run, plans: str, configuration: str) -> str:
    """nnU-Net's output folder of a run (as nnunetv2.utilities.file_path_utilities.get_output_folder builds it)."""
    return os.path.join(results_dataset_folder, f"{run.nnunet_trainer}__{plans}__{configuration}", f"fold_{run.fold}")


def pretrained_checkpoint(results_dataset_folder: str, run: Run, plans: str, configuration: str) -> Optional[str]:
    """The -pretrained_weights file of a warm-started run: checkpoint_final of its source run in the same fold."""
    if run.pretrained_from is None:
        return None
    source = dataclasses.replace(run, nnunet_trainer=run.pretrained_from, pretrained_from=None)
    return os.path.join(fold_folder(results_dataset_folder, source, plans, configuration), "checkpoint_final.pth")


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


def write_init_marker(folder: str, pretrained_weights: Optional[str]) -> None:
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, INIT_MARKER), "w") as f:
        json.dump({"pretrained_weights": pretrained_weights}, f, indent=1)


def was_warm_started(folder: str) -> Optional[bool]:
    """Whether the training in this folder started from pretrained weights; None while nothing is trained (a new
    run may still start either way) or when no record says."""
    if not any(os.path.isfile(os.path.join(folder, c)) for c in CHECKPOINTS):
        return None
    marker = os.path.join(folder, INIT_MARKER)
    if os.path.isfile(marker):
        with open(marker) as f:
            return bool(json.load(f).get("pretrained_weights"))
    logs = [f for f in os.listdir(folder) if f.startswith("training_log_") and f.endswith(".txt")]
    if not logs:
        return None
    texts = []
    for name in logs:
        with open(os.path.join(folder, name)) as f:
            texts.append(f.read())
    return any(WARM_START_LOG_LINE in text for text in texts)


def conflict_reason(folder: str, split_entry: dict, warm_started: Optional[bool] = None) -> Optional[str]:
    """Why this folder cannot be a run of this benchmark (None when it can)."""
    marker = split_entry_of_marker(folder)
    if marker is not None and not same_split_entry(marker, split_entry):
        return "trained on a different split entry under the same fold number"
    if marker is None and os.path.isdir(folder):
        # trained outside a benchmark (no marker): at least nnU-Net's logged split sizes must match this fold
        sizes = split_sizes_in_training_log(folder)
        if sizes is not None and sizes != (len(split_entry["train"]), len(split_entry["val"])):
            return f"trained on {sizes[0]} training / {sizes[1]} validation cases, not this fold's"
    if warm_started is not None and os.path.isdir(folder):
        found = was_warm_started(folder)
        if found is not None and found != warm_started:
            return ("started from pretrained weights, but 'warm_start' is false" if found else
                    "started from scratch, but 'warm_start' is true")
    return None


def run_status(folder: str, split_entry: dict, file_ending: str, warm_started: Optional[bool] = None) -> str:
    """See the module docstring; warm_started (None: not checked) is how the config wants the run initialised."""
    if conflict_reason(folder, split_entry, warm_started) is not None:
        return CONFLICT
    if os.path.isfile(os.path.join(folder, "checkpoint_final.pth")):
        complete = os.path.isfile(os.path.join(folder, "validation", "summary.json")) and \
            not missing_validation_predictions(folder, split_entry["val"], file_ending)
        return DONE if complete else REVALIDATE
    if os.path.isfile(os.path.join(folder, "checkpoint_latest.pth")):
        return RESUME
    return NEW


def _labeled_cell(run: Run) -> str:
    extra = run.preset if run.preset is not None else (f"{run.fraction:g}" if run.fraction else None)
    return f"{run.num_labeled}" + (f" ({extra})" if extra else "")


def format_plan(runs: Sequence[Run], statuses: Sequence[str]) -> str:
    """One line per run in training order; an 'init' column appears when some run is warm-started."""
    warm = any(r.warm_started for r in runs)
    header = ("fold", "trainer", "role", "labeled", "seed", "base fold") + (("init",) if warm else ()) + ("status",)
    rows = [(str(r.fold), r.nnunet_trainer, r.role, _labeled_cell(r), "-" if r.seed is None else str(r.seed),
             "-" if r.base_fold is None else str(r.base_fold))
            + ((f"from {r.pretrained_from}" if r.warm_started else "-",) if warm else ()) + (s,)
            for r, s in zip(runs, statuses)]
    widths = [max(len(x) for x in col) for col in zip(header, *rows)]
    lines = ["  ".join(x.ljust(w) for x, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
