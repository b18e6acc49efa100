"""paired.md / paired.csv on hand-made per-case numbers: per seed, over seeds, differences to the labeled-only run
of the same fold, improved-case counts, and partial results (missing runs)."""
import csv
import math

import pytest

from nnunetv2_pscm.benchmark_runner.paired import (MISSING, NO_BASELINE, OK, paired_table, per_case_values,
                                            write_paired)
from nnunetv2_pscm.benchmark_runner.runs import ROLE_EQUAL_BUDGET, ROLE_LABELED_ONLY, ROLE_SSL_RUN, Run

NAN = float("nan")


def _run(fold, trainer, role, preset, seed, schedule="1ep2it", warm=True):
    return Run(fold=fold, trainer=trainer, nnunet_trainer=f"{trainer}_{schedule}", role=role, base_fold=None,
               num_labeled=int(preset.split("-")[1]), fraction=None, seed=seed, preset=preset,
               pretrained_from="nnUNetTrainer_1ep2it" if warm and role == ROLE_SSL_RUN else None)


def _setup():
    runs, per_case = [], {}

    def add(run, values):  # values: {case: (dice, hd95_mm)}; None: run not evaluated (missing)
        runs.append(run)
        if values is not None:
            per_case[run.run_id] = {c: {"dice": d, "hd95_mm": h, "hd95_voxel": 2 * h} for c, (d, h) in values.items()}

    # fold, seed, then {case: (Dice, HD95 mm)} of labeled only, PSCM (warm) and the equal-budget run
    for fold, seed, lo, pscm, budget in (
            (0, 0, {"a": (0.8, 10), "b": (0.7, 20)}, {"a": (0.9, 8), "b": (0.6, 25)},
             {"a": (0.85, 9), "b": (0.75, 18)}),
            (1, 1, {"a": (0.5, 30), "b": (0.5, NAN)}, {"a": (0.7, 10), "b": (0.6, 12)}, None)):
        add(_run(fold, "nnUNetTrainer", ROLE_LABELED_ONLY, "LA-4", seed), lo)
        add(_run(fold, "nnUNetTrainerPSCM", ROLE_SSL_RUN, "LA-4", seed), pscm)
        add(_run(fold, "nnUNetTrainer", ROLE_EQUAL_BUDGET, "LA-4", seed, schedule="2ep2it"), budget)
    # LA-8: the labeled-only run of fold 2 is not evaluated yet, the SSL run is
    add(_run(2, "nnUNetTrainer", ROLE_LABELED_ONLY, "LA-8", 0), None)
    add(_run(2, "nnUNetTrainerPSCM", ROLE_SSL_RUN, "LA-8", 0), {"a": (0.9, 5), "b": (0.8, 7)})
    return runs, per_case


def test_paired_numbers_by_hand():
    table = paired_table(*_setup())
    assert [(e["setting"], e["method"]) for e in table] == [
        ("LA-4", "nnUNetTrainer (labeled only, same total budget (2x))"), ("LA-4", "nnUNetTrainerPSCM (warm-started)"),
        ("LA-8", "nnUNetTrainerPSCM (warm-started)")]
    budget, pscm, pscm8 = table
    s0, s1 = pscm["replicates"]
    # seed 0: Dice 0.9/0.6 vs 0.8/0.7 -> mean 0.75, diffs +0.1/-0.1 -> 0, one case rose; HD95 8/25 vs 10/20 -> +1.5
    assert (s0["status"], s0["dice"], s0["hd95_mm"], s0["n_improved"], s0["n_paired"]) == (OK, 0.75, 16.5, 1, 2)
    assert s0["dice_diff"] == pytest.approx(0.0) and s0["hd95_mm_diff"] == pytest.approx(1.5)
    # seed 1: labeled-only HD95 of case b undefined -> its difference is left out, not counted as 0
    assert s1["dice"] == pytest.approx(0.65) and s1["dice_diff"] == pytest.approx(0.15)
    assert s1["hd95_mm_diff"] == pytest.approx(-20.0) and s1["hd95_voxel_diff"] == pytest.approx(-40.0)
    assert pscm["dice"] == pytest.approx(0.70) and pscm["dice_std"] == pytest.approx(math.sqrt(0.005))
    assert pscm["dice_diff"] == pytest.approx(0.075) and pscm["hd95_mm"] == pytest.approx(13.75)
    assert pscm["hd95_mm_diff"] == pytest.approx(-9.25) and (pscm["n_improved"], pscm["n_paired"]) == (3, 4)
    assert pscm["missing"] == [] and pscm["no_baseline"] == [] and pscm["labeled"] == "LA-4 (4)"
    # the equal-budget run of seed 1 is missing: seed 0 alone, marked
    assert [r["status"] for r in budget["replicates"]] == [OK, MISSING] and budget["missing"] == ["s1"]
    assert budget["dice"] == pytest.approx(0.8) and math.isnan(budget["dice_std"])
    assert budget["dice_diff"] == pytest.approx(0.05) and (budget["n_improved"], budget["n_paired"]) == (2, 2)
    # no labeled-only run: values, but no differences
    assert pscm8["replicates"][0]["status"] == NO_BASELINE and pscm8["no_baseline"] == ["s0"]
    assert pscm8["dice"] == pytest.approx(0.85) and math.isnan(pscm8["dice_diff"]) and pscm8["n_paired"] == 0


def test_paired_files(tmp_path):
    runs, per_case = _setup()
    paths = write_paired(runs, per_case, str(tmp_path), "Dataset901 title", notes=["schedule: 1ep2it"])
    md = open(paths["paired_markdown"]).read()
    assert "# Dataset901 title: paired with the labeled-only run of the same fold" in md and "schedule: 1ep2it" in md
    assert ("| LA-4 (4) | nnUNetTrainerPSCM (warm-started) | s0 0.7500, s1 0.6500 | 0.7000 ± 0.0707 | +0.0750 | "
            "s0 16.50, s1 11.00 | 13.75 ± 3.89 | -9.25 | 3 / 4 | - |") in md
    assert ("| LA-4 (4) | nnUNetTrainer (labeled only, same total budget (2x)) | s0 0.8000, s1 missing | 0.8000 | "
            "+0.0500 |") in md
    assert "| LA-8 (8) | nnUNetTrainerPSCM (warm-started) | s0 0.8500 | 0.8500 | n/a | s0 6.00 | 6.00 | n/a | n/a |" \
        in md
    assert md.rstrip().splitlines()[-1].startswith("Per seed") and "no labeled-only run: s0 |" in md
    rows = list(csv.DictReader(open(paths["paired_csv"])))
    assert [(r["kind"], r["setting"], r["replicate"], r["status"]) for r in rows] == [
        ("replicate", "LA-4", "s0", "ok"), ("replicate", "LA-4", "s1", "missing"),
        ("summary", "LA-4", "all", "partial"),
        ("replicate", "LA-4", "s0", "ok"), ("replicate", "LA-4", "s1", "ok"), ("summary", "LA-4", "all", "complete"),
        ("replicate", "LA-8", "s0", NO_BASELINE), ("summary", "LA-8", "all", "partial")]
    summary = rows[5]
    assert float(summary["dice"]) == pytest.approx(0.7) and float(summary["dice_diff"]) == pytest.approx(0.075)
    assert summary["n_improved"] == "3" and summary["n_paired"] == "4" and summary["n_cases"] == "4"
    assert rows[1]["dice"] == "" and rows[1]["n_paired"] == "" and rows[2]["missing"] == "s1" and rows[4]["fold"] == "1"
    assert write_paired(runs[:1], {}, str(tmp_path / "none"), "t") == {}  # nothing compared: no files


def test_per_case_values_are_foreground_means_of_the_summary():
    summary = {"per_case": [
        {"case": "a", "metrics": {"1": {"voxel": {"dice": 0.8, "hd95": 4.0}, "mm": {"dice": 0.8, "hd95": 2.0}},
                                  "2": {"voxel": {"dice": 0.6, "hd95": None}, "mm": {"dice": 0.6, "hd95": None}}}},
        {"case": "b", "metrics": {"1": {"voxel": {"dice": 1.0, "hd95": NAN}, "mm": {"dice": 1.0, "hd95": NAN}},
                                  "2": {"voxel": {"dice": 0.0, "hd95": None}, "mm": {"dice": 0.0, "hd95": None}}}}]}
    values = per_case_values(summary)
    assert values["a"] == {"dice": pytest.approx(0.7), "hd95_mm": 2.0, "hd95_voxel": 4.0}
    assert values["b"]["dice"] == 0.5 and math.isnan(values["b"]["hd95_mm"])
