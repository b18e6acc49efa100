"""Your own data -> nnU-Net raw dataset: image/label pairs matched by file-name patterns, plus optional unlabeled
images (-> imagesUnlabeled/) and an optional test folder (-> imagesTs/, labelsTs/).

Patterns are paths relative to the input folder with a `{case}` placeholder (and optional `*` wildcards):

    {case}_image.nrrd  +  {case}_label.nrrd            (pairs side by side)
    images/{case}.nii.gz  +  labels/{case}.nii.gz      (two folders, same names)
    {case}/{case}_t1.nii.gz {case}/{case}_flair.nii.gz  +  {case}/{case}_seg.nii.gz   (several channels)

Give one image pattern per channel, in channel order; a single 4-D or vector image is split into channels.
Without patterns the common layouts above are tried and the chosen patterns are printed. Any format
SimpleITK reads (NIfTI, NRRD, MHA/MHD, ...) is accepted; everything is written as .nii.gz. Labels must be
integer class ids; `label_map` remaps values (e.g. {255: 1}); without `label_names` the values found must be
consecutive from 0. Case ids are the `{case}` part (characters other than letters, digits, '.', '_', '-'
become '_'), optionally with a prefix. `dry_run=True` lists what would be written and checks image/label
geometry from the file headers, writing nothing.
"""
from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import SimpleITK as sitk

from nnunetv2_pscm.dataset_conversion.common import (
    ConversionError, FILE_ENDING, case_of_image_file, check_same_grid, consecutive_labels, dataset_folder_name,
    finite_image, geometry_differs, info, map_with_progress, read_image, sanitize_case_id, spacing_close,
    split_channels, staged_dataset, to_label_array, write_image, write_label,
)
from nnunetv2_pscm.dataset_conversion.registry import ConverterCommand, option

IMAGE_EXTENSIONS = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd", ".gipl", ".gipl.gz")
# (image pattern, label pattern) pairs tried in order when the user gives none; {ext} is filled per extension
_GUESSES = (
    ("imagesTr/{case}_0000{ext}", "labelsTr/{case}{ext}"),
    ("imagesTr/{case}{ext}", "labelsTr/{case}{ext}"),
    ("images/{case}{ext}", "labels/{case}{ext}"),
    ("image/{case}{ext}", "label/{case}{ext}"),
    ("{case}_image{ext}", "{case}_label{ext}"),
    ("{case}_img{ext}", "{case}_seg{ext}"),
    ("{case}{ext}", "{case}_seg{ext}"),
    ("{case}{ext}", "{case}_label{ext}"),
    ("{case}{ext}", "{case}_mask{ext}"),
)


# --------------------------------------------------------------------------------------------------
# pattern matching
# --------------------------------------------------------------------------------------------------

def pattern_to_regex(pattern: str) -> re.Pattern:
    if "{case}" not in pattern:
        raise ConversionError(f"Pattern {pattern!r} has no {{case}} placeholder; e.g. '{{case}}_image.nrrd'.")
    out, first = [], True
    for token in re.split(r"(\{case\}|\*\*/|\*)", pattern.replace(os.sep, "/")):
        if token == "{case}":
            out.append(r"(?P<case>[^/]+?)" if first else r"(?P=case)")
            first = False
        elif token == "**/":
            out.append(r"(?:.*/)?")
        elif token == "*":
            out.append(r"[^/]*")
        else:
            out.append(re.escape(token))
    return re.compile("^" + "".join(out) + "$")


def list_files(root: Path) -> list[str]:
    """Relative posix paths of all files under root, skipping hidden files and folders (e.g. macOS '._x')."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel = Path(dirpath).relative_to(root)
        found += [(rel / f).as_posix() for f in sorted(filenames) if not f.startswith(".")]
    return found


def match_pattern(files: Sequence[str], pattern: str) -> dict[str, str]:
    regex = pattern_to_regex(pattern)
    matches: dict[str, str] = {}
    for f in files:
        m = regex.match(f)
        if m:
            case = m.group("case")
            if case in matches:
                raise ConversionError(f"Pattern {pattern!r} matches two files for case {case!r}: "
                                      f"{matches[case]} and {f}. Make the pattern more specific.")
            matches[case] = f
    return matches


def guess_patterns(root: Path) -> tuple[list[str], str]:
    files = list_files(root)
    for image_guess, label_guess in _GUESSES:
        for ext in IMAGE_EXTENSIONS:
            image_pattern, label_pattern = image_guess.format(case="{case}", ext=ext), label_guess.format(case="{case}", ext=ext)
            labels = match_pattern(files, label_pattern)
            images = {c: f for c, f in match_pattern(files, image_pattern).items() if f not in labels.values()}
            if labels and set(labels) <= set(images):
                return [image_pattern], label_pattern
    raise ConversionError(
        f"Could not recognise the layout of {root}. Give the patterns explicitly, e.g.\n"
        f"  --image-pattern '{{case}}_image.nrrd' --label-pattern '{{case}}_label.nrrd'\n"
        f"  --image-pattern 'images/{{case}}.nii.gz' --label-pattern 'labels/{{case}}.nii.gz'\n"
        f"  --image-pattern '{{case}}/{{case}}_t1.nii.gz' '{{case}}/{{case}}_t2.nii.gz' --label-pattern '{{case}}/{{case}}_seg.nii.gz'"
    )


# --------------------------------------------------------------------------------------------------
# the plan: what goes where
# --------------------------------------------------------------------------------------------------

@dataclass
class PlannedCase:
    case_id: str
    subset: str  # "Tr", "Ts" or "Unlabeled"
    image_files: list[str]
    label_file: str | None


@dataclass
class ConversionPlan:
    dataset_folder: str
    num_channels: int
    channel_names: list[str]
    cases: list[PlannedCase] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def count(self, subset: str) -> int:
        return sum(c.subset == subset for c in self.cases)

    def describe(self, max_rows: int = 20) -> str:
        folder = self.dataset_folder + ("  (choose the id NNN with -d)" if "NNN" in self.dataset_folder else "")
        lines = [f"Dry run, nothing is written. Dataset folder: $nnUNet_raw/{folder}",
                 f"Channels ({self.num_channels}): {', '.join(self.channel_names)}",
                 f"Cases: {self.count('Tr')} labeled -> imagesTr/labelsTr, {self.count('Ts')} test -> imagesTs"
                 f"{'/labelsTs' if any(c.label_file for c in self.cases if c.subset == 'Ts') else ''}, "
                 f"{self.count('Unlabeled')} unlabeled -> imagesUnlabeled"]
        for c in self.cases[:max_rows]:
            outs = ", ".join(f"images{c.subset}/{c.case_id}_{i:04d}{FILE_ENDING}" for i in range(self.num_channels))
            lines.append(f"  {c.case_id}: {' + '.join(c.image_files)} -> {outs}")
            if c.label_file:
                lines.append(f"  {' ' * len(c.case_id)}  {c.label_file} -> labels{c.subset}/{c.case_id}{FILE_ENDING}")
        if len(self.cases) > max_rows:
            lines.append(f"  ... and {len(self.cases) - max_rows} more case(s)")
        if self.problems:
            lines.append(f"Problems ({len(self.problems)}):")
            lines += [f"  - {p}" for p in self.problems]
        else:
            lines.append("No problems found in the file headers.")
        return "\n".join(lines)


def _match_cases(root: Path, image_patterns: Sequence[str], label_pattern: str | None) -> tuple[dict, dict]:
    files = list_files(root)
    labels = match_pattern(files, label_pattern) if label_pattern else {}
    label_files = set(labels.values())
    per_channel = [{c: f for c, f in match_pattern(files, p).items() if f not in label_files} for p in image_patterns]
    cases = per_channel[0]
    images = {}
    for case in cases:
        missing = [image_patterns[i] for i, ch in enumerate(per_channel) if case not in ch]
        if missing:
            raise ConversionError(f"{root}: case {case!r} has no file for channel pattern(s) {missing}.")
        images[case] = [str(root / ch[case]) for ch in per_channel]
    return images, {c: str(root / f) for c, f in labels.items()}


def build_plan(input_root, image_patterns, label_pattern, dataset_folder, channel_names, unlabeled_root=None,
               unlabeled_patterns=None, test_root=None, case_prefix="", missing_label_as_unlabeled=False
               ) -> ConversionPlan:
    root = Path(input_root)
    images, labels = _match_cases(root, image_patterns, label_pattern)
    if not images:
        raise ConversionError(f"No image matches {image_patterns} under {root}.")
    orphans = sorted(set(labels) - set(images))
    if orphans:
        raise ConversionError(f"{len(orphans)} label file(s) have no image: "
                              f"{', '.join(labels[o] for o in orphans[:5])}")
    unlabeled_here = sorted(set(images) - set(labels))
    if unlabeled_here and not missing_label_as_unlabeled:
        raise ConversionError(
            f"{len(unlabeled_here)} image(s) have no label (pattern {label_pattern!r}): "
            f"{', '.join(images[c][0] for c in unlabeled_here[:5])}. Move them to a separate folder given as the "
            f"unlabeled folder, or allow them as unlabeled images (--missing-label-as-unlabeled).")

    plan = ConversionPlan(dataset_folder, len(image_patterns), list(channel_names))
    seen: dict[str, str] = {}

    def add(raw_case, subset, image_files, label_file):
        case_id = sanitize_case_id(case_prefix + raw_case)
        if case_id in seen:
            raise ConversionError(f"Two inputs map to the same case id {case_id!r}: {seen[case_id]} and "
                                  f"{image_files[0]}. Rename one of them or use a case prefix.")
        seen[case_id] = image_files[0]
        plan.cases.append(PlannedCase(case_id, subset, image_files, label_file))

    for case in sorted(images):
        add(case, "Tr" if case in labels else "Unlabeled", images[case], labels.get(case))
    if test_root is not None:
        test_images, test_labels = _match_cases(Path(test_root), image_patterns, label_pattern)
        if not test_images:
            raise ConversionError(f"No image matches {image_patterns} under the test folder {test_root}.")
        for case in sorted(test_images):
            add(case, "Ts", test_images[case], test_labels.get(case))
    if unlabeled_root is not None:
        patterns = list(unlabeled_patterns or image_patterns)
        if len(patterns) != len(image_patterns):
            raise ConversionError(f"Unlabeled images need one pattern per channel ({len(image_patterns)}), "
                                  f"got {len(patterns)}.")
        extra, _ = _match_cases(Path(unlabeled_root), patterns, None)
        if not extra:
            raise ConversionError(f"No image matches {patterns} under the unlabeled folder {unlabeled_root}; give "
                                  f"its layout with --unlabeled-pattern (e.g. '{{case}}.nii.gz').")
        for case in sorted(extra):
            add(case, "Unlabeled", extra[case], None)
    return plan


def _header(path: str) -> tuple[tuple, tuple, int, int]:
    reader = sitk.ImageFileReader()
    reader.SetFileName(path)
    try:
        reader.ReadImageInformation()
    except RuntimeError as e:
        raise ConversionError(f"Cannot read image header of {path}: {str(e).strip().splitlines()[-1]}") from None
    return reader.GetSize(), reader.GetSpacing(), reader.GetDimension(), reader.GetNumberOfComponents()


def check_headers(plan: ConversionPlan) -> None:
    """Cheap checks from the headers only (for --dry-run): channel count, sizes and spacings agree."""
    for case in plan.cases:
        try:
            headers = [_header(f) for f in case.image_files]
            size, spacing, dim, comps = headers[0]
            channels = comps if comps > 1 else (size[3] if dim == 4 else 1)
            if len(case.image_files) == 1 and channels != plan.num_channels:
                plan.problems.append(f"{case.image_files[0]}: {channels} channel(s), expected {plan.num_channels}.")
            for f, (s, sp, _, _) in zip(case.image_files[1:], headers[1:]):
                if s[:3] != size[:3] or not spacing_close(sp[:3], spacing[:3]):
                    plan.problems.append(f"{f}: size/spacing {s}/{sp} differ from {case.image_files[0]} {size}/{spacing}.")
            if case.label_file:
                s, sp, _, _ = _header(case.label_file)
                if s[:3] != size[:3]:
                    plan.problems.append(f"Image/label shape mismatch: {case.image_files[0]} {size[:3]} vs "
                                         f"{case.label_file} {s}.")
                elif not spacing_close(sp[:3], spacing[:3]):
                    plan.problems.append(f"Image/label spacing mismatch: {case.image_files[0]} {spacing[:3]} vs "
                                         f"{case.label_file} {sp}.")
        except ConversionError as e:
            plan.problems.append(str(e))


# --------------------------------------------------------------------------------------------------
# conversion of one case (module level: runs in spawned worker processes)
# --------------------------------------------------------------------------------------------------

def convert_generic_case(image_files: list[str], label_file: str | None, image_outs: list[str],
                         label_out: str | None, label_map: dict | None, allowed_labels: list[int] | None,
                         replace_nonfinite: float | None = None) -> dict:
    channels: list[sitk.Image] = []
    sources: list[str] = []
    for f in image_files:
        split = split_channels(read_image(f), f)
        channels += split
        sources += [f] * len(split)
    if len(channels) != len(image_outs):
        raise ConversionError(f"{image_files[0]}: found {len(channels)} channel(s), expected {len(image_outs)}. "
                              f"Give one image pattern per channel, or for a 4-D file one channel name per channel.")
    for f, ch in zip(sources[1:], channels[1:]):
        check_same_grid(channels[0], ch, image_files[0], f)
    for ch, source, out in zip(channels, sources, image_outs):
        write_image(finite_image(ch, source, case_of_image_file(out), replace_nonfinite), Path(out))
    result = {"values": [], "warning": None}
    if label_file:
        label = read_image(label_file)
        if label.GetNumberOfComponentsPerPixel() != 1:
            raise ConversionError(f"{label_file}: a label must have one component per voxel.")
        check_same_grid(channels[0], label, image_files[0], label_file)
        if geometry_differs(channels[0], label):
            result["warning"] = (f"{label_file}: origin/direction differ from {image_files[0]}; the label is written "
                                 f"on the image grid (voxel correspondence kept). Check with nnUNetv2_plot_overlay_pngs.")
        array = to_label_array(sitk.GetArrayFromImage(label), label_file, mapping=label_map)
        if allowed_labels is not None:
            to_label_array(array, label_file, allowed=allowed_labels)
        result["values"] = sorted(int(v) for v in set(array.ravel().tolist()))
        write_label(array, channels[0], Path(label_out))
    return result


# --------------------------------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------------------------------

def convert_generic(input_root: str | Path, dataset_id: int | None = None, dataset_name: str | None = None,
                    image_patterns: Sequence[str] | None = None, label_pattern: str | None = None,
                    channel_names: Sequence[str] | None = None, label_names: Sequence[str] | None = None,
                    label_map: Mapping[int, int] | None = None, unlabeled_root: str | Path | None = None,
                    unlabeled_patterns: Sequence[str] | None = None, test_root: str | Path | None = None,
                    case_prefix: str = "", missing_label_as_unlabeled: bool = False, overwrite: bool = False,
                    num_processes: int = 1, dry_run: bool = False, replace_nonfinite: float | None = None):
    """Convert a folder of image/label pairs. Returns the dataset folder, or the ConversionPlan when dry_run."""
    root = Path(input_root)
    if not root.is_dir():
        raise ConversionError(f"Input folder {root} does not exist.")
    if not image_patterns:
        image_patterns, guessed_label = guess_patterns(root)
        label_pattern = label_pattern or guessed_label
        info(f"Recognised layout: --image-pattern '{image_patterns[0]}' --label-pattern '{label_pattern}'")
    if not label_pattern:
        raise ConversionError("A label pattern is needed, e.g. --label-pattern '{case}_label.nrrd'.")
    image_patterns = list(image_patterns)
    channel_names = list(channel_names) if channel_names else ["zscore"] * len(image_patterns)
    if len(image_patterns) == 1 and len(channel_names) > 1:
        pass  # one 4-D file with several channels
    elif len(channel_names) != len(image_patterns):
        raise ConversionError(f"{len(image_patterns)} image pattern(s) but {len(channel_names)} channel name(s); "
                              f"give one channel name per image pattern.")
    dataset_name = dataset_name or sanitize_case_id(root.resolve().name).replace(".", "_")
    if dataset_id is None and not dry_run:
        raise ConversionError("Choose a dataset id for your data with -d (e.g. -d 500); nnU-Net needs a unique "
                              "three-digit id per dataset.")
    folder = dataset_folder_name(dataset_id, dataset_name) if dataset_id is not None else f"DatasetNNN_{dataset_name}"
    plan = build_plan(root, image_patterns, label_pattern, folder, channel_names, unlabeled_root, unlabeled_patterns,
                      test_root, case_prefix, missing_label_as_unlabeled)
    plan.num_channels = len(channel_names)
    if plan.count("Tr") == 0:
        raise ConversionError(f"No labeled case found under {root}; nnU-Net needs at least one image with a label.")
    if dry_run:
        check_headers(plan)
        print(plan.describe())
        return plan

    allowed = list(range(len(label_names) + 1)) if label_names else None
    label_map = {int(k): int(v) for k, v in (label_map or {}).items()}
    with staged_dataset(dataset_id, dataset_name, overwrite) as stage:
        jobs = []
        for c in plan.cases:
            jobs.append({
                "image_files": c.image_files, "label_file": c.label_file,
                "image_outs": [str(stage.image_path(c.subset, c.case_id, i)) for i in range(plan.num_channels)],
                "label_out": str(stage.label_path(c.subset, c.case_id)) if c.label_file else None,
                "label_map": label_map, "allowed_labels": allowed, "replace_nonfinite": replace_nonfinite,
            })
        results = map_with_progress(convert_generic_case, jobs, num_processes, description="converting")
        for r in results:
            if r["warning"]:
                info("Warning: " + r["warning"])
        found = sorted({v for r in results for v in r["values"]})
        if label_names:
            labels = {"background": 0, **{name: i + 1 for i, name in enumerate(label_names)}}
        else:
            values = consecutive_labels(found, f"labels under {root}")
            labels = {"background": 0, **{f"label_{v}": v for v in values if v > 0}}
        stage.write_dataset_json(
            {i: n for i, n in enumerate(channel_names)}, labels, dataset_name=dataset_name,
            description=f"Converted by nnUNetv2_pscm_convert_generic from {root.resolve()}",
            source_patterns={"images": image_patterns, "label": label_pattern},
        )
    info(f"Wrote {stage.final_path}")
    return stage.final_path


def label_map_entry(text: str) -> tuple[int, int]:
    """One `--label-map` item, OLD=NEW."""
    try:
        old, new = text.split("=")
        return int(old), int(new)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--label-map entries look like OLD=NEW (e.g. 255=1), got {text!r}") from None


CONVERTER = ConverterCommand(
    name="generic",
    convert=convert_generic,
    description="Your own data -> nnU-Net: image/label pairs matched by patterns (NIfTI, NRRD, MHA, ...; several "
                "channels allowed) plus optional unlabeled and test folders. Run with --dry-run first to see what "
                "will be written.",
    default_id="none, choose one",
    epilog=(
        "examples:\n"
        "  %(prog)s -i cases/ -d 500 --name Breast --image-pattern '{case}_image.nrrd' --label-pattern '{case}_label.nrrd'\n"
        "  %(prog)s -i data/ -d 501 --image-pattern 'images/{case}.nii.gz' --label-pattern 'labels/{case}.nii.gz' "
        "--unlabeled more_images/\n"
        "  %(prog)s -i brats/ -d 502 --image-pattern '{case}/{case}_t1.nii.gz' '{case}/{case}_flair.nii.gz' "
        "--channel-names T1 FLAIR --label-pattern '{case}/{case}_seg.nii.gz' --label-map 4=3\n"
        "patterns are relative to INPUT_ROOT; {case} marks the case id, * matches within one folder level."),
    options=(
        option("--name", dest="dataset_name", default=None, metavar="NAME",
               help="dataset name (default: the input folder's name)"),
        option("--image-pattern", dest="image_patterns", nargs="+", default=None, metavar="PATTERN",
               help="one pattern per channel, in channel order (default: recognise common layouts)"),
        option("--label-pattern", dest="label_pattern", default=None, metavar="PATTERN"),
        option("--channel-names", dest="channel_names", nargs="+", default=None, metavar="NAME",
               help="one per channel; 'CT' selects nnU-Net's CT normalisation (Hounsfield units only), anything else "
                    "per-image z-score (default: zscore)"),
        option("--label-names", dest="label_names", nargs="+", default=None, metavar="NAME",
               help="names of labels 1, 2, ... (default: label_1, label_2, ... from the values found)"),
        option("--label-map", dest="label_map", nargs="+", type=label_map_entry, to_keyword=dict, default=None,
               metavar="OLD=NEW", help="remap label values, e.g. 255=1 or 4=3"),
        option("--unlabeled", dest="unlabeled_root", default=None, metavar="DIR", help="folder of unlabeled images"),
        option("--unlabeled-pattern", dest="unlabeled_patterns", nargs="+", default=None, metavar="PATTERN",
               help="patterns inside the unlabeled folder (default: the image patterns)"),
        option("--test", dest="test_root", default=None, metavar="DIR",
               help="folder of test cases (same patterns; labels optional) -> imagesTs/labelsTs"),
        option("--case-prefix", dest="case_prefix", default="", metavar="CASE_PREFIX",
               help="prefix for every case id"),
        option("--missing-label-as-unlabeled", dest="missing_label_as_unlabeled", action="store_true",
               help="images without a label become unlabeled images instead of an error"),
        option("--dry-run", dest="dry_run", action="store_true", help="list what would be written; write nothing"),
    ),
)
