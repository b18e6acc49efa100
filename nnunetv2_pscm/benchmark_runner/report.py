"""Tables and plots of a benchmark: mean ± std over base folds and seeds, per method x labeled setting.

Input: one row per run (see `run_row`), i.e. the foreground means of that run's evaluation. Dice and Jaccard do
not depend on the distance unit; HD95/ASD/ASSD are reported in voxels and in mm. std is the sample standard
deviation (ddof=1) over runs; with a single run it is undefined (empty in the CSV, omitted in the markdown).
Runs whose surface metric is undefined (an empty prediction on every case) are skipped in that metric's mean;
`<metric>_n` says how many runs entered it, and the markdown cell says "(n=2 of 3 runs)" where that is fewer
than all. Within a run, HD95/ASD/ASSD are means over the case x class values where they are defined (exactly
one mask empty leaves them undefined, never 0): `surface_undefined` of `surface_values` says how many were
left out, and the markdown lists every row where any were.
"""
from __future__ import annotations

import csv
import math
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from nnunetv2_pscm.benchmark_runner.runs import ROLE_EQUAL_BUDGET, ROLE_FULL, ROLE_LABELED_ONLY, Run

# (column key, summary metric, summary mode, markdown header)
METRIC_COLUMNS = (
    ("dice", "dice", "voxel", "Dice"),
    ("jaccard", "jaccard", "voxel", "Jaccard"),
    ("hd95_voxel", "hd95", "voxel", "HD95 (vox)"),
    ("asd_voxel", "asd", "voxel", "ASD (vox)"),
    ("assd_voxel", "assd", "voxel", "ASSD (vox)"),
    ("hd95_mm", "hd95", "mm", "HD95 (mm)"),
    ("asd_mm", "asd", "mm", "ASD (mm)"),
    ("assd_mm", "assd", "mm", "ASSD (mm)"),
)
MARKDOWN_METRICS = ("dice", "jaccard", "hd95_voxel", "asd_voxel", "hd95_mm", "asd_mm")
TEST_BANNER = "TEST SET — not used for model selection"
VALIDATION_LABEL = "validation (nnU-Net fold validation)"
# surface distances are undefined together (one mask empty) and in every unit alike: one count per run covers them
SURFACE_COUNT_KEYS = ("surface_undefined", "surface_values")
RUN_KEYS = ("run_id", "fold", "base_fold", "method", "trainer", "nnunet_trainer", "role", "setting", "num_labeled",
            "fraction", "preset", "seed", "num_cases")


def _is_undefined(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def surface_counts(summary: dict) -> Tuple[Optional[int], Optional[int]]:
    """(undefined, all) case x class HD95 values of an evaluation summary (JSON: None, in memory: NaN);
    (None, None) for a summary without per-case values."""
    if "per_case" not in summary:
        return None, None
    hd95 = [next(iter(per_mode.values()), {}).get("hd95") for case in summary["per_case"]
            for per_mode in case["metrics"].values()]
    return sum(_is_undefined(v) for v in hd95), len(hd95)


def run_row(run: Run, summary: dict) -> Dict[str, object]:
    """One run's foreground means (over classes, nanmean over cases) as a flat row, with how many case x class
    values its surface-distance means left out as undefined."""
    row = {"run_id": run.run_id, "fold": run.fold, "base_fold": run.base_fold, "method": run.method,
           "trainer": run.trainer, "nnunet_trainer": run.nnunet_trainer, "role": run.role, "setting": run.setting,
           "num_labeled": run.num_labeled, "fraction": run.fraction, "preset": run.preset, "seed": run.seed,
           "num_cases": summary["num_cases"]}
    for key, metric, mode, _ in METRIC_COLUMNS:
        value = summary["foreground_mean"].get(mode, {}).get(metric, {}).get("mean")
        row[key] = float("nan") if value is None else float(value)
    row.update(zip(SURFACE_COUNT_KEYS, surface_counts(summary)))
    return row


def _stats(values: Sequence[float]) -> Dict[str, float]:
    array = np.asarray(values, dtype=np.float64)
    defined = array[~np.isnan(array)]
    mean = float(defined.mean()) if defined.size else float("nan")
    std = float(defined.std(ddof=1)) if defined.size > 1 else float("nan")
    return {"mean": mean, "std": std, "n": int(defined.size)}


def _group_order(rows: Sequence[dict]) -> List[tuple]:
    """Labeled settings in increasing order (full labels last); within one: labeled-only, the equal-budget
    labeled-only run, then SSL methods in the order they first appear, so every table reads 'baselines -> methods'."""
    def setting_key(row):
        if row["role"] == ROLE_FULL:
            return (1, 0.0)
        return (0, row["fraction"] if row["fraction"] is not None else float(row["num_labeled"]))

    method_rank = {}
    for row in rows:
        rank = {ROLE_LABELED_ONLY: 0, ROLE_EQUAL_BUDGET: 1}.get(row["role"], len(method_rank) + 2)
        method_rank.setdefault(row["method"], rank)
    keys = {(setting_key(r), r["setting"], method_rank[r["method"]], r["method"]) for r in rows}
    return [(setting, method) for _, setting, _, method in sorted(keys)]


def aggregate(rows: Sequence[dict]) -> List[Dict[str, object]]:
    """Mean ± std over base folds and seeds for every (setting, method)."""
    table = []
    for setting, method in _group_order(rows):
        group = [r for r in rows if r["setting"] == setting and r["method"] == method]
        first = group[0]
        entry = {"setting": setting, "method": method, "trainer": first["trainer"], "role": first["role"],
                 "fraction": first["fraction"], "preset": first.get("preset"),
                 "num_labeled": float(np.mean([r["num_labeled"] for r in group])), "n_runs": len(group),
                 "base_folds": sorted({r["base_fold"] for r in group if r["base_fold"] is not None}),
                 "seeds": sorted({r["seed"] for r in group if r["seed"] is not None})}
        for key, *_ in METRIC_COLUMNS:
            stats = _stats([r[key] for r in group])
            entry.update({f"{key}_mean": stats["mean"], f"{key}_std": stats["std"], f"{key}_n": stats["n"]})
        for key in SURFACE_COUNT_KEYS:  # unknown (None) if any run did not count them
            counts = [r.get(key) for r in group]
            entry[key] = None if any(c is None for c in counts) else sum(counts)
        table.append(entry)
    return table


def labeled_label(entry: dict) -> str:
    count = f"{entry['num_labeled']:g}"
    if entry["role"] == ROLE_FULL:
        return f"all ({count})"
    if entry.get("preset"):
        return f"{entry['preset']} ({count})"
    return f"{entry['fraction'] * 100:g}% ({count})" if entry["fraction"] is not None else count


def _number(value: float, digits: int) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def format_mean_std(mean: float, std: float, digits: int) -> str:
    if math.isnan(mean):
        return "n/a"
    return f"{mean:.{digits}f}" if math.isnan(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def mean_std_with_run_count(entry: dict, key: str, digits: int) -> str:
    """format_mean_std, plus "(n=2 of 3 runs)" where fewer runs than all had the metric defined."""
    text = format_mean_std(entry[f"{key}_mean"], entry[f"{key}_std"], digits)
    defined, runs = entry[f"{key}_n"], entry["n_runs"]
    if defined == runs:
        return text
    return f"{text} (n={defined} of {runs} {'run' if runs == 1 else 'runs'})"


def undefined_surface_lines(table: Sequence[dict]) -> List[str]:
    """Markdown lines naming every row whose surface-distance means left out undefined values (none: no lines)."""
    rows = [e for e in table if e.get("surface_undefined")]
    if not rows:
        return []
    lines = ["Surface distances undefined (exactly one mask empty): left out of HD95/ASD/ASSD, never counted as 0.", ""]
    lines += [f"- {labeled_label(e)} labeled, {e['method']}: {e['surface_undefined']} of {e['surface_values']} "
              "case × class values" for e in rows]
    return lines + [""]


def write_results_csv(table: Sequence[dict], path: str, evaluated_on: str) -> None:
    columns = ["evaluated_on", "setting", "labeled", "method", "trainer", "role", "num_labeled", "fraction", "n_runs"]
    columns += list(SURFACE_COUNT_KEYS)
    columns += [f"{key}_{s}" for key, *_ in METRIC_COLUMNS for s in ("mean", "std", "n")]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for entry in table:
            values = dict(entry, labeled=labeled_label(entry), evaluated_on=evaluated_on)
            writer.writerow([_number(values[c], 6) if isinstance(values[c], float) else
                             ("" if values[c] is None else values[c]) for c in columns])


def write_runs_csv(rows: Sequence[dict], path: str, evaluated_on: str) -> None:
    columns = ["evaluated_on"] + list(RUN_KEYS) + [key for key, *_ in METRIC_COLUMNS] + list(SURFACE_COUNT_KEYS)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for row in rows:
            row = dict(row, evaluated_on=evaluated_on)
            writer.writerow([_number(row[c], 6) if isinstance(row.get(c), float) else
                             ("" if row.get(c) is None else row[c]) for c in columns])  # rows may predate "preset"


def write_results_markdown(table: Sequence[dict], path: str, title: str, notes: Sequence[str] = (),
                           test: bool = False) -> None:
    headers = {key: header for key, _, _, header in METRIC_COLUMNS}
    lines = [f"# {title}", ""]
    if test:
        lines += [f"**{TEST_BANNER}.** Models were selected on their fold validation (nnU-Net's checkpoint_final); "
                  "these numbers are reported, never used to choose anything.", ""]
    lines += [f"- {note}" for note in notes] + ([""] if notes else [])
    lines.append("| labeled | method | runs | " + " | ".join(headers[k] for k in MARKDOWN_METRICS) + " |")
    lines.append("|" + "---|" * (3 + len(MARKDOWN_METRICS)))
    for entry in table:
        cells = [mean_std_with_run_count(entry, k, 4 if k in ("dice", "jaccard") else 2) for k in MARKDOWN_METRICS]
        lines.append(f"| {labeled_label(entry)} | {entry['method']} | {entry['n_runs']} | " + " | ".join(cells) + " |")
    lines += [""] + undefined_surface_lines(table)
    lines += ["Mean ± sample std over base folds × seeds (one value: a single run). Dice/Jaccard: foreground mean "
              "over classes; HD95/ASD in voxels and mm (medpy conventions, see nnunetv2_pscm.evaluation). "
              "'labeled only' = stock nnUNetTrainer on the labeled cases of the same fold; 'full labels' = stock "
              "nnUNetTrainer on every training case of the base fold (presets: every training case but the validation "
              "and test ones). All rows of a base fold share its validation cases (with presets: all rows).", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def plot_label_efficiency(table: Sequence[dict], path: str, title: str, test: bool = False) -> None:
    """Dice and HD95 (voxels) vs labeled count, one line per method, full labels as a horizontal reference.
    With a single labeled setting a line has one point, so grouped bars are drawn instead."""
    import matplotlib

    matplotlib.use("Agg")  # files only; no display needed on servers
    import matplotlib.pyplot as plt

    partial = [e for e in table if e["role"] != ROLE_FULL]
    full = [e for e in table if e["role"] == ROLE_FULL]
    methods = list(dict.fromkeys(e["method"] for e in partial))
    settings = list(dict.fromkeys(e["setting"] for e in partial))
    uses_fractions = any(e["fraction"] is not None for e in partial)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, key, ylabel in ((axes[0], "dice", "Dice"), (axes[1], "hd95_voxel", "HD95 (voxels)")):
        for i, method in enumerate(methods):
            entries = [e for e in partial if e["method"] == method]
            means = [e[f"{key}_mean"] for e in entries]
            stds = [0.0 if math.isnan(e[f"{key}_std"]) else e[f"{key}_std"] for e in entries]
            color = colors[i % len(colors)]
            if len(settings) == 1:
                ax.bar(i, means[0], yerr=stds[0], color=color, capsize=4, label=method)
            else:
                xs = [e["fraction"] * 100 if uses_fractions else e["num_labeled"] for e in entries]
                ax.errorbar(xs, means, yerr=stds, marker="o", capsize=3, color=color, label=method)
        for e in full:
            ax.axhline(e[f"{key}_mean"], color="black", linestyle="--", linewidth=1,
                       label=f"{e['method']}, {labeled_label(e)}")
        if len(settings) == 1:
            ax.set_xticks(range(len(methods)))
            ax.set_xticklabels([m.replace(" (", "\n(") for m in methods], fontsize=8)
            ax.set_xlabel(f"labeled: {labeled_label(partial[0])}" if partial else "")
        else:
            ax.set_xticks(sorted({e["fraction"] * 100 if uses_fractions else e["num_labeled"] for e in partial}))
            ax.set_xlabel("labeled training cases (%)" if uses_fractions else "labeled training cases")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    # one legend under both panels, where it cannot hide a line
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=8, frameon=False)
    fig.suptitle(f"{title}\n{TEST_BANNER}" if test else title, color="darkred" if test else "black")
    fig.tight_layout(rect=(0, 0.08 + 0.04 * (len(labels) > 4), 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(rows: Sequence[dict], output_folder: str, title: str, notes: Sequence[str] = (),
                 test: bool = False) -> Dict[str, str]:
    """results[_test].md/.csv, runs[_test].csv and label_efficiency[_test].png; returns their paths by kind."""
    suffix = "_test" if test else ""
    paths = {"markdown": os.path.join(output_folder, f"results{suffix}.md"),
             "csv": os.path.join(output_folder, f"results{suffix}.csv"),
             "runs_csv": os.path.join(output_folder, f"runs{suffix}.csv"),
             "plot": os.path.join(output_folder, f"label_efficiency{suffix}.png")}
    table = aggregate(rows)
    # the CSVs carry it in every line, so a test-set number cannot be mistaken for a validation one
    evaluated_on = TEST_BANNER if test else VALIDATION_LABEL
    write_results_markdown(table, paths["markdown"], title, notes, test)
    write_results_csv(table, paths["csv"], evaluated_on)
    write_runs_csv(rows, paths["runs_csv"], evaluated_on)
    plot_label_efficiency(table, paths["plot"], title, test)
    return paths


def markdown_table_only(path: str) -> Optional[str]:
    """The table lines of a results markdown (for printing at the end of a run)."""
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return "\n".join(line for line in f.read().splitlines() if line.startswith("|") or line.startswith("**"))
