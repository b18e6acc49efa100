"""The benchmark configuration: a small JSON or YAML file, validated with errors that name the key.

    dataset: 901                      # id or DatasetXXX_Name
    configuration: 3d_fullres
    plans: nnUNetPlans                # default
    trainers: [nnUNetTrainerMeanTeacher, nnUNetTrainerPSCM]
    labeled: [4, 8]                   # labeled cases per fold ... OR
    # fractions: [0.1, 0.2]           # ... fractions of each fold's training cases ... OR
    # presets: [LA-4, LA-8]           # ... published splits (nnunetv2_pscm.data.presets): fixed labeled/val cases
    folds: [0]                        # base cross-validation folds (default [0]; not with presets)
    seeds: [0]                        # seeds of the labeled subsets (default [0]); with presets: training
                                      # replicates of the same split (separate nnU-Net folds)
    schedule: 20ep50it                # optional: appended to EVERY trainer, so all methods get the same budget
    warm_start: false                 # true (needs schedule): SSL trainers start from the labeled-only run's
                                      # checkpoint_final (-pretrained_weights), plus a stock run with the same
                                      # total budget (<2E>ep<I>it)
    equal_budget: true                # with warm_start: false skips that stock run (e.g. an ablation config whose
                                      # chain's main benchmark has it; the labeled-only run is always trained)
    device: cuda                      # cpu | cuda | mps (default cuda, like nnUNetv2_train)
    output: benchmark_results         # relative paths are relative to the config file's folder
    num_processes: 1                  # evaluation worker processes (optional)
    overwrite_split: false            # replace a different existing splits_final.json (a backup is kept)
    include_unlabeled_images: false   # add imagesUnlabeled/ (preprocessed) to every SSL fold's unlabeled set

Exactly one of `labeled`, `fractions` and `presets` is given. The labeled-only nnUNetTrainer and the full-label
nnUNetTrainer are always run; listing nnUNetTrainer in `trainers` changes nothing.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

STOCK_TRAINER = "nnUNetTrainer"
DEVICES = ("cpu", "cuda", "mps")
SCHEDULE_PATTERN = re.compile(r"^(?P<epochs>\d+)ep(?P<iterations>\d+)it$")
SCHEDULED_NAME_PATTERN = re.compile(r"_\d+ep\d+it$")
TRAINER_NAME_PATTERN = re.compile(r"^[A-Za-z_]\w*$")


class BenchmarkConfigError(ValueError):
    """An invalid benchmark configuration; the message names the key (and the file, when there is one)."""


@dataclass(frozen=True)
class BenchmarkConfig:
    dataset: str
    configuration: str
    trainers: Tuple[str, ...]
    output: Path
    labeled: Tuple[int, ...] = ()
    fractions: Tuple[float, ...] = ()
    plans: str = "nnUNetPlans"
    folds: Tuple[int, ...] = (0,)
    seeds: Tuple[int, ...] = (0,)
    schedule: Optional[str] = None
    device: str = "cuda"
    num_processes: int = 1
    overwrite_split: bool = False
    include_unlabeled_images: bool = False
    presets: Tuple[str, ...] = ()
    warm_start: bool = False
    equal_budget: bool = True
    source: Optional[Path] = field(default=None, compare=False)  # the file it was read from, for messages

    @property
    def ssl_trainers(self) -> Tuple[str, ...]:
        """The listed trainers other than the stock one (which is always run as labeled-only and full-label)."""
        return tuple(t for t in self.trainers if t != STOCK_TRAINER)

    def scheduled(self, trainer: str) -> str:
        """The trainer name nnU-Net is given: with the schedule suffix when there is a schedule."""
        return f"{trainer}_{self.schedule}" if self.schedule else trainer

    def schedule_epochs_iterations(self) -> Optional[Tuple[int, int]]:
        if not self.schedule:
            return None
        match = SCHEDULE_PATTERN.match(self.schedule)
        return int(match["epochs"]), int(match["iterations"])

    @property
    def equal_budget_trainer(self) -> Optional[str]:
        """With warm_start: the stock trainer given what labeled-only + warm-started SSL get together (2E epochs of I
        iterations), so a gain of the SSL run cannot be just its longer total training."""
        if not (self.warm_start and self.equal_budget):
            return None
        epochs, iterations = self.schedule_epochs_iterations()
        return f"{STOCK_TRAINER}_{2 * epochs}ep{iterations}it"

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        d.pop("source")
        d["output"] = str(self.output)
        for key in ("trainers", "labeled", "fractions", "presets", "folds", "seeds"):
            d[key] = list(d[key])
        for key in ("fractions", "labeled", "presets", "folds"):  # the unused alternatives (folds: with presets)
            if not d[key]:
                del d[key]
        return d


_KNOWN_KEYS = ("dataset", "configuration", "plans", "trainers", "labeled", "fractions", "folds", "seeds", "schedule",
               "device", "output", "num_processes", "overwrite_split", "include_unlabeled_images", "presets",
               "warm_start", "equal_budget")


def _fail(key: str, message: str, source) -> None:
    where = f" in {source}" if source else ""
    raise BenchmarkConfigError(f"benchmark config{where}: '{key}' {message}")


def _int_list(raw: dict, key: str, default, source, minimum=None) -> Tuple[int, ...]:
    value = raw.get(key, default)
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        _fail(key, f"must be a non-empty list of integers, got {value!r}", source)
    for v in value:
        if not isinstance(v, int) or isinstance(v, bool):
            _fail(key, f"must hold integers only, got {v!r}", source)
        if minimum is not None and v < minimum:
            _fail(key, f"values must be >= {minimum}, got {v}", source)
    if len(set(value)) != len(value):
        _fail(key, f"has duplicates: {list(value)}", source)
    return tuple(value)


def _string(raw: dict, key: str, default, source) -> Optional[str]:
    value = raw.get(key, default)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and key == "dataset":
        return str(value)
    if not isinstance(value, str) or not value.strip():
        _fail(key, f"must be a non-empty string, got {value!r}", source)
    return value.strip()


def _bool(raw: dict, key: str, source, default: bool = False) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        _fail(key, f"must be true or false, got {value!r}", source)
    return value


def _trainers(raw: dict, schedule: Optional[str], source) -> Tuple[str, ...]:
    value = raw.get("trainers")
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        _fail("trainers", f"must be a non-empty list of trainer class names, got {value!r}", source)
    names = []
    for name in value:
        if not isinstance(name, str) or not TRAINER_NAME_PATTERN.match(name):
            _fail("trainers", f"holds {name!r}, which is not a trainer class name", source)
        if schedule and SCHEDULED_NAME_PATTERN.search(name):
            # one budget for every method is the point of 'schedule'; a second suffix would not parse
            _fail("trainers", f"holds {name!r}, which already has a schedule suffix; with 'schedule' set, list the "
                  f"plain trainer names", source)
        if name not in names:
            names.append(name)
    return tuple(names)


def _presets(raw: dict, source) -> Tuple[str, ...]:
    """Preset names, spelled as nnunetv2_pscm.data.presets spells them (matched case-insensitively)."""
    from nnunetv2_pscm.data.presets import available_presets

    value = raw["presets"]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        _fail("presets", f"must be a non-empty list of preset names, got {value!r}", source)
    known = {name.lower(): name for name in available_presets()}
    names = []
    for v in value:
        if not isinstance(v, str) or v.lower() not in known:
            _fail("presets", f"holds {v!r}, which is not a split preset (known: {', '.join(known.values())})", source)
        names.append(known[v.lower()])
    if len(set(names)) != len(names):
        _fail("presets", f"has duplicates: {list(value)}", source)
    if "folds" in raw:  # silently ignoring it would suggest a cross-validation that is not there
        _fail("folds", "is not used with 'presets' (a preset fixes the labeled and validation cases); remove it and "
              "use 'seeds' for training replicates", source)
    return tuple(names)


def _labeled_settings(raw: dict, source) -> Tuple[Tuple[int, ...], Tuple[float, ...], Tuple[str, ...]]:
    given = [key for key in ("labeled", "fractions", "presets") if raw.get(key) is not None]
    if len(given) != 1:
        _fail("labeled", "or 'fractions' or 'presets': give exactly one of them (labeled counts per fold, fractions "
              f"of each fold's training cases, or published split presets); got {given or 'none'}", source)
    if given == ["presets"]:
        return (), (), _presets(raw, source)
    if given == ["labeled"]:
        return _int_list(raw, "labeled", None, source, minimum=1), (), ()
    value = raw["fractions"]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        _fail("fractions", f"must be a non-empty list of numbers in (0, 1), got {value!r}", source)
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1:
            _fail("fractions", f"values must be numbers in (0, 1), got {v!r}", source)
    if len(set(value)) != len(value):
        _fail("fractions", f"has duplicates: {list(value)}", source)
    return (), tuple(float(v) for v in value), ()


def config_from_dict(raw: Dict[str, Any], base_dir: Optional[os.PathLike] = None,
                     source: Optional[os.PathLike] = None) -> BenchmarkConfig:
    """Validate a parsed configuration. A relative `output` is resolved against `base_dir` (default: the
    current directory)."""
    if not isinstance(raw, dict):
        raise BenchmarkConfigError(f"benchmark config{' in ' + str(source) if source else ''} must be a mapping of "
                                   f"keys to values, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(_KNOWN_KEYS))
    if unknown:
        _fail(unknown[0], f"is not a known key (known: {', '.join(_KNOWN_KEYS)})", source)
    for key in ("dataset", "configuration", "trainers", "output"):
        if raw.get(key) is None:
            _fail(key, "is required", source)

    schedule = _string(raw, "schedule", None, source)
    if schedule is not None:
        match = SCHEDULE_PATTERN.match(schedule)
        if not match or int(match["epochs"]) < 1 or int(match["iterations"]) < 1:
            _fail("schedule", f"must look like '<epochs>ep<iterations>it' with both >= 1 (e.g. '20ep50it'), "
                  f"got {schedule!r}", source)
    device = _string(raw, "device", "cuda", source)
    if device not in DEVICES:
        _fail("device", f"must be one of {', '.join(DEVICES)}, got {device!r}", source)
    num_processes = raw.get("num_processes", 1)
    if isinstance(num_processes, bool) or not isinstance(num_processes, int) or num_processes < 1:
        _fail("num_processes", f"must be an integer >= 1, got {num_processes!r}", source)
    labeled, fractions, presets = _labeled_settings(raw, source)
    warm_start = _bool(raw, "warm_start", source)
    if warm_start and schedule is None:  # the equal-budget stock run is defined by doubling the schedule's epochs
        _fail("schedule", "is required with 'warm_start: true' (e.g. 'schedule: 20ep50it'): the stock run with the "
              "same total budget is trained for twice its epochs", source)
    equal_budget = _bool(raw, "equal_budget", source, default=True)
    if "equal_budget" in raw and not warm_start:
        _fail("equal_budget", "only applies with 'warm_start: true' (the stock run with the same total budget as "
              "labeled-only + warm-started SSL); without a warm start there is no such run", source)
    output = Path(os.path.expanduser(_string(raw, "output", None, source)))
    if not output.is_absolute():
        output = Path(base_dir or os.getcwd()) / output
    return BenchmarkConfig(
        dataset=_string(raw, "dataset", None, source),
        configuration=_string(raw, "configuration", None, source),
        plans=_string(raw, "plans", "nnUNetPlans", source),
        trainers=_trainers(raw, schedule, source),
        labeled=labeled,
        fractions=fractions,
        folds=() if presets else _int_list(raw, "folds", [0], source, minimum=0),
        seeds=_int_list(raw, "seeds", [0], source),
        schedule=schedule,
        device=device,
        output=output.resolve(),
        num_processes=num_processes,
        overwrite_split=_bool(raw, "overwrite_split", source),
        include_unlabeled_images=_bool(raw, "include_unlabeled_images", source),
        presets=presets,
        warm_start=warm_start,
        equal_budget=equal_budget,
        source=Path(source).resolve() if source else None,
    )


def load_config(path: os.PathLike) -> BenchmarkConfig:
    """Read a .json, .yaml or .yml benchmark config; a relative `output` is relative to the file's folder."""
    path = Path(path)
    if not path.is_file():
        raise BenchmarkConfigError(f"benchmark config {path} does not exist")
    text = path.read_text()
    try:
        if path.suffix.lower() == ".json":
            raw = json.loads(text)
        else:
            import yaml

            raw = yaml.safe_load(text)
    except Exception as error:  # json and yaml raise different error classes; both mean "cannot parse"
        raise BenchmarkConfigError(f"benchmark config {path} cannot be parsed: {error}") from error
    return config_from_dict(raw, base_dir=path.resolve().parent, source=path)
