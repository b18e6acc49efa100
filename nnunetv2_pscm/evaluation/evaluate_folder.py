"""Evaluate a folder of predictions against a folder of references (any format nnU-Net reads).

Pairing policy (strict, because a silently shrunken test set changes every mean):

* Cases are the files ending with dataset.json's ``file_ending``; the case id is the name without it.
* A reference case without a prediction is an error, unless ``cases_from_pred=True`` (evaluate exactly the
  predicted cases, e.g. nnU-Net's ``fold_X/validation`` against the full ``gt_segmentations``) or an
  explicit ``case_ids`` list is given.
* A prediction without a reference is always an error (it usually means the wrong folder was given).
* Per case: shapes must be equal, spacings equal within ``SPACING_RELATIVE_TOLERANCE``, and every value
  of both files must be a label declared in dataset.json (background, labels, ignore). Errors name the case
  and the file(s).
* Per case, both files must also lie on the same grid in space: origin and direction equal within a tolerance,
  as nnU-Net's ``verify_dataset_integrity`` compares them (SimpleITK's origin/direction; for nibabel readers
  the affine's translation and its column directions). The arrays are compared voxel by voxel, so a
  prediction that was flipped or shifted in its header would otherwise be scored against the wrong anatomy.
  The tolerances accept float noise (NIfTI stores its geometry as float32, and tools round differently):
  origins within ``ORIGIN_TOLERANCE_FRACTION_OF_VOXEL`` of the smallest spacing, direction cosines within
  ``DIRECTION_ABSOLUTE_TOLERANCE``. Formats without geometry (PNG, TIFF) have only shape and spacing to
  compare. Opt-out: ``check_origin_direction=False`` (CLI ``--ignore_origin_direction``) for datasets whose
  label headers disagree with their images (nnU-Net's integrity check only warns about that, and its
  predictions carry the image's header); the summary records ``origin_direction_checked``.

Spatial axes of length 1 are dropped before the metrics (with their spacing): nnU-Net represents a 2D
image as a single-slice 3D array, and an erosion across a length-1 axis would make every voxel a surface
voxel. A 2D case is therefore evaluated with 2D surfaces.

Metric definitions, modes and the empty-mask policy: :mod:`nnunetv2_pscm.evaluation.metrics`.
Aggregation (nanmean + ``n_undefined``): :mod:`nnunetv2_pscm.evaluation.summary`.
"""
from __future__ import annotations

import multiprocessing
import os
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Type

import numpy as np

from nnunetv2_pscm.evaluation.dataset_classes import EvaluationClasses, classes_from_dataset_json
from nnunetv2_pscm.evaluation.metrics import (
    BOTH_EMPTY_DICE,
    BOTH_EMPTY_JACCARD,
    BOTH_EMPTY_SURFACE_DISTANCE,
    HAUSDORFF_PERCENTILE,
    MODES,
    ONE_EMPTY_DICE,
    ONE_EMPTY_JACCARD,
    compute_case_metrics,
)
from nnunetv2_pscm.evaluation.summary import aggregate_rows, write_summary_json, write_tidy_csv

SPACING_RELATIVE_TOLERANCE = 1e-5
# float32 headers differ by ~1e-6 mm; a real shift is a sizeable part of a voxel (physical units of the image)
ORIGIN_TOLERANCE_FRACTION_OF_VOXEL = 1e-3
# direction cosines are unitless; float32 round-trips of a rotation stay within ~1e-7
DIRECTION_ABSOLUTE_TOLERANCE = 1e-5
POSTPROCESSING_NONE = "none"
POSTPROCESSING_LCC = "largest_connected_component_per_class"

CONVENTIONS = {
    "dice_jaccard": "medpy dc/jc on binary masks per class or region",
    "hd95": f"{HAUSDORFF_PERCENTILE:g}th percentile of pooled symmetric surface distances (medpy hd95)",
    "asd": "directed mean surface distance prediction -> reference (medpy asd(pred, ref))",
    "assd": "mean of the two directed mean surface distances",
    "surface": "mask XOR erosion with connectivity-1 structuring element (medpy)",
    "voxel": "distances in voxel units (spacing ignored), as the SSL literature reports",
    "mm": "distances in physical units of the image spacing",
}
EMPTY_MASK_POLICY = {
    "both_empty": f"dice={BOTH_EMPTY_DICE:g}, jaccard={BOTH_EMPTY_JACCARD:g}, "
    f"hd95=asd=assd={BOTH_EMPTY_SURFACE_DISTANCE:g}",
    "one_empty": f"dice={ONE_EMPTY_DICE:g}, jaccard={ONE_EMPTY_JACCARD:g}, hd95=asd=assd=undefined "
    "(NaN in memory, null in JSON, empty field in CSV)",
    "means": "nanmean over cases plus n_undefined = number of cases where the metric was undefined",
}


class EvaluationInputError(ValueError):
    """Bad evaluation input: unpaired cases, mismatched shapes/spacings/origins/directions, undeclared labels."""


class Geometry(NamedTuple):
    """Where an image lies in space besides its spacing: origin and flattened direction matrix."""

    origin: Tuple[float, ...]
    direction: Tuple[float, ...]


def geometry_from_properties(properties: dict) -> Optional[Geometry]:
    """Origin and direction from the properties an nnU-Net reader returns; ``None`` if the format has none.

    SimpleITK readers report them under ``sitk_stuff``. Nibabel readers report the affine, whose columns are
    direction x spacing: the columns are normalised, spacing is compared on its own.
    """
    if "sitk_stuff" in properties:
        header = properties["sitk_stuff"]
        return Geometry(tuple(float(v) for v in header["origin"]), tuple(float(v) for v in header["direction"]))
    if "nibabel_stuff" in properties:
        affine = np.asarray(properties["nibabel_stuff"]["original_affine"], dtype=np.float64)
        linear = affine[:-1, :-1]
        column_norms = np.linalg.norm(linear, axis=0)
        direction = linear / np.where(column_norms > 0, column_norms, 1.0)  # a zero column stays zero
        return Geometry(tuple(affine[:-1, -1].tolist()), tuple(direction.ravel().tolist()))
    return None  # PNG, TIFF, ...: no origin or direction to compare


def _rounded(values: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in values) + ")"


def check_same_grid(
    case_id: str,
    ref_file: str,
    pred_file: str,
    ref_geometry: Optional[Geometry],
    pred_geometry: Optional[Geometry],
    spacing: Sequence[float],
) -> None:
    """Raise unless reference and prediction share origin and direction (within the module's tolerances).

    Raises:
        EvaluationInputError: naming the case, both files and both values.
    """
    if ref_geometry is None or pred_geometry is None:
        return
    origin_tolerance = ORIGIN_TOLERANCE_FRACTION_OF_VOXEL * min(float(s) for s in spacing)
    for name, ref_values, pred_values, tolerance in (
        ("origin", ref_geometry.origin, pred_geometry.origin, origin_tolerance),
        ("direction", ref_geometry.direction, pred_geometry.direction, DIRECTION_ABSOLUTE_TOLERANCE),
    ):
        if len(ref_values) == len(pred_values) and np.allclose(ref_values, pred_values, rtol=0, atol=tolerance):
            continue
        raise EvaluationInputError(
            f"case {case_id}: {name} mismatch, reference {ref_file} {_rounded(ref_values)} vs prediction "
            f"{pred_file} {_rounded(pred_values)} (tolerance {tolerance:g}): the two are not on the same grid "
            "(check_origin_direction=False / --ignore_origin_direction skips this check)"
        )


def find_case_files(folder: str, file_ending: str) -> Dict[str, str]:
    """Map case id -> file path for every file of ``folder`` ending with ``file_ending``.

    Args:
        folder: directory to list (not recursive).
        file_ending: e.g. ``".nii.gz"``.

    Returns:
        A dict sorted by case id.

    Raises:
        EvaluationInputError: if ``folder`` is not a directory.
    """
    if not os.path.isdir(folder):
        raise EvaluationInputError(f"not a directory: {folder}")
    files = sorted(f for f in os.listdir(folder) if f.endswith(file_ending) and len(f) > len(file_ending))
    return {f[: -len(file_ending)]: os.path.join(folder, f) for f in files}


def pair_cases(
    ref_files: Dict[str, str],
    pred_files: Dict[str, str],
    case_ids: Optional[Sequence[str]] = None,
    cases_from_pred: bool = False,
    ref_dir: str = "reference folder",
    pred_dir: str = "prediction folder",
) -> List[str]:
    """Apply the pairing policy of the module docstring and return the case ids to evaluate.

    Raises:
        EvaluationInputError: naming the unpaired cases.
    """
    if case_ids is not None:
        case_ids = list(case_ids)
        for folder, files in ((ref_dir, ref_files), (pred_dir, pred_files)):
            absent = [c for c in case_ids if c not in files]
            if absent:
                raise EvaluationInputError(f"requested cases not found in {folder}: {absent}")
        return case_ids
    extra = sorted(set(pred_files) - set(ref_files))
    if extra:
        raise EvaluationInputError(f"predictions without a reference in {ref_dir}: {extra} (from {pred_dir})")
    if cases_from_pred:
        selected = sorted(pred_files)
    else:
        missing = sorted(set(ref_files) - set(pred_files))
        if missing:
            raise EvaluationInputError(
                f"reference cases without a prediction in {pred_dir}: {missing} "
                "(use cases_from_pred / --cases_from_pred to evaluate only the predicted cases)"
            )
        selected = sorted(ref_files)
    if not selected:
        raise EvaluationInputError(f"no cases to evaluate in {pred_dir}")
    return selected


def _present_values(segmentation: np.ndarray, case_id: str, path: str) -> Tuple[np.ndarray, np.ndarray]:
    """Return (the segmentation as int32, the sorted distinct values it holds); reject non-integers."""
    with np.errstate(invalid="ignore"):
        as_int = segmentation.astype(np.int32, copy=False)
    if as_int is not segmentation and not np.array_equal(as_int, segmentation):
        bad = np.unique(segmentation[as_int != segmentation])[:5]
        raise EvaluationInputError(f"case {case_id}: non-integer label values {bad.tolist()} in {path}")
    low, high = int(as_int.min()), int(as_int.max())
    if low >= 0 and high < 1 << 20:
        # bincount is a single pass; np.unique would sort the whole volume
        values = np.flatnonzero(np.bincount(as_int.ravel(), minlength=high + 1))
    else:
        values = np.unique(as_int)
    return as_int, values


def _drop_singleton_axes(segmentation: np.ndarray, spacing: Sequence[float]) -> Tuple[np.ndarray, Tuple[float, ...]]:
    keep = [axis for axis, size in enumerate(segmentation.shape) if size != 1] or [segmentation.ndim - 1]
    squeezed = segmentation.reshape([segmentation.shape[a] for a in keep])
    return squeezed, tuple(float(spacing[a]) for a in keep)


def load_case_pair(
    case_id: str,
    ref_file: str,
    pred_file: str,
    reader_class: Type,
    classes: EvaluationClasses,
    check_origin_direction: bool = True,
) -> Tuple[np.ndarray, np.ndarray, Tuple[float, ...]]:
    """Read and validate one reference/prediction pair.

    Args:
        check_origin_direction: compare origin and direction too (module docstring); shape and spacing always.

    Returns:
        ``(ref, pred, spacing)`` with singleton spatial axes dropped; arrays are int32 label maps.

    Raises:
        EvaluationInputError: on shape/spacing/origin/direction mismatch or undeclared label values (naming case
            and files).
    """
    reader = reader_class()
    loaded = {}
    for role, path in (("reference", ref_file), ("prediction", pred_file)):
        try:
            segmentation, properties = reader.read_seg(path)
        except Exception as error:  # readers raise anything from RuntimeError to nibabel's own errors
            raise EvaluationInputError(f"case {case_id}: cannot read {role} {path}: {error}") from error
        if segmentation.shape[0] != 1:
            raise EvaluationInputError(f"case {case_id}: {path} has {segmentation.shape[0]} channels, expected 1")
        segmentation, values = _present_values(segmentation[0], case_id, path)
        undeclared = sorted(set(values.tolist()) - classes.allowed_values)
        if undeclared:
            raise EvaluationInputError(
                f"case {case_id}: {role} {path} contains label values {undeclared} that dataset.json does not "
                f"declare (declared: {sorted(classes.allowed_values)})"
            )
        loaded[role] = (segmentation, tuple(float(s) for s in properties["spacing"]), properties)

    ref, ref_spacing, ref_properties = loaded["reference"]
    pred, pred_spacing, pred_properties = loaded["prediction"]
    if ref.shape != pred.shape:
        raise EvaluationInputError(
            f"case {case_id}: shape mismatch, reference {ref_file} {ref.shape} vs prediction {pred_file} {pred.shape}"
        )
    if len(ref_spacing) != len(pred_spacing) or not np.allclose(
        ref_spacing, pred_spacing, rtol=SPACING_RELATIVE_TOLERANCE, atol=0
    ):
        raise EvaluationInputError(
            f"case {case_id}: spacing mismatch, reference {ref_file} {ref_spacing} vs "
            f"prediction {pred_file} {pred_spacing}"
        )
    if check_origin_direction:
        check_same_grid(
            case_id,
            ref_file,
            pred_file,
            geometry_from_properties(ref_properties),
            geometry_from_properties(pred_properties),
            ref_spacing,
        )
    ref, spacing = _drop_singleton_axes(ref, ref_spacing)
    pred, _ = _drop_singleton_axes(pred, ref_spacing)
    return ref, pred, spacing


def evaluate_case(
    case_id: str,
    ref_file: str,
    pred_file: str,
    reader_class: Type,
    classes: EvaluationClasses,
    modes: Sequence[str],
    lcc: bool,
    check_origin_direction: bool = True,
) -> Dict[str, object]:
    """Read, validate and measure one case (top-level so that spawned worker processes can run it).

    Returns:
        ``{"case", "reference_file", "prediction_file", "shape", "spacing", "rows"}`` where ``rows`` are
        the tidy rows of :func:`~nnunetv2_pscm.evaluation.metrics.compute_case_metrics` with ``case`` added.
    """
    ref, pred, spacing = load_case_pair(case_id, ref_file, pred_file, reader_class, classes, check_origin_direction)
    rows = compute_case_metrics(
        pred,
        ref,
        classes.labels_or_regions,
        spacing=spacing,
        modes=modes,
        class_names=classes.names,
        lcc=lcc,
        ignore_label=classes.ignore_label,
    )
    return {
        "case": case_id,
        "reference_file": ref_file,
        "prediction_file": pred_file,
        "shape": list(ref.shape),
        "spacing": list(spacing),
        "rows": [{"case": case_id, **row} for row in rows],
    }


def _nest_rows(rows: Sequence[Dict[str, object]]) -> Dict[str, Dict[str, Dict[str, object]]]:
    nested: Dict[str, Dict[str, Dict[str, object]]] = {}
    for row in rows:
        values = {k: v for k, v in row.items() if k not in ("case", "class", "mode")}
        nested.setdefault(str(row["class"]), {})[str(row["mode"])] = values
    return nested


def evaluate_folders(
    ref_dir: str,
    pred_dir: str,
    dataset_json: dict,
    modes: Sequence[str] = MODES,
    lcc: bool = False,
    num_processes: int = 1,
    output_json: Optional[str] = None,
    output_csv: Optional[str] = None,
    case_ids: Optional[Sequence[str]] = None,
    cases_from_pred: bool = False,
    check_origin_direction: bool = True,
) -> Dict[str, object]:
    """Dice, Jaccard, HD95, ASD, ASSD of every case and class, with per-class and foreground means.

    Args:
        ref_dir: folder of reference segmentations.
        pred_dir: folder of predicted segmentations (same file names).
        dataset_json: parsed dataset.json: ``labels`` (+ ``regions_class_order``), ``file_ending``,
            optionally ``overwrite_image_reader_writer``.
        modes: any of ``"voxel"`` and ``"mm"``.
        lcc: keep only the largest connected component of each class's prediction before measuring.
        num_processes: worker processes (spawn context) over cases; 1 runs in this process.
        output_json: write the summary there (undefined values as ``null``); existing files are replaced.
        output_csv: write the tidy CSV there (``case,class,mode,dice,jaccard,hd95,asd,assd``; undefined
            values as empty fields); existing files are replaced.
        case_ids: evaluate exactly these cases (each must exist in both folders).
        cases_from_pred: evaluate the cases present in ``pred_dir`` instead of requiring all of ``ref_dir``.
        check_origin_direction: require equal origin and direction per case (module docstring); ``False``
            only for data whose headers are known to disagree while the arrays are aligned.

    Returns:
        The summary: ``postprocessing``, ``origin_direction_checked``, ``modes``, ``conventions``,
        ``empty_mask_policy``, ``classes``, ``num_cases``, ``per_case`` (``metrics[class][mode][metric]``, NaN where undefined), ``mean``
        (per class and mode: ``{"mean", "n_undefined", "n"}`` per metric, plus ``empty_counts``) and
        ``foreground_mean`` (per mode, over classes; see :func:`~nnunetv2_pscm.evaluation.summary.aggregate_rows`).

    Raises:
        EvaluationInputError: on unpaired cases, shape/spacing/origin/direction mismatches or undeclared label
            values.
        ValueError: on invalid modes or a dataset.json without ``file_ending``/``labels``.
    """
    from nnunetv2.imageio.reader_writer_registry import determine_reader_writer_from_dataset_json

    modes = tuple(dict.fromkeys(modes))
    if not modes or any(m not in MODES for m in modes):
        raise ValueError(f"modes must be a non-empty subset of {MODES}, got {modes}")
    if "file_ending" not in dataset_json:
        raise ValueError("dataset.json has no 'file_ending' entry")
    file_ending = dataset_json["file_ending"]
    classes = classes_from_dataset_json(dataset_json)

    ref_files = find_case_files(ref_dir, file_ending)
    pred_files = find_case_files(pred_dir, file_ending)
    if not ref_files:
        raise EvaluationInputError(f"no '{file_ending}' files in reference folder {ref_dir}")
    cases = pair_cases(ref_files, pred_files, case_ids, cases_from_pred, ref_dir, pred_dir)
    example_file = ref_files[cases[0]]
    try:
        reader_class = determine_reader_writer_from_dataset_json(dataset_json, example_file, verbose=False)
    except RuntimeError as error:
        raise EvaluationInputError(f"no nnU-Net reader can open {example_file}: {error}") from error

    jobs = [(c, ref_files[c], pred_files[c], reader_class, classes, modes, lcc, check_origin_direction) for c in cases]
    if num_processes > 1 and len(jobs) > 1:
        # spawn: safe with torch/threads in the parent and identical on every OS
        with multiprocessing.get_context("spawn").Pool(min(num_processes, len(jobs))) as pool:
            case_results = pool.starmap(evaluate_case, jobs)
    else:
        case_results = [evaluate_case(*job) for job in jobs]

    all_rows = [row for result in case_results for row in result["rows"]]
    aggregated = aggregate_rows(all_rows, classes.names, modes)
    summary: Dict[str, object] = {
        "ref_dir": os.path.abspath(ref_dir),
        "pred_dir": os.path.abspath(pred_dir),
        "file_ending": file_ending,
        "modes": list(modes),
        "postprocessing": POSTPROCESSING_LCC if lcc else POSTPROCESSING_NONE,
        "origin_direction_checked": bool(check_origin_direction),
        "conventions": CONVENTIONS,
        "empty_mask_policy": EMPTY_MASK_POLICY,
        "classes": [{"name": n, "label_or_region": v} for n, v in zip(classes.names, classes.labels_or_regions)],
        "region_based": classes.has_regions,
        "ignore_label": classes.ignore_label,
        "num_cases": len(case_results),
        "per_case": [
            {**{k: v for k, v in result.items() if k != "rows"}, "metrics": _nest_rows(result["rows"])}
            for result in case_results
        ],
        **aggregated,
    }
    if output_json is not None:
        write_summary_json(summary, output_json)
    if output_csv is not None:
        write_tidy_csv(all_rows, output_csv)
    return summary
