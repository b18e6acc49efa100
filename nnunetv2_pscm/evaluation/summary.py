"""Aggregate per-case metric rows into per-class and foreground means; write summary.json and a tidy CSV.

Means and undefined values:

* Per class and mode, each metric is summarised as ``{"mean": nanmean over cases, "n_undefined": number
  of cases where it was NaN (exactly one mask empty), "n": number of cases}``. ``mean`` is ``null`` when
  every case is undefined.
* The foreground mean, per mode, is the nanmean over classes of those per-class means, with ``n`` the
  number of classes and ``n_undefined`` the number of classes whose mean was undefined, plus ``n_values`` /
  ``n_values_undefined``: how many case x class values there were and how many of them were undefined.
* JSON has no NaN, so undefined values are written as ``null``. In the CSV they are empty fields.
* Printed means (:func:`summary_lines`) carry their count, ``12.3000 (n=7 of 8)`` = mean over the 7 defined
  of 8 values, or ``NaN (n=0 of 8)``: an undefined distance is never shown as, or averaged as, 0.
"""
from __future__ import annotations

import csv
import json
import math
import os
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np

from nnunetv2_pscm.evaluation.metrics import METRIC_NAMES, SURFACE_METRIC_NAMES

CSV_COLUMNS: Sequence[str] = ("case", "class", "mode") + tuple(METRIC_NAMES)


def _summarise(values: Sequence[float]) -> Dict[str, object]:
    array = np.asarray(values, dtype=np.float64)
    defined = array[~np.isnan(array)]
    return {
        "mean": float(defined.mean()) if defined.size else None,
        "n_undefined": int(array.size - defined.size),
        "n": int(array.size),
    }


def aggregate_rows(
    rows: Sequence[Dict[str, object]], class_names: Sequence[str], modes: Sequence[str]
) -> Dict[str, Dict]:
    """Per-class means and the foreground mean of tidy metric rows.

    Args:
        rows: tidy rows (``case``, ``class``, ``mode``, metrics, ``pred_empty``, ``ref_empty``) of all cases.
        class_names: classes in the order to report them.
        modes: modes present in ``rows``.

    Returns:
        ``{"mean": {class: {mode: {metric: summary}, "empty_counts": {...}}},
        "foreground_mean": {mode: {metric: summary}}}`` where ``summary`` is
        ``{"mean", "n_undefined", "n"}`` (cases per class; classes in the foreground mean, which also has
        ``n_values`` and ``n_values_undefined`` over case x class values).
    """
    per_class: Dict[str, Dict] = {}
    for name in class_names:
        class_rows = [r for r in rows if r["class"] == name]
        entry: Dict[str, Dict] = {}
        for mode in modes:
            mode_rows = [r for r in class_rows if r["mode"] == mode]
            entry[mode] = {metric: _summarise([r[metric] for r in mode_rows]) for metric in METRIC_NAMES}
        # emptiness does not depend on the mode: count it on one mode's rows
        first_mode_rows = [r for r in class_rows if r["mode"] == modes[0]]
        entry["empty_counts"] = {
            "both_empty": sum(bool(r["pred_empty"] and r["ref_empty"]) for r in first_mode_rows),
            "only_pred_empty": sum(bool(r["pred_empty"] and not r["ref_empty"]) for r in first_mode_rows),
            "only_ref_empty": sum(bool(r["ref_empty"] and not r["pred_empty"]) for r in first_mode_rows),
        }
        per_class[name] = entry

    foreground = {}
    for mode in modes:
        foreground[mode] = {}
        for metric in METRIC_NAMES:
            of_classes = [per_class[c][mode][metric] for c in class_names]
            entry = _summarise([np.nan if c["mean"] is None else c["mean"] for c in of_classes])
            # a class mean over fewer cases looks like any other: say how many values entered at all
            entry["n_values"] = sum(c["n"] for c in of_classes)
            entry["n_values_undefined"] = sum(c["n_undefined"] for c in of_classes)
            foreground[mode][metric] = entry
    return {"mean": per_class, "foreground_mean": foreground}


def _mean_text(mean: Optional[float], digits: int) -> str:
    undefined = mean is None or (isinstance(mean, float) and math.isnan(mean))
    return "NaN" if undefined else f"{mean:.{digits}f}"


def format_mean_with_count(mean: Optional[float], n_defined: int, n_total: int, digits: int = 4) -> str:
    """``'12.3000 (n=7 of 8)'``; ``'NaN (n=0 of 8)'`` when nothing was defined (``mean`` None or NaN)."""
    return f"{_mean_text(mean, digits)} (n={n_defined} of {n_total})"


def _class_metric_text(name: str, entry: Dict[str, object]) -> str:
    return f"{name} {format_mean_with_count(entry['mean'], entry['n'] - entry['n_undefined'], entry['n'])}"


def _foreground_metric_text(name: str, entry: Dict[str, object]) -> str:
    if name not in SURFACE_METRIC_NAMES and not entry["n_values_undefined"]:
        return f"{name} {_mean_text(entry['mean'], 4)}"  # Dice/Jaccard are always defined: a count adds nothing
    n_defined = entry["n_values"] - entry["n_values_undefined"]
    return f"{name} {format_mean_with_count(entry['mean'], n_defined, entry['n_values'])}"


def summary_lines(summary: Dict[str, object]) -> List[str]:
    """What ``nnUNetv2_pscm_evaluate`` prints: foreground means per mode with their counts, then, for every class
    with undefined surface distances, that class's means with counts.

    Args:
        summary: the dict returned by :func:`~nnunetv2_pscm.evaluation.evaluate_folder.evaluate_folders` or read
            from its JSON (undefined means are ``None`` there).
    """
    lines = [f"{summary['num_cases']} cases, postprocessing: {summary['postprocessing']}"]
    for mode, metrics in summary["foreground_mean"].items():
        parts = [_foreground_metric_text(name, entry) for name, entry in metrics.items()]
        lines.append(f"foreground mean [{mode}]: " + ", ".join(parts))
    incomplete = [
        (class_name, mode)
        for class_name, entry in summary["mean"].items()
        for mode in summary["modes"]
        if any(entry[mode][metric]["n_undefined"] for metric in METRIC_NAMES)
    ]
    if incomplete:
        lines.append(
            "  (n=k of N: the mean is over the k defined of N values (case x class); a surface distance is "
            "undefined where exactly one mask is empty and is left out, never counted as 0)"
        )
    for class_name, mode in incomplete:
        per_metric = summary["mean"][class_name][mode]
        parts = [_class_metric_text(name, per_metric[name]) for name in METRIC_NAMES]
        lines.append(f"  {class_name} [{mode}]: " + ", ".join(parts))
    return lines


def json_safe(value):
    """Recursively replace NaN/inf floats by ``None`` and numpy scalars/tuples by JSON types."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_summary_json(summary: dict, path: str) -> None:
    """Write ``summary`` as strict JSON (NaN -> null), creating the parent folder."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(json_safe(summary), f, indent=2, allow_nan=False)


def _csv_number(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""  # documented: undefined (NaN) metrics are empty fields
    return repr(float(value))


def write_tidy_csv(rows: Iterable[Dict[str, object]], path: str) -> None:
    """One line per case x class x mode, columns ``case,class,mode,dice,jaccard,hd95,asd,assd``.

    Args:
        rows: tidy rows holding at least the CSV columns.
        path: output file; its parent folder is created.
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            writer.writerow([row["case"], row["class"], row["mode"]] + [_csv_number(row[m]) for m in METRIC_NAMES])


def read_tidy_csv(path: str) -> List[Dict[str, object]]:
    """Read a CSV written by :func:`write_tidy_csv`; empty metric fields come back as NaN."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for metric in METRIC_NAMES:
            row[metric] = float(row[metric]) if row[metric] != "" else float("nan")
    return rows


def tidy_rows_from_summary(summary: Dict[str, object]) -> List[Dict[str, object]]:
    """Flatten ``summary["per_case"]`` back into tidy rows (one per case x class x mode).

    Args:
        summary: the dict returned by :func:`~nnunetv2_pscm.evaluation.evaluate_folder.evaluate_folders`
            or read from its JSON (where undefined values are ``None``).

    Returns:
        Rows with ``case``, ``class``, ``mode`` and every per-mode value (metrics, counts, empty flags).
    """
    rows = []
    for case in summary["per_case"]:
        for class_name, per_mode in case["metrics"].items():
            for mode, values in per_mode.items():
                rows.append({"case": case["case"], "class": class_name, "mode": mode, **values})
    return rows
