"""Paired comparison: every method against the labeled-only run of the SAME fold, case by case (paired.md/.csv).

Differences of a few Dice points between methods are often within the spread over seeds; comparing on the same
fold (same labeled cases, same validation cases) takes the fold-to-fold part of that spread out. For each setting
(preset, labeled count or fraction) and each compared method (the SSL trainers and, with warm_start, the stock run
with the same total budget):

  per replicate (a seed, plus the base fold where a setting has several): mean Dice and HD95 over the fold's
      validation cases, the mean per-case difference to the labeled-only run (method minus labeled only: higher
      Dice and lower HD95 are better) and the number of cases whose Dice rose;
  over replicates: mean ± sample std of the replicate means, the mean of the replicate differences, and the
      case counts summed.

Per-case values are the foreground means over classes of the runner's own evaluation (validation_summary.json,
nnunetv2_pscm.evaluation). A replicate whose run has no evaluation yet is marked missing; one whose labeled-only
run is missing keeps its values but has no differences. Undefined HD95 values (an empty mask) are left out of
means and differences, never counted as 0.
"""
from __future__ import annotations

import csv
import math
import os
from typing import Dict, List, Optional, Sequence

import numpy as np

from nnunetv2_pscm.benchmark_runner.runs import ROLE_EQUAL_BUDGET, ROLE_LABELED_ONLY, ROLE_SSL_RUN, Run
from nnunetv2_pscm.benchmark_runner.report import _stats, format_mean_std, labeled_label

# (key, summary metric, summary mode)
PAIRED_METRICS = (("dice", "dice", "voxel"), ("hd95_mm", "hd95", "mm"), ("hd95_voxel", "hd95", "voxel"))
OK, MISSING, NO_BASELINE = "ok", "missing", "no labeled-only run"
PerCase = Dict[str, Dict[str, float]]  # case -> {"dice", "hd95_mm", "hd95_voxel"}


def _nanmean(values) -> float:
    array = np.asarray(list(values), dtype=np.float64)
    return float(np.nanmean(array)) if (~np.isnan(array)).any() else float("nan")


def per_case_values(summary: dict) -> PerCase:
    """Per case, the foreground mean over classes of Dice and HD95 from an evaluation summary (JSON or in memory;
    undefined values are None or NaN there)."""
    values = {}
    for case in summary["per_case"]:
        values[case["case"]] = {
            key: _nanmean(np.nan if per_mode.get(mode, {}).get(metric) is None else per_mode[mode][metric]
                          for per_mode in case["metrics"].values())
            for key, metric, mode in PAIRED_METRICS}
    return values


def _replicate(run: Run, baseline: Optional[Run], per_case: Dict[str, PerCase], with_base_fold: bool) -> dict:
    label = f"s{run.seed}" + (f"/f{run.base_fold}" if with_base_fold else "")
    rep = {"label": label, "run_id": run.run_id, "fold": run.fold, "seed": run.seed, "base_fold": run.base_fold,
           "status": MISSING, "n_cases": 0, "n_improved": 0, "n_paired": 0}
    for key, *_ in PAIRED_METRICS:
        rep[key] = rep[f"{key}_diff"] = float("nan")
    values = per_case.get(run.run_id)
    if values is None:
        return rep
    rep.update({"status": OK, "n_cases": len(values)})
    for key, *_ in PAIRED_METRICS:
        rep[key] = _nanmean(v[key] for v in values.values())
    base = per_case.get(baseline.run_id) if baseline is not None else None
    if base is None:
        rep["status"] = NO_BASELINE
        return rep
    cases = sorted(set(values) & set(base))
    for key, *_ in PAIRED_METRICS:
        rep[f"{key}_diff"] = _nanmean(values[c][key] - base[c][key] for c in cases)
    rep["n_improved"] = sum(values[c]["dice"] > base[c]["dice"] for c in cases)
    rep["n_paired"] = len(cases)
    return rep


def paired_table(runs: Sequence[Run], per_case: Dict[str, PerCase]) -> List[dict]:
    """One entry per (setting, compared method) with its replicates, in the order of `runs` (settings) and
    equal-budget run before SSL trainers (methods). per_case: run_id -> per_case_values of the evaluated runs."""
    baseline = {r.fold: r for r in runs if r.role == ROLE_LABELED_ONLY}
    compared = [r for r in runs if r.role in (ROLE_SSL_RUN, ROLE_EQUAL_BUDGET)]
    table = []
    for setting in dict.fromkeys(r.setting for r in compared):
        of_setting = [r for r in compared if r.setting == setting]
        ordered = sorted(of_setting, key=lambda r: r.role != ROLE_EQUAL_BUDGET)  # stable: config order otherwise
        for method in dict.fromkeys(r.method for r in ordered):
            group = [r for r in of_setting if r.method == method]
            with_base_fold = len({r.base_fold for r in group}) > 1
            reps = [_replicate(r, baseline.get(r.fold), per_case, with_base_fold) for r in group]
            first = group[0]
            entry = {"setting": setting, "method": method, "trainer": first.trainer,
                     "nnunet_trainer": first.nnunet_trainer, "role": first.role, "replicates": reps,
                     "labeled": labeled_label({"num_labeled": float(np.mean([r.num_labeled for r in group])),
                                               "role": first.role, "fraction": first.fraction,
                                               "preset": first.preset}),
                     "missing": [r["label"] for r in reps if r["status"] == MISSING],
                     "no_baseline": [r["label"] for r in reps if r["status"] == NO_BASELINE],
                     "n_improved": sum(r["n_improved"] for r in reps), "n_paired": sum(r["n_paired"] for r in reps)}
            for key, *_ in PAIRED_METRICS:
                stats = _stats([r[key] for r in reps if r["status"] != MISSING])
                entry.update({key: stats["mean"], f"{key}_std": stats["std"],
                              f"{key}_diff": _stats([r[f"{key}_diff"] for r in reps if r["status"] == OK])["mean"]})
            table.append(entry)
    return table


def _signed(value: float, digits: int) -> str:
    return "n/a" if math.isnan(value) else f"{value:+.{digits}f}"


def _per_replicate(entry: dict, key: str, digits: int) -> str:
    return ", ".join(f"{r['label']} " + ("missing" if r["status"] == MISSING else
                                         "n/a" if math.isnan(r[key]) else f"{r[key]:.{digits}f}")
                     for r in entry["replicates"])


def _missing_text(entry: dict) -> str:
    parts = list(entry["missing"])
    if entry["no_baseline"]:
        parts.append("no labeled-only run: " + ", ".join(entry["no_baseline"]))
    return "; ".join(parts) or "-"


def write_paired_markdown(table: Sequence[dict], path: str, title: str, notes: Sequence[str] = ()) -> None:
    lines = [f"# {title}: paired with the labeled-only run of the same fold", ""]
    lines += [f"- {note}" for note in notes] + ([""] if notes else [])
    lines.append("| labeled | method | Dice per seed | Dice | ΔDice | HD95 (mm) per seed | HD95 (mm) | ΔHD95 (mm) | "
                 "Dice rose / cases | missing |")
    lines.append("|" + "---|" * 10)
    for e in table:
        cells = [e["labeled"], e["method"], _per_replicate(e, "dice", 4), format_mean_std(e["dice"], e["dice_std"], 4),
                 _signed(e["dice_diff"], 4), _per_replicate(e, "hd95_mm", 2),
                 format_mean_std(e["hd95_mm"], e["hd95_mm_std"], 2), _signed(e["hd95_mm_diff"], 2),
                 f"{e['n_improved']} / {e['n_paired']}" if e["n_paired"] else "n/a", _missing_text(e)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Per seed (sN; /fB: base fold B): mean over the fold's validation cases. Dice, HD95: mean ± sample "
              "std over seeds. ΔDice, ΔHD95: per case method minus the labeled-only nnUNetTrainer of the same fold "
              "(same labeled and validation cases), averaged over cases, then over seeds; positive ΔDice and "
              "negative ΔHD95 are improvements. 'Dice rose / cases': cases with a higher Dice than labeled only, "
              "summed over seeds. HD95 in voxels: paired.csv.", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


CSV_COLUMNS = ("kind", "setting", "labeled", "method", "trainer", "nnunet_trainer", "role", "replicate", "run_id",
               "fold", "base_fold", "seed", "status", "n_cases", "dice", "dice_std", "hd95_mm", "hd95_mm_std",
               "hd95_voxel", "hd95_voxel_std", "dice_diff", "hd95_mm_diff", "hd95_voxel_diff", "n_improved",
               "n_paired", "missing")


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.6f}" if isinstance(value, float) else str(value)


def write_paired_csv(table: Sequence[dict], path: str) -> None:
    """One 'replicate' row per seed (and base fold) and one 'summary' row per (setting, method)."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for e in table:
            common = {k: e[k] for k in ("setting", "labeled", "method", "trainer", "nnunet_trainer", "role")}
            for r in e["replicates"]:
                row = dict(common, kind="replicate", replicate=r["label"], **{k: r[k] for k in r if k != "label"})
                if r["status"] != OK:  # nothing was compared: no counts rather than misleading zeros
                    row.update(n_improved=None, n_paired=None)
                writer.writerow([_cell(row.get(c)) for c in CSV_COLUMNS])
            summary = dict(e, kind="summary", replicate="all", n_cases=sum(r["n_cases"] for r in e["replicates"]),
                           status="complete" if not e["missing"] and not e["no_baseline"] else "partial",
                           missing=_missing_text(e) if e["missing"] or e["no_baseline"] else "")
            writer.writerow([_cell(summary.get(c)) for c in CSV_COLUMNS])


def write_paired(runs: Sequence[Run], per_case: Dict[str, PerCase], output_folder: str, title: str,
                 notes: Sequence[str] = ()) -> Dict[str, str]:
    """paired.md and paired.csv; returns their paths by kind (none when no method is compared)."""
    table = paired_table(runs, per_case)
    if not table:
        return {}
    paths = {"paired_markdown": os.path.join(output_folder, "paired.md"),
             "paired_csv": os.path.join(output_folder, "paired.csv")}
    write_paired_markdown(table, paths["paired_markdown"], title, notes)
    write_paired_csv(table, paths["paired_csv"])
    return paths
