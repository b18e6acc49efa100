"""`run_benchmark`: split -> plan -> train (stock nnUNetv2_train) -> evaluate -> tables, paired comparison, plots.

Everything is resumable: finished runs are reused, interrupted ones continue with `--c`, finished runs whose
validation predictions are incomplete are re-validated with `--val`, and evaluations are redone only when their
predictions changed; `report_only` trains nothing and reports the finished runs (the others marked missing).
Model selection is nnU-Net's own (checkpoint_final, fold validation); the test set, when asked for, is predicted
and scored afterwards and reported in separate files. The output folder layout is described in
nnunetv2_pscm.benchmark_runner.session.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional, Sequence

from nnunetv2_pscm.benchmark_runner import metadata as md
from nnunetv2_pscm.benchmark_runner.config import BenchmarkConfig
from nnunetv2_pscm.benchmark_runner.context import find_test_set
from nnunetv2_pscm.benchmark_runner.execution import benchmark_env
from nnunetv2_pscm.benchmark_runner.paired import write_paired
from nnunetv2_pscm.benchmark_runner.runs import CONFLICT, DONE, ROLE_LABELED_ONLY, ROLE_SSL_RUN, Run, format_plan
from nnunetv2_pscm.benchmark_runner.report import markdown_table_only, write_report
from nnunetv2_pscm.benchmark_runner.scoring import evaluate_test_set, evaluate_validation
from nnunetv2_pscm.benchmark_runner.session import BenchmarkError, BenchmarkSession
from nnunetv2_pscm.benchmark_runner.fold_layout import REUSE, write_benchmark_split, write_index
from nnunetv2_pscm.benchmark_runner.training import record_reused_run, train_command, train_run

SPLIT_ACTION_TEXT = {"write": "will be written", "reuse": "exists and is identical: reused",
                     "replace": "exists and differs: will be replaced (overwrite_split, backup kept)"}
__all__ = ["BenchmarkError", "run_benchmark"]


def _report_notes(b: BenchmarkSession, reported: Sequence[Run]) -> List[str]:
    c = b.config
    schedule = f"{c.schedule} for every trainer" if c.schedule else "each trainer's default"
    vals = sorted({len(b.split.folds[r.fold]["val"]) for r in b.runs})
    if c.presets:
        settings = (f"presets {', '.join(c.presets)} (published labeled, validation and unlabeled cases); seeds "
                    f"{list(c.seeds)} are training replicates of the same split")
    else:
        settings = f"base folds {list(c.folds)}, labeled-subset seeds {list(c.seeds)}"
    notes = [f"dataset {b.context.name}, configuration {c.configuration}, plans {c.plans}, device {c.device}",
             f"schedule: {schedule}", settings,
             f"validation cases per {'fold' if c.presets else 'base fold'}: {', '.join(map(str, vals))} "
             f"(nnU-Net's fold validation of checkpoint_final)"]
    if c.warm_start:
        notes.append(f"warm start: rows marked 'warm-started' begin from the labeled-only run's checkpoint_final of "
                     f"the same fold (nnUNetv2_train -pretrained_weights) and then train {c.schedule}; " +
                     (f"'same total budget (2x)' = {c.equal_budget_trainer}, as many iterations as labeled-only + SSL "
                      f"together" if c.equal_budget_trainer else "no same-budget run ('equal_budget: false')"))
    reported_ids = {r.run_id for r in reported}
    missing = [r.run_id for r in b.runs if r.run_id not in reported_ids]
    if missing:
        notes.append(f"PARTIAL: {len(reported)} of {len(b.runs)} runs finished; not yet in these tables: "
                     f"{', '.join(missing)}")
    notes.append(f"split file: {b.split.path} (fold index: split_index.json)")
    return notes


def _selected(b: BenchmarkSession, only_folds: Optional[Sequence[int]],
              only_trainers: Optional[Sequence[str]] = None) -> List[Run]:
    """The runs this invocation may train: all, or those of the nnU-Net folds in only_folds and of the SSL trainers
    in only_trainers. A selected SSL run keeps its fold's labeled-only run: that run is its warm start and the
    baseline every table pairs it with. Same-budget and full-label runs are left out when only_trainers is given."""
    runs = list(b.runs)
    if only_folds is not None:
        known = sorted({r.fold for r in b.runs})
        unknown = sorted(set(only_folds) - set(known))
        if unknown:
            raise BenchmarkError(f"--folds {' '.join(map(str, unknown))}: this benchmark has no such fold; its folds "
                                 f"are {', '.join(map(str, known))} (see --dry-run or split_index.json)")
        runs = [r for r in runs if r.fold in set(only_folds)]
    if only_trainers is not None:
        known = list(dict.fromkeys(r.trainer for r in b.runs if r.role == ROLE_SSL_RUN))
        unknown = [t for t in only_trainers if t not in known]
        if unknown:
            raise BenchmarkError(f"--trainers {' '.join(unknown)}: not among this config's trainers "
                                 f"({', '.join(known) or 'none'}); the labeled-only run comes with each selected one")
        ssl = [r for r in runs if r.role == ROLE_SSL_RUN and r.trainer in set(only_trainers)]
        folds = {r.fold for r in ssl}
        runs = [r for r in runs if r in ssl or (r.role == ROLE_LABELED_ONLY and r.fold in folds)]
    return runs


def _train_all(b: BenchmarkSession, statuses: Sequence[str], env: dict, environment: dict,
               selected: Sequence[Run]) -> List[Run]:
    """Train the selected runs that are not done; returns every run finished now (trained here or earlier)."""
    chosen = {r.run_id for r in selected}
    todo = [(r, s) for r, s in zip(b.runs, statuses) if s != DONE and r.run_id in chosen]
    for i, (run, status) in enumerate(todo):
        train_run(b, run, status, env, environment, f"[{i + 1}/{len(todo)}]")
    trained = {r.run_id for r, _ in todo}
    reused = [r for r, s in zip(b.runs, statuses) if s == DONE]
    for run in reused:
        record_reused_run(b, run, environment)
    skipped = len(b.runs) - len(todo) - len(reused)
    if not todo and not skipped:
        b.say(f"training: all {len(b.runs)} runs reused")
    else:
        b.say(f"training: {len(todo)} run(s) trained or validated, {len(reused)} reused"
              + (f", {skipped} not selected (--folds / --trainers) and not finished" if skipped else ""))
    finished = trained | {r.run_id for r in reused}
    return [r for r in b.runs if r.run_id in finished]


def run_benchmark(config: BenchmarkConfig, dry_run: bool = False, evaluate_test: bool = False,
                  verbose: bool = True, report_only: bool = False, only_folds: Optional[Sequence[int]] = None,
                  only_trainers: Optional[Sequence[str]] = None) -> Path:
    """Run (or resume) a benchmark and write its tables, plots and per-run metadata.

    Args:
        config: see nnunetv2_pscm.benchmark_runner.config (load_config / config_from_dict).
        dry_run: print the plan of runs (fold, trainer, labeled count, seed, status) and the nnUNetv2_train command
            of every run still to train, and return; nothing is written.
        evaluate_test: also predict nnUNet_raw/DatasetXXX/imagesTs with every run and score against labelsTs
            (separate *_test files, marked "TEST SET — not used for model selection").
        verbose: print progress (plan, one line per stage, tqdm bars).
        report_only: train nothing (e.g. while trainings run elsewhere); evaluate and report the finished runs,
            marking the others as missing. The split file must already be this benchmark's.
        only_folds: train only the runs of these nnU-Net fold numbers in this invocation (e.g. one replicate per
            session when a whole benchmark does not fit in one); finished runs of every fold are still reported.
        only_trainers: train only the runs of these SSL trainers (names as in the config's ``trainers``) and the
            labeled-only run of their folds, e.g. one new method on folds whose other runs exist; finished runs of
            every trainer are still reported.

    Returns:
        The output folder.
    """
    b = BenchmarkSession(config, verbose)
    statuses = [b.status(r) for r in b.runs]
    b.say(f"benchmark {b.context.name} {config.configuration} ({config.plans}) -> {b.output}")
    b.say(f"split file {b.split.path} {SPLIT_ACTION_TEXT[b.split.action]}")
    b.say(format_plan(b.runs, statuses))
    conflicts = [r for r, s in zip(b.runs, statuses) if s == CONFLICT]
    if conflicts:
        raise BenchmarkError("these nnU-Net result folders cannot be runs of this benchmark: " + "; ".join(
            f"{b.fold_dir(r)} ({b.conflict_reason(r)})" for r in conflicts) + ". Move them away (or use another "
            "nnUNet_results) so they cannot be mistaken for runs of this split and config.")
    if evaluate_test:
        find_test_set(b.context)  # fail before hours of training, not after
    if report_only and b.split.action != REUSE:
        raise BenchmarkError(f"--report-only reports runs of this benchmark's split, but {b.split.path} "
                             f"{SPLIT_ACTION_TEXT[b.split.action]}; run without --report-only first.")
    selected = _selected(b, only_folds, only_trainers)
    if dry_run:
        chosen = {r.run_id for r in selected}
        todo = [(r, s) for r, s in zip(b.runs, statuses) if s != DONE and r.run_id in chosen]
        for run, status in todo:  # the exact commands, so a warm start or a --c can be checked before hours of work
            b.say(" ".join(train_command(b, run, status)))
        b.say(f"dry run: {len(b.runs)} runs, {len(todo)} to train or validate; nothing was written.")
        return b.output

    b.output.mkdir(parents=True, exist_ok=True)
    with open(b.output / "benchmark_config.json", "w") as f:
        json.dump(config.to_dict(), f, indent=2)
    if not report_only:
        backup = write_benchmark_split(b.split)
        if backup:
            b.say(f"previous split file kept as {backup}")
    write_index(b.split, b.runs, str(b.output / "split_index.json"))

    env = benchmark_env()
    environment = md.environment()
    if report_only:
        reported = [r for r, s in zip(b.runs, statuses) if s == DONE]
        for run in reported:
            record_reused_run(b, run, environment)
        b.say(f"report only: {len(reported)} of {len(b.runs)} runs finished; nothing was trained")
        if not reported:
            return b.output
    else:
        reported = _train_all(b, statuses, env, environment, selected)
        if not reported:
            return b.output

    rows, per_case = evaluate_validation(b, reported)
    title = f"{b.context.name} — {config.configuration} ({config.plans}): validation"
    notes = _report_notes(b, reported)
    paths = write_report(rows, str(b.output), title, notes)
    paths.update(write_paired(b.runs, per_case, str(b.output), title, notes))
    b.say(markdown_table_only(paths["markdown"]))
    if "paired_markdown" in paths:
        b.say(markdown_table_only(paths["paired_markdown"]))
    b.say("wrote " + ", ".join(paths.values()))
    if evaluate_test:
        test_rows = evaluate_test_set(b, env, reported)
        test_paths = write_report(test_rows, str(b.output), f"{b.context.name} — {config.configuration} "
                                  f"({config.plans}): test set", notes, test=True)
        b.say(markdown_table_only(test_paths["markdown"]))
        b.say("wrote " + ", ".join(test_paths.values()))
    return b.output
