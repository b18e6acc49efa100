"""One benchmark invocation: the resolved dataset, the split, the runs, and where everything is written.

Output folder layout:
    benchmark_config.json        the validated config
    split_index.json             setting -> fold number of splits_final.json, and the runs of each fold
    logs/<run_id>_train.log      nnUNetv2_train output (appended per attempt), logs/<run_id>_test.log
    runs/<run_id>/               metadata.json, validation_summary.json + validation_per_case.csv
                                 [test_predictions/, test_summary.json + test_per_case.csv]
    results.md, results.csv, runs.csv, label_efficiency.png            (validation)
    paired.md, paired.csv        per setting and method: per-seed means and per-case differences to the
                                 labeled-only run of the same fold (validation)
    results_test.md, results_test.csv, runs_test.csv, label_efficiency_test.png   (only with --test)
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

from nnunetv2_pscm.benchmark_runner.config import BenchmarkConfig
from nnunetv2_pscm.benchmark_runner.context import DatasetContext, resolve_dataset
from nnunetv2_pscm.benchmark_runner.runs import (Run, conflict_reason, fold_folder, plan_runs, pretrained_checkpoint,
                                          run_status)
from nnunetv2_pscm.benchmark_runner.fold_layout import BenchmarkSplit, build_benchmark_split


class BenchmarkError(RuntimeError):
    """The benchmark cannot go on; the message says which run or file and what to do."""


class BenchmarkSession:
    """One invocation: the resolved dataset, split and runs, and the output folder layout."""

    def __init__(self, config: BenchmarkConfig, verbose: bool):
        self.config, self.verbose = config, verbose
        self.context: DatasetContext = resolve_dataset(config)
        extra = []
        if config.include_unlabeled_images:
            from nnunetv2_pscm.data.ssl_split import unlabeled_image_ids

            extra = unlabeled_image_ids(self.context.name)
            if not extra:
                raise BenchmarkError("'include_unlabeled_images' is true but nnUNet_raw/"
                                     f"{self.context.name}/imagesUnlabeled holds no images.")
        self.split: BenchmarkSplit = build_benchmark_split(config, self.context.split_path, self.context.training_ids,
                                                           extra)
        self.runs: List[Run] = plan_runs(config, self.split.index)
        self.output = Path(config.output)

    # --- paths -----------------------------------------------------------------------------------------------------
    def fold_dir(self, run: Run) -> str:
        return fold_folder(self.context.results, run, self.config.plans, self.config.configuration)

    def run_dir(self, run: Run) -> str:
        return str(self.output / "runs" / run.run_id)

    def log_path(self, run: Run, what: str = "train") -> str:
        return str(self.output / "logs" / f"{run.run_id}_{what}.log")

    def entry(self, run: Run) -> dict:
        return self.split.folds[run.fold]

    def status(self, run: Run) -> str:
        return run_status(self.fold_dir(run), self.entry(run), self.context.file_ending, run.warm_started)

    def conflict_reason(self, run: Run) -> Optional[str]:
        return conflict_reason(self.fold_dir(run), self.entry(run), run.warm_started)

    def pretrained_checkpoint(self, run: Run) -> Optional[str]:
        """-pretrained_weights of a warm-started run (None for the others)."""
        return pretrained_checkpoint(self.context.results, run, self.config.plans, self.config.configuration)

    def say(self, *args) -> None:
        if self.verbose:
            print(*args, flush=True)
