"""Combine the recorded outputs of several benchmark invocations (other machines, other sessions) into one table.

A benchmark output folder keeps, per run, `runs/<run_id>/metadata.json` and `validation_summary.json` (the runner's
evaluation). When a benchmark is spread over machines that keep nothing, each invocation re-trains the fold's
labeled-only model before its warm-started SSL runs, so one fold can hold several labeled-only runs, and the same run
can be recorded in several folders (a later invocation on the same machine reuses it). Here:

* identical runs (same fold, same nnU-Net trainer, the same per-case Dice) are counted once;
* a CHAIN is one output folder's fold: its labeled-only run and the runs warm-started from it. Every compared run is
  paired case by case with the labeled-only run of its own chain (the model it started from), and with the
  equal-budget run of its own chain, or, when its chain has none, with the equal-budget runs of the same fold in
  other chains (marked: a different starting model, so only indicative);
* per seed, the runs of one method are averaged (a re-run is a second sample of the same seed), then mean ± sample
  std over seeds, as the runner's paired table does;
* a trainer renamed after a folder was recorded (its recipe became a variant, another recipe took the name) is shown
  under today's name when the folder holds `renamed_trainers.json`, {"old name": "today's name"}: the recorded files
  stay as they were, and one method name never stands for two recipes in the table.
Nothing here trains or evaluates: it reads what the runner wrote.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from nnunetv2_pscm.benchmark_runner.paired import PerCase, per_case_values
from nnunetv2_pscm.benchmark_runner.runs import ROLE_EQUAL_BUDGET, ROLE_FULL, ROLE_LABELED_ONLY


class CombineError(ValueError):
    """A folder that is not a benchmark output, or recorded runs that cannot be combined; names the file."""


@dataclass
class RecordedRun:
    folder: Path
    run_id: str
    fold: int
    role: str
    method: str
    nnunet_trainer: str
    setting: str
    seed: Optional[int]
    per_case: PerCase
    also_in: List[Path] = field(default_factory=list)

    @property
    def fingerprint(self) -> Tuple:
        return (self.fold, self.nnunet_trainer,
                tuple((case, round(v["dice"], 9)) for case, v in sorted(self.per_case.items())))


def _setting(run: dict) -> str:
    if run.get("role") == ROLE_FULL:
        return f"full labels ({run.get('num_labeled')})"
    if run.get("preset"):
        return f"{run['preset']} ({run.get('num_labeled')})"
    if run.get("fraction") is not None:
        return f"{run['fraction']:g} ({run.get('num_labeled')})"
    return str(run.get("num_labeled"))


RENAMED_TRAINERS_FILE = "renamed_trainers.json"


def renamed_trainers(folder: Path) -> Dict[str, str]:
    """The folder's {recorded trainer name: today's name}, from renamed_trainers.json (empty without one)."""
    file = Path(folder) / RENAMED_TRAINERS_FILE
    if not file.is_file():
        return {}
    try:
        names = json.loads(file.read_text())
    except json.JSONDecodeError as error:
        raise CombineError(f"{file}: not valid JSON ({error})") from error
    if not isinstance(names, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in names.items()):
        raise CombineError(f"{file}: expected an object of trainer names, {{\"recorded name\": \"today's name\"}}")
    return names


def _today_method(method: str, renamed: Dict[str, str]) -> str:
    """The method label with its trainer under today's name: 'T (warm-started)' -> 'T_new (warm-started)'; only a
    whole trainer name matches (renaming T leaves T_other alone)."""
    trainer, sep, rest = method.partition(" ")
    return renamed[trainer] + sep + rest if trainer in renamed else method


def read_folder(folder: Path) -> List[RecordedRun]:
    """The evaluated runs of one benchmark output folder (runs without validation_summary.json are skipped), methods
    under today's trainer names (renamed_trainers.json)."""
    runs_dir = Path(folder) / "runs"
    if not runs_dir.is_dir():
        raise CombineError(f"{folder} is not a benchmark output folder (no runs/ inside)")
    renamed = renamed_trainers(folder)
    recorded = []
    for run_dir in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
        meta_file, summary_file = run_dir / "metadata.json", run_dir / "validation_summary.json"
        if not summary_file.is_file():
            continue
        if not meta_file.is_file():
            raise CombineError(f"{summary_file} has no metadata.json beside it: cannot tell its fold and role")
        try:
            run = json.loads(meta_file.read_text())["run"]
            summary = json.loads(summary_file.read_text())
        except (json.JSONDecodeError, KeyError) as error:
            raise CombineError(f"{run_dir}: unreadable metadata.json or validation_summary.json ({error})") from error
        recorded.append(RecordedRun(folder=Path(folder), run_id=run["run_id"], fold=int(run["fold"]),
                                    role=run["role"], method=_today_method(run["method"], renamed),
                                    nnunet_trainer=run["nnunet_trainer"], setting=_setting(run), seed=run.get("seed"),
                                    per_case=per_case_values(summary)))
    return recorded


def deduplicate(runs: Sequence[RecordedRun]) -> List[RecordedRun]:
    """One entry per distinct run; the folders that recorded it again go to `also_in`."""
    first: Dict[Tuple, RecordedRun] = {}
    for run in runs:
        kept = first.setdefault(run.fingerprint, run)
        if kept is not run:
            kept.also_in.append(run.folder)
    return list(first.values())


def _mean(values) -> float:
    array = np.asarray([v for v in values if not math.isnan(v)], dtype=np.float64)
    return float(array.mean()) if array.size else float("nan")


def _std(values) -> float:
    array = np.asarray([v for v in values if not math.isnan(v)], dtype=np.float64)
    return float(array.std(ddof=1)) if array.size > 1 else float("nan")


def paired_difference(run: RecordedRun, base: RecordedRun) -> dict:
    """Per case run minus base over their shared cases: mean Dice and HD95 (mm) differences, cases whose Dice rose."""
    cases = sorted(set(run.per_case) & set(base.per_case))
    return {"dice": _mean(run.per_case[c]["dice"] - base.per_case[c]["dice"] for c in cases),
            "hd95_mm": _mean(run.per_case[c]["hd95_mm"] - base.per_case[c]["hd95_mm"] for c in cases),
            "rose": sum(run.per_case[c]["dice"] > base.per_case[c]["dice"] for c in cases), "cases": len(cases)}


def _chains(by_folder: Dict[Path, List[RecordedRun]]) -> Dict[Tuple[Path, int], Optional[Tuple]]:
    """(folder, fold) -> the fingerprint of that folder's labeled-only run of the fold: the chain its runs belong to
    (two folders that recorded the same labeled-only run are one chain)."""
    return {(folder, r.fold): r.fingerprint for folder, recorded in by_folder.items() for r in recorded
            if r.role == ROLE_LABELED_ONLY}


def _partners(runs: Sequence[RecordedRun], chains: Dict[Tuple[Path, int], Optional[Tuple]], run: RecordedRun,
              wanted: Callable[[RecordedRun], bool]) -> Tuple[List[RecordedRun], bool]:
    """The distinct `wanted` runs in the run's own chain, else those of the same fold in other chains; the flag
    says whether they are the run's own."""
    def chain_keys(r: RecordedRun) -> set:
        return {chains.get((folder, r.fold)) for folder in [r.folder, *r.also_in]} - {None}

    of_fold = [r for r in runs if r.fold == run.fold and wanted(r)]
    own = [r for r in of_fold if chain_keys(r) & chain_keys(run)]
    return (own, True) if own else (of_fold, False)


def _baselines(runs: Sequence[RecordedRun], chains: Dict[Tuple[Path, int], Optional[Tuple]], role: str,
               run: RecordedRun) -> Tuple[List[RecordedRun], bool]:
    """The run's labeled-only or equal-budget partners (`role`), see `_partners`."""
    return _partners(runs, chains, run, lambda r: r.role == role)


def combine(folders: Sequence[Path]) -> List[dict]:
    """One row per (setting, method): per-seed means, mean ± std over seeds, paired differences to the chain's
    labeled-only and equal-budget runs."""
    by_folder = {Path(f): read_folder(Path(f)) for f in folders}
    runs = deduplicate([r for recorded in by_folder.values() for r in recorded])
    chains = _chains(by_folder)
    if not runs:
        raise CombineError(f"no evaluated run in {', '.join(map(str, folders))}")
    rows = []
    for key in dict.fromkeys((r.setting, r.method) for r in runs):
        group = [r for r in runs if (r.setting, r.method) == key]
        seeds = sorted({r.seed for r in group}, key=lambda s: (s is None, s))
        row = {"setting": key[0], "method": key[1], "role": group[0].role, "seeds": {}, "runs": len(group)}
        for seed in seeds:
            of_seed = [r for r in group if r.seed == seed]
            entry = {"dice": [_mean(v["dice"] for v in r.per_case.values()) for r in of_seed],
                     "hd95_mm": [_mean(v["hd95_mm"] for v in r.per_case.values()) for r in of_seed]}
            for role, name in ((ROLE_LABELED_ONLY, "vs_labeled_only"), (ROLE_EQUAL_BUDGET, "vs_equal_budget")):
                if group[0].role in (ROLE_LABELED_ONLY, ROLE_FULL) or group[0].role == role:
                    continue
                diffs, own_chain = [], True
                for r in of_seed:
                    bases, own = _baselines(runs, chains, role, r)
                    own_chain &= own
                    diffs += [paired_difference(r, b) for b in bases]
                if diffs:
                    entry[name] = {"dice": _mean(d["dice"] for d in diffs), "hd95_mm": _mean(d["hd95_mm"] for d in diffs),
                                   "rose": sum(d["rose"] for d in diffs), "cases": sum(d["cases"] for d in diffs),
                                   "own_chain": own_chain}
            row["seeds"][seed] = entry
        seed_dice = [_mean(e["dice"]) for e in row["seeds"].values()]
        seed_hd = [_mean(e["hd95_mm"]) for e in row["seeds"].values()]
        row.update(dice=_mean(seed_dice), dice_std=_std(seed_dice), hd95_mm=_mean(seed_hd), hd95_mm_std=_std(seed_hd))
        for name in ("vs_labeled_only", "vs_equal_budget"):
            per_seed = [e[name] for e in row["seeds"].values() if name in e]
            if per_seed:
                row[name] = {"dice": _mean(d["dice"] for d in per_seed), "hd95_mm": _mean(d["hd95_mm"] for d in per_seed),
                             "rose": sum(d["rose"] for d in per_seed), "cases": sum(d["cases"] for d in per_seed),
                             "own_chain": all(d["own_chain"] for d in per_seed), "seeds": len(per_seed)}
        rows.append(row)
    order = {ROLE_LABELED_ONLY: 0, ROLE_EQUAL_BUDGET: 1, ROLE_FULL: 3}  # SSL runs (2) between, in the order read
    settings = list(dict.fromkeys(row["setting"] for row in rows))
    return sorted(rows, key=lambda row: (row["role"] == ROLE_FULL, settings.index(row["setting"]),
                                         order.get(row["role"], 2)))


def _fmt(value: float, digits: int, signed: bool = False) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _mean_std(mean: float, std: float, digits: int) -> str:
    return _fmt(mean, digits) + ("" if math.isnan(std) else f" ± {_fmt(std, digits)}")


def _diff_cell(row: dict, name: str) -> str:
    d = row.get(name)
    if not d:
        return "–"
    mark = "" if d["own_chain"] else " †"
    return (f"{_fmt(d['dice'], 3, True)} / {_fmt(d['hd95_mm'], 2, True)} mm, {d['rose']} / {d['cases']}{mark}")


def markdown(rows: Sequence[dict], folders: Sequence[Path]) -> str:
    lines = ["| setting | method | Dice per seed (runs) | Dice | HD95 (mm) | vs labeled-only: ΔDice / ΔHD95, Dice rose | "
             "vs same total budget: ΔDice / ΔHD95, Dice rose |", "|" + "---|" * 7]
    for row in rows:
        per_seed = "; ".join(_seed_label(seed) + ", ".join(_fmt(v, 3) for v in e["dice"])
                             for seed, e in row["seeds"].items())
        lines.append(f"| {row['setting']} | {row['method']} | {per_seed} | {_mean_std(row['dice'], row['dice_std'], 3)} | "
                     f"{_mean_std(row['hd95_mm'], row['hd95_mm_std'], 2)} | {_diff_cell(row, 'vs_labeled_only')} | "
                     f"{_diff_cell(row, 'vs_equal_budget')} |")
    lines += ["", "Dice per seed: the mean over the fold's validation cases of each distinct run of that seed (re-runs "
              "listed apart). Dice, HD95: mean over a seed's runs, then mean ± sample std over seeds. Δ: per case the run "
              "minus the labeled-only (or same-budget) run of its own chain (the folder and fold it was trained in, "
              "i.e. the model it was warm-started from), averaged over cases, runs and seeds; 'Dice rose': cases with "
              "a higher Dice, summed. † compared with the same-budget run of another chain (same fold and cases, a "
              "different labeled-only start): indicative only.", "", "Sources: " + ", ".join(str(f) for f in folders)]
    return "\n".join(lines) + "\n"


def _seed_label(seed) -> str:
    """'s0 ' for a labeled-subset seed; nothing for a run without one (the full-label run of a non-preset split)."""
    return "" if seed is None else f"s{seed} "


def compare_methods(folders: Sequence[Path], method: str, reference: str) -> List[dict]:
    """`method` minus `reference`, case by case, paired within the chain (the same labeled-only start, so the
    difference is the methods', not the starting models'); where a run's chain has no reference run, with the
    reference runs of the same fold in other chains (marked `own_chain` False: indicative only). Per setting, per seed
    the mean over that seed's pairs, then mean ± std over seeds. An ablation reads as `compare_methods(folders, full,
    ablated)`."""
    by_folder = {Path(f): read_folder(Path(f)) for f in folders}
    runs = deduplicate([r for recorded in by_folder.values() for r in recorded])
    chains = _chains(by_folder)
    known = {r.method for r in runs}
    for name in (method, reference):
        if name not in known:
            raise CombineError(f"no evaluated run of {name!r} in {', '.join(map(str, folders))}; the methods there: "
                               f"{', '.join(sorted(known))}")

    rows = []
    for setting in dict.fromkeys(r.setting for r in runs if r.method == method):
        seeds: Dict = {}
        for run in (r for r in runs if r.method == method and r.setting == setting):
            references, own = _partners(runs, chains, run, lambda r: r.method == reference)
            for ref in references:
                seeds.setdefault(run.seed, []).append({**paired_difference(run, ref), "own_chain": own})
        if not seeds:
            continue
        per_seed = {seed: {"dice": _mean(d["dice"] for d in diffs), "hd95_mm": _mean(d["hd95_mm"] for d in diffs),
                           "rose": sum(d["rose"] for d in diffs), "cases": sum(d["cases"] for d in diffs),
                           "pairs": len(diffs), "own_chain": all(d["own_chain"] for d in diffs)}
                    for seed, diffs in sorted(seeds.items(), key=lambda i: str(i[0]))}
        dice, hd = [e["dice"] for e in per_seed.values()], [e["hd95_mm"] for e in per_seed.values()]
        rows.append({"setting": setting, "method": method, "reference": reference, "seeds": per_seed,
                     "dice": _mean(dice), "dice_std": _std(dice), "hd95_mm": _mean(hd), "hd95_mm_std": _std(hd),
                     "rose": sum(e["rose"] for e in per_seed.values()),
                     "cases": sum(e["cases"] for e in per_seed.values())})
    if not rows:
        raise CombineError(f"{method!r} and {reference!r} were never trained on the same fold in "
                           f"{', '.join(map(str, folders))}")
    return rows


def compare_markdown(rows: Sequence[dict], folders: Sequence[Path]) -> str:
    lines = ["| setting | method − reference | ΔDice per seed | ΔDice | ΔHD95 (mm) | Dice rose |", "|" + "---|" * 6]
    for row in rows:
        per_seed = "; ".join(f"{_seed_label(seed)}{_fmt(e['dice'], 3, True)}{'' if e['own_chain'] else ' †'}"
                             for seed, e in row["seeds"].items())
        lines.append(f"| {row['setting']} | {row['method']} − {row['reference']} | {per_seed} | "
                     f"{_fmt(row['dice'], 3, True)}" + ("" if math.isnan(row["dice_std"]) else
                                                         f" ± {_fmt(row['dice_std'], 3)}") +
                     f" | {_fmt(row['hd95_mm'], 2, True)} | {row['rose']} / {row['cases']} |")
    lines += ["", "Per case the method minus the reference, both from the same chain (folder and fold: the same labeled "
              "and validation cases and, with warm starts, the same labeled-only starting model), averaged over cases "
              "and over a seed's pairs; then mean ± sample std over seeds. "
              "'Dice rose': cases where the method's Dice is higher, summed. † no reference run in that seed's chain: paired "
              "with the reference runs of the same fold started from another labeled-only model (same cases; the "
              "difference includes the two starting models'): indicative only.", "",
              "Sources: " + ", ".join(str(f) for f in folders)]
    return "\n".join(lines) + "\n"
