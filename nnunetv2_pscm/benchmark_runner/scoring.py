"""Scoring runs: their nnU-Net fold validation against gt_segmentations, and (only when asked) the test set
predicted with the stock `nnUNetv2_predict` against labelsTs. Evaluations are reused while no prediction they
cover is newer."""
from __future__ import annotations

import json
import os
import shutil
from typing import List, Optional, Sequence, Tuple

from nnunetv2_pscm.benchmark_runner import metadata as md
from nnunetv2_pscm.benchmark_runner.context import find_test_set
from nnunetv2_pscm.benchmark_runner.execution import RunFailedError, console_script, run_logged
from nnunetv2_pscm.benchmark_runner.paired import per_case_values
from nnunetv2_pscm.benchmark_runner.runs import Run
from nnunetv2_pscm.benchmark_runner.report import run_row
from nnunetv2_pscm.benchmark_runner.session import BenchmarkError, BenchmarkSession

MODES = ("voxel", "mm")


def _newest_mtime(paths: Sequence[str]) -> float:
    return max(os.path.getmtime(p) for p in paths)


def _evaluate(b: BenchmarkSession, run: Run, ref_dir: str, pred_dir: str, cases: Sequence[str],
              name: str) -> dict:
    """Evaluate (or reuse an evaluation newer than every prediction it covers); returns the summary."""
    from nnunetv2_pscm.evaluation import evaluate_folders

    out_json = os.path.join(b.run_dir(run), f"{name}_summary.json")
    out_csv = os.path.join(b.run_dir(run), f"{name}_per_case.csv")
    predictions = [os.path.join(pred_dir, c + b.context.file_ending) for c in cases]
    if os.path.isfile(out_json) and os.path.getmtime(out_json) >= _newest_mtime(predictions):
        with open(out_json) as f:
            summary = json.load(f)
        if sorted(p["case"] for p in summary["per_case"]) == sorted(cases):
            return summary
    return evaluate_folders(ref_dir, pred_dir, b.context.dataset_json, modes=MODES, lcc=False,
                            num_processes=b.config.num_processes, output_json=out_json, output_csv=out_csv,
                            case_ids=list(cases))


def _record_evaluation(b: BenchmarkSession, run: Run, name: str, ref_dir: str, pred_dir: str, summary: dict) -> None:
    meta_path = os.path.join(b.run_dir(run), "metadata.json")
    meta = md.load_metadata(meta_path)
    meta.setdefault("evaluation", {})[name] = {
        "summary": os.path.join(b.run_dir(run), f"{name}_summary.json"), "reference": ref_dir,
        "predictions": pred_dir, "num_cases": summary["num_cases"],
        "note": "TEST SET — not used for model selection" if name == "test" else "nnU-Net fold validation"}
    md.save_metadata(meta_path, meta)


def evaluate_validation(b: BenchmarkSession, runs: Optional[Sequence[Run]] = None) -> Tuple[List[dict], dict]:
    """Score the runs (default: all) on their fold validation. Returns the report rows and, by run id, the per-case
    values the paired comparison needs (paired.per_case_values)."""
    from tqdm import tqdm

    rows, per_case = [], {}
    for run in tqdm(b.runs if runs is None else runs, desc="evaluating validation", unit="run",
                    disable=not b.verbose, dynamic_ncols=True):
        pred_dir = os.path.join(b.fold_dir(run), "validation")
        summary = _evaluate(b, run, b.context.gt_folder, pred_dir, b.entry(run)["val"], "validation")
        rows.append(run_row(run, summary))
        per_case[run.run_id] = per_case_values(summary)
        _record_evaluation(b, run, "validation", b.context.gt_folder, pred_dir, summary)
    return rows, per_case


# --- test set (explicit, reported separately) ----------------------------------------------------------------------
def _test_case_ids(images: str, file_ending: str) -> List[str]:
    from nnunetv2.utilities.utils import get_identifiers_from_splitted_dataset_folder

    return sorted(get_identifiers_from_splitted_dataset_folder(images, file_ending))


def _predict_test(b: BenchmarkSession, run: Run, images: str, cases: Sequence[str], env: dict,
                  position: str) -> str:
    out = os.path.join(b.run_dir(run), "test_predictions")
    predictions = [os.path.join(out, c + b.context.file_ending) for c in cases]
    checkpoint = os.path.join(b.fold_dir(run), "checkpoint_final.pth")
    if all(os.path.isfile(p) for p in predictions) and \
            min(os.path.getmtime(p) for p in predictions) >= os.path.getmtime(checkpoint):
        return out
    shutil.rmtree(out, ignore_errors=True)  # our own folder: stale predictions of an older checkpoint must go
    c = b.config
    n = str(c.num_processes)
    command = [console_script("nnUNetv2_predict"), "-i", images, "-o", out, "-d", b.context.name, "-c",
               c.configuration, "-p", c.plans, "-tr", run.nnunet_trainer, "-f", str(run.fold), "-device", c.device,
               "-npp", n, "-nps", n]
    b.say(f"{position} predicting the test set with {run.run_id}; log: {b.log_path(run, 'test')}")
    try:
        wall = run_logged(command, env, b.log_path(run, "test"), f"{run.run_id} test", show_progress=False)
    except RunFailedError as error:
        raise BenchmarkError(f"test prediction of run {run.run_id}: {error}") from error
    meta_path = os.path.join(b.run_dir(run), "metadata.json")
    meta = md.load_metadata(meta_path)
    meta["test_prediction"] = {"command": command, "wall_time_s": round(wall, 2), "finished": md.now()}
    md.save_metadata(meta_path, meta)
    return out


def evaluate_test_set(b: BenchmarkSession, env: dict, runs: Optional[Sequence[Run]] = None) -> List[dict]:
    images, labels = find_test_set(b.context)
    cases = _test_case_ids(images, b.context.file_ending)
    runs = b.runs if runs is None else runs
    rows = []
    for i, run in enumerate(runs):
        pred_dir = _predict_test(b, run, images, cases, env, f"[test {i + 1}/{len(runs)}]")
        summary = _evaluate(b, run, labels, pred_dir, cases, "test")
        rows.append(run_row(run, summary))
        _record_evaluation(b, run, "test", labels, pred_dir, summary)
    return rows
