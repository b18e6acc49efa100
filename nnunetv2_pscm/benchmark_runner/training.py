"""Training a run through the stock `nnUNetv2_train` (new, `--c` to resume, `--val` to re-validate) and recording
its metadata. A new warm-started run gets `-pretrained_weights <labeled-only run>/fold_X/checkpoint_final.pth`; a
resumed one does not (nnU-Net refuses --c together with -pretrained_weights, and its checkpoint already holds the
warm-started training)."""
from __future__ import annotations

import os
from typing import List, Optional, Tuple

from nnunetv2_pscm.benchmark_runner import metadata as md
from nnunetv2_pscm.benchmark_runner.config import SCHEDULE_PATTERN, BenchmarkConfig
from nnunetv2_pscm.benchmark_runner.execution import RunFailedError, console_script, run_logged
from nnunetv2_pscm.benchmark_runner.runs import (DONE, NEW, RESUME, REVALIDATE, Run, missing_validation_predictions,
                                          write_init_marker, write_split_entry_marker)
from nnunetv2_pscm.benchmark_runner.session import BenchmarkError, BenchmarkSession


def train_command(b: BenchmarkSession, run: Run, status: str) -> List[str]:
    c = b.config
    command = [console_script("nnUNetv2_train"), b.context.name, c.configuration, str(run.fold), "-tr",
               run.nnunet_trainer, "-p", c.plans, "-device", c.device]
    if status == NEW and run.warm_started:
        return command + ["-pretrained_weights", b.pretrained_checkpoint(run)]
    return command + {RESUME: ["--c"], REVALIDATE: ["--val"]}.get(status, [])


def run_schedule(config: BenchmarkConfig, run: Run) -> Optional[Tuple[int, int]]:
    """(epochs, iterations) of this run: the config's schedule, or twice its epochs for the equal-budget run (read
    from the trainer name, which is what nnU-Net trains)."""
    if config.schedule_epochs_iterations() is None:
        return None
    match = SCHEDULE_PATTERN.match(run.nnunet_trainer.rsplit("_", 1)[-1])
    return int(match["epochs"]), int(match["iterations"])


def _schedule_metadata(config: BenchmarkConfig, run: Run) -> dict:
    schedule = run_schedule(config, run)
    if schedule is None:
        return {"name": None, "note": "each trainer's own default schedule (nnU-Net: 1000 epochs x 250 iterations)"}
    return {"name": f"{schedule[0]}ep{schedule[1]}it", "epochs": schedule[0], "iterations_per_epoch": schedule[1]}


def base_metadata(b: BenchmarkSession, run: Run, environment: dict) -> dict:
    entry = b.entry(run)
    c = b.config
    return {"run": {"run_id": run.run_id, "fold": run.fold, "trainer": run.trainer,
                    "nnunet_trainer": run.nnunet_trainer, "role": run.role, "method": run.method,
                    "base_fold": run.base_fold, "num_labeled": run.num_labeled, "fraction": run.fraction,
                    "seed": run.seed, "preset": run.preset, "num_val": len(entry["val"]),
                    "num_unlabeled": len(entry.get("unlabeled", [])),
                    "warm_start_from": b.pretrained_checkpoint(run)},
            "dataset": b.context.name, "configuration": c.configuration, "plans": c.plans, "device": c.device,
            "schedule": _schedule_metadata(c, run), "nnunet_fold_folder": b.fold_dir(run),
            "split_file": b.split.path, "environment": environment}


def train_run(b: BenchmarkSession, run: Run, status: str, env: dict, environment: dict, position: str) -> None:
    folder = b.fold_dir(run)
    meta_path = os.path.join(b.run_dir(run), "metadata.json")
    meta = {**md.load_metadata(meta_path), **base_metadata(b, run, environment)}
    pretrained = b.pretrained_checkpoint(run) if status == NEW else None
    if pretrained is not None and not os.path.isfile(pretrained):
        # the labeled-only run comes first in the same fold; without its checkpoint a warm start is impossible
        raise BenchmarkError(f"run {run.run_id} is to start from {pretrained} ('warm_start: true'), which does not "
                             f"exist; the labeled-only run {run.pretrained_from} of fold {run.fold} must finish first.")
    write_split_entry_marker(folder, b.entry(run))
    if status == NEW:
        write_init_marker(folder, pretrained)
    command = train_command(b, run, status)
    action = {NEW: "training", RESUME: "resuming", REVALIDATE: "re-validating"}[status]
    b.say(f"{position} {action} {run.run_id} ({run.method}, {run.where}); log: {b.log_path(run)}")
    epochs = run_schedule(b.config, run)
    started = md.now()
    try:
        wall = run_logged(command, env, b.log_path(run), run.run_id,
                          total_epochs=None if status == REVALIDATE or epochs is None else epochs[0],
                          show_progress=b.verbose)
    except RunFailedError as error:
        meta.setdefault("training", {}).setdefault("attempts", []).append(
            {"mode": status, "command": command, "started": started, "failed": True, "log": b.log_path(run)})
        md.save_metadata(meta_path, meta)
        raise BenchmarkError(f"run {run.run_id} ({run.method}, fold {run.fold}): {error}") from error
    training = meta.setdefault("training", {})
    training.setdefault("attempts", []).append({"mode": status, "command": command, "started": started,
                                                "wall_time_s": round(wall, 2), "log": b.log_path(run),
                                                "git_commit": environment.get("git_commit"),
                                                "versions": environment.get("versions")})
    training["wall_time_s"] = round(sum(a.get("wall_time_s", 0) for a in training["attempts"]), 2)
    md.save_metadata(meta_path, meta)
    if b.status(run) != DONE:
        missing = missing_validation_predictions(folder, b.entry(run)["val"], b.context.file_ending)
        raise BenchmarkError(f"run {run.run_id}: nnUNetv2_train finished but its validation is incomplete "
                             f"(missing predictions: {missing[:5]}, or no validation/summary.json in {folder}). "
                             f"See {b.log_path(run)}.")


def record_reused_run(b: BenchmarkSession, run: Run, environment: dict) -> None:
    """A run trained earlier (or outside the benchmark): still record where it came from."""
    meta_path = os.path.join(b.run_dir(run), "metadata.json")
    meta = {**md.load_metadata(meta_path), **base_metadata(b, run, environment)}
    meta.setdefault("training", {"attempts": [], "note": "trained before this invocation; reused"})
    md.save_metadata(meta_path, meta)
