"""Benchmark tables where a surface distance is undefined (exactly one mask empty): run_row takes the mean over the
defined cases and counts the rest, the tables say so, and no table turns NaN into 0. Hand-made summaries."""
import csv
import math

import pytest

from nnunetv2_pscm.benchmark_runner.paired import paired_table, per_case_values
from nnunetv2_pscm.benchmark_runner.runs import ROLE_LABELED_ONLY, ROLE_SSL_RUN, Run
from nnunetv2_pscm.benchmark_runner.report import aggregate, run_row, write_report

NAN = float("nan")


def _run(fold, trainer, role, seed):
    return Run(fold=fold, trainer=trainer, nnunet_trainer=f"{trainer}_1ep2it", role=role, base_fold=0,
               num_labeled=4, fraction=None, seed=seed)


def _summary(hd95_per_case):
    """Evaluation summary of one class 'la' with HD95 per case (None: undefined, as in the JSON). Dice 0.8 when
    defined, 0 when the prediction is empty. The foreground means are what evaluate_folders computes."""
    per_case = [{"case": f"c{i}", "metrics": {"la": {mode: {"dice": 0.0 if h is None else 0.8, "hd95": h,
                                                          "asd": None if h is None else h / 2}
                                                    for mode in ("voxel", "mm")}}}
                for i, h in enumerate(hd95_per_case)]
    defined = [h for h in hd95_per_case if h is not None]
    mean = sum(defined) / len(defined) if defined else None
    dice = sum(0.0 if h is None else 0.8 for h in hd95_per_case) / len(hd95_per_case)
    half = None if mean is None else mean / 2
    metrics = {"dice": {"mean": dice}, "jaccard": {"mean": dice / (2 - dice)}, "hd95": {"mean": mean},
               "asd": {"mean": half}, "assd": {"mean": half}}
    return {"num_cases": len(per_case), "per_case": per_case,
            "foreground_mean": {"voxel": metrics, "mm": metrics}}


LABELED_ONLY = _summary([10.0, 20.0, 30.0, 40.0])
PSCM_SEED0 = _summary([6.0, None, 12.0, 9.0])  # one case missed: HD95 mean (6 + 12 + 9) / 3 = 9, not 27 / 4
PSCM_SEED1 = _summary([None, None, None, None])  # every case missed: HD95 undefined for the run


def _rows_and_runs():
    runs = [_run(0, "nnUNetTrainer", ROLE_LABELED_ONLY, 0), _run(0, "nnUNetTrainerPSCM", ROLE_SSL_RUN, 0),
            _run(1, "nnUNetTrainer", ROLE_LABELED_ONLY, 1), _run(1, "nnUNetTrainerPSCM", ROLE_SSL_RUN, 1)]
    summaries = [LABELED_ONLY, PSCM_SEED0, LABELED_ONLY, PSCM_SEED1]
    return [run_row(r, s) for r, s in zip(runs, summaries)], runs, summaries


def test_run_row_counts_undefined_surface_values():
    row = run_row(_run(1, "nnUNetTrainerPSCM", ROLE_SSL_RUN, 0), PSCM_SEED0)
    assert row["hd95_voxel"] == pytest.approx(9.0) and row["asd_mm"] == pytest.approx(4.5)
    assert (row["surface_undefined"], row["surface_values"]) == (1, 4)
    empty = run_row(_run(1, "nnUNetTrainerPSCM", ROLE_SSL_RUN, 1), PSCM_SEED1)
    assert math.isnan(empty["hd95_voxel"]) and (empty["surface_undefined"], empty["surface_values"]) == (4, 4)
    assert math.isnan(run_row(_run(0, "x", ROLE_SSL_RUN, 0), {"num_cases": 1, "per_case": [
        {"case": "a", "metrics": {"1": {"voxel": {"hd95": NAN}}}}], "foreground_mean": {}})["hd95_voxel"])


def test_aggregate_leaves_undefined_runs_out_and_sums_counts():
    pscm = [e for e in aggregate(_rows_and_runs()[0]) if e["role"] == ROLE_SSL_RUN][0]
    # HD95 over runs: seed 0 is 9, seed 1 undefined -> 9 over one run (not (9 + 0) / 2 = 4.5)
    assert pscm["hd95_voxel_mean"] == pytest.approx(9.0) and pscm["hd95_voxel_n"] == 1 and pscm["n_runs"] == 2
    assert pscm["dice_mean"] == pytest.approx((0.6 + 0.0) / 2) and pscm["dice_n"] == 2
    assert (pscm["surface_undefined"], pscm["surface_values"]) == (5, 8)


def test_report_tables_show_counts_and_never_zero(tmp_path):
    paths = write_report(_rows_and_runs()[0], str(tmp_path), "title")
    md = open(paths["markdown"]).read()
    pscm_line = next(line for line in md.splitlines() if line.startswith("| 4 | nnUNetTrainerPSCM |"))
    assert "| 9.00 (n=1 of 2 runs) |" in pscm_line and "0.00" not in pscm_line
    assert "- 4 labeled, nnUNetTrainerPSCM: 5 of 8 case × class values" in md
    assert "labeled, nnUNetTrainer (labeled only): " not in md  # nothing undefined there: not listed
    results = {r["method"]: r for r in csv.DictReader(open(paths["csv"]))}
    pscm = results["nnUNetTrainerPSCM"]
    assert float(pscm["hd95_voxel_mean"]) == pytest.approx(9.0) and pscm["hd95_voxel_std"] == ""
    assert (pscm["hd95_voxel_n"], pscm["surface_undefined"], pscm["surface_values"]) == ("1", "5", "8")
    assert results["nnUNetTrainer (labeled only)"]["surface_undefined"] == "0"
    runs = list(csv.DictReader(open(paths["runs_csv"])))
    all_missed = next(r for r in runs if r["run_id"] == _rows_and_runs()[1][3].run_id)
    assert all_missed["hd95_voxel"] == "" and all_missed["asd_mm"] == "" and all_missed["surface_undefined"] == "4"


def test_paired_leaves_undefined_cases_out_of_means_and_differences():
    _, runs, summaries = _rows_and_runs()
    per_case = {r.run_id: per_case_values(s) for r, s in zip(runs, summaries)}
    seed0, seed1 = paired_table(runs, per_case)[0]["replicates"]
    assert seed0["hd95_voxel"] == pytest.approx(9.0)  # mean over the 3 defined cases
    # differences over cases defined in both runs: (6-10 + 12-30 + 9-40) / 3
    assert seed0["hd95_voxel_diff"] == pytest.approx((-4 - 18 - 31) / 3)
    assert math.isnan(seed1["hd95_voxel"]) and math.isnan(seed1["hd95_voxel_diff"])
