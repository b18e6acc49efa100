"""M&Ms (Multi-Centre, Multi-Vendor & Multi-Disease Cardiac Segmentation, 2020) -> nnU-Net raw dataset.
Our own converter: nnU-Net 2.8.1's Dataset114_MNMs imports the crashing ACDC helper.

Input: the `OpenDataset/` folder with `Training/Labeled/<code>/<code>_sa.nii.gz` + `<code>_sa_gt.nii.gz` (4-D cine,
only the ED and ES frames annotated), `Training/Unlabeled/<code>/<code>_sa.nii.gz`, `Validation/` and `Testing/`
(with `_sa_gt` in the full release), and the information csv (`*M&Ms_Dataset_Information*.csv`; columns are looked
up by header name: External code, Vendor, VendorName, Centre, ED, ES).

* ED and ES are 0-based time indices (the csv's convention, also used by nnU-Net): case ids `<code>_frameNN`.
* Training/Labeled -> imagesTr/labelsTr; Validation and Testing -> imagesTs (+ labelsTs where `_sa_gt` exists);
  Training/Unlabeled (vendor C) -> imagesUnlabeled, its ED/ES frames (or all frames with unlabeled_frames="all").
* Vendor, vendor name, centre, phase and subset per case go to `mnms_metadata.json` next to dataset.json, for
  domain splits (e.g. train on vendor A, test on vendor B).
* 4-D files are read with nibabel, one frame at a time: SimpleITK refuses the non-orthonormal direction cosines
  of some M&Ms files. The written geometry is the frame's affine with its rotation orthonormalised.
Labels: LV blood pool 1, LV myocardium 2, RV 3 (note: the reverse of ACDC for 1 and 3). Channel "cineMRI".
Default id 931 -> Dataset931_MNMs.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from nnunetv2_pscm.dataset_conversion.common import (
    ConversionError, array_to_image, case_of_image_file, finite_voxels, info, load_nifti, map_with_progress,
    staged_dataset, to_label_array, write_image, write_label,
)
from nnunetv2_pscm.dataset_conversion.registry import ConverterCommand, option

DEFAULT_ID = 931
NAME = "MNMs"
LABELS = {"background": 0, "LVBP": 1, "LVM": 2, "RV": 3}
REFERENCE = "Campello et al., Multi-Centre, Multi-Vendor and Multi-Disease Cardiac Segmentation: The M&Ms " \
            "Challenge, IEEE TMI 2021"
CSV_COLUMNS = ("External code", "Vendor", "VendorName", "Centre", "ED", "ES")
SUBSETS = (("Training/Labeled", "Tr"), ("Training/Unlabeled", "Unlabeled"), ("Validation", "Ts"), ("Testing", "Ts"))


# ------------------------------------------------------------------------------------------ csv
def find_csv(root: Path) -> Path:
    candidates = sorted(root.glob("*.csv")) + sorted(root.parent.glob("*.csv"))
    preferred = [c for c in candidates if "m&ms" in c.name.lower() or "information" in c.name.lower()]
    if not (preferred or candidates):
        raise ConversionError(f"No M&Ms information csv found in {root}; pass it with --csv.")
    return (preferred or candidates)[0]


def read_info_csv(path: Path) -> dict[str, dict[str, str]]:
    """{code: row} with columns looked up by header name (the file has a leading unnamed index column)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        headers = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in CSV_COLUMNS if c not in headers]
        if missing:
            raise ConversionError(f"{path}: missing column(s) {missing}; found {headers}.")
        rows = {}
        for row in reader:
            row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
            rows[row["External code"]] = row
    return rows


# ------------------------------------------------------------------------------------------ 4-D reading
def _frame_geometry(affine: np.ndarray) -> tuple[tuple, tuple, tuple]:
    """nibabel RAS affine -> SimpleITK (LPS) spacing, origin, direction; the rotation is orthonormalised."""
    linear = affine[:3, :3]
    spacing = np.linalg.norm(linear, axis=0)
    u, _, vt = np.linalg.svd(linear / spacing)
    rotation = u @ vt
    ras_to_lps = np.diag([-1.0, -1.0, 1.0])
    return tuple(spacing), tuple(ras_to_lps @ affine[:3, 3]), tuple((ras_to_lps @ rotation).ravel())


def convert_mnms_case(image_file: str, label_file: str | None, frames: list[int], image_outs: list[str],
                      label_outs: list[str | None], replace_nonfinite: float | None = None) -> list[str]:
    image = load_nifti(image_file)
    if len(image.shape) != 4:
        raise ConversionError(f"{image_file}: expected a 4-D cine (x, y, z, t), got shape {image.shape}.")
    label = load_nifti(label_file) if label_file else None
    if label is not None and label.shape != image.shape:
        raise ConversionError(f"Image/label shape mismatch: {image_file} {image.shape} vs {label_file} {label.shape}.")
    spacing, origin, direction = _frame_geometry(image.affine)
    warnings = []
    for t, image_out, label_out in zip(frames, image_outs, label_outs):
        if not 0 <= t < image.shape[3]:
            raise ConversionError(f"{image_file}: frame {t} (from the csv, 0-based) is outside 0..{image.shape[3] - 1}.")
        frame = finite_voxels(np.asarray(image.dataobj[..., t]), f"{image_file} (frame {t})",
                              case_of_image_file(image_out), replace_nonfinite)
        itk_image = array_to_image(np.transpose(frame, (2, 1, 0)), spacing, origin, direction)
        write_image(itk_image, Path(image_out))
        if label is not None:
            mask = to_label_array(np.asarray(label.dataobj[..., t]), f"{label_file} (frame {t})",
                                  allowed=LABELS.values())
            if not mask.any():
                warnings.append(f"{label_file}: frame {t} is empty; is the csv's ED/ES right for this case?")
            write_label(np.transpose(mask, (2, 1, 0)), itk_image, Path(label_out))
    return warnings


# ------------------------------------------------------------------------------------------ entry point
def _find_root(root: Path) -> Path:
    for candidate in (root, root / "OpenDataset", *root.glob("*/OpenDataset")):
        if (candidate / "Training").is_dir():
            return candidate
    raise ConversionError(f"{root}: no Training/ folder found (expected the M&Ms OpenDataset/ folder).")


def convert_mnms(input_root: str | Path, dataset_id: int | None = None, overwrite: bool = False,
                 num_processes: int = 1, csv_file: str | Path | None = None, unlabeled_frames: str = "ed_es",
                 replace_nonfinite: float | None = None) -> Path:
    if unlabeled_frames not in ("ed_es", "all"):
        raise ConversionError(f"unlabeled_frames must be 'ed_es' or 'all', got {unlabeled_frames!r}.")
    root = _find_root(Path(input_root))
    csv_path = Path(csv_file) if csv_file else find_csv(root)
    table = read_info_csv(csv_path)

    with staged_dataset(dataset_id or DEFAULT_ID, NAME, overwrite) as stage:
        jobs, metadata = [], {}
        for folder_name, subset in SUBSETS:
            folder = root / folder_name
            if not folder.is_dir():
                continue
            for case_dir in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
                code = case_dir.name
                image_file = case_dir / f"{code}_sa.nii.gz"
                if not image_file.is_file():
                    raise ConversionError(f"{case_dir}: {image_file.name} is missing.")
                label_file = case_dir / f"{code}_sa_gt.nii.gz"
                has_label = label_file.is_file() and subset != "Unlabeled"
                if subset == "Tr" and not has_label:
                    raise ConversionError(f"Labeled training case {case_dir} has no {label_file.name}.")
                row = table.get(code)
                if subset == "Unlabeled" and unlabeled_frames == "all":
                    frames = list(range(load_nifti(image_file).shape[3]))
                    phases = {t: "frame" for t in frames}
                else:
                    if row is None:
                        raise ConversionError(f"{code} ({case_dir}) is not in {csv_path}; its ED/ES frames are unknown"
                                              + (" (use unlabeled_frames='all' / --unlabeled-frames all)."
                                                 if subset == "Unlabeled" else "."))
                    phases = {int(row["ED"]): "ED", int(row["ES"]): "ES"}
                    frames = list(phases)
                cases = [f"{code}_frame{t:02d}" for t in frames]
                jobs.append({"image_file": str(image_file), "label_file": str(label_file) if has_label else None,
                             "frames": frames, "image_outs": [str(stage.image_path(subset, c)) for c in cases],
                             "label_outs": [str(stage.label_path(subset, c)) if has_label else None for c in cases],
                             "replace_nonfinite": replace_nonfinite})
                for case, t in zip(cases, frames):
                    metadata[case] = {"code": code, "frame": t, "phase": phases[t], "subset": folder_name,
                                      "vendor": (row or {}).get("Vendor"), "vendor_name": (row or {}).get("VendorName"),
                                      "centre": (row or {}).get("Centre")}
        if not jobs:
            raise ConversionError(f"No M&Ms cases found under {root}.")
        for warnings in map_with_progress(convert_mnms_case, jobs, num_processes, description="M&Ms"):
            for w in warnings:
                info("Warning: " + w)
        stage.write_json("mnms_metadata.json", metadata)
        stage.write_dataset_json(
            {0: "cineMRI"}, LABELS, dataset_name=NAME, reference=REFERENCE,
            description="M&Ms ED/ES frames (0-based, from the csv); vendor/centre per case in mnms_metadata.json; "
                        "Training/Unlabeled in imagesUnlabeled; Validation and Testing in imagesTs/labelsTs.",
            license="see the M&Ms data usage terms", case_id_format="<code>_frameNN (0-based frame)")
    info(f"Wrote {stage.final_path}")
    return stage.final_path


CONVERTER = ConverterCommand(
    name="MNMs",
    convert=convert_mnms,
    description="M&Ms (OpenDataset/ with Training/Labeled, Training/Unlabeled, Validation, Testing and the information "
                "csv) -> nnU-Net. ED/ES frames from the csv; vendor/centre per case in mnms_metadata.json; "
                "Training/Unlabeled into imagesUnlabeled. Case ids: <code>_frameNN.",
    default_id="931",
    options=(
        option("--csv", dest="csv_file", default=None, metavar="CSV",
               help="the M&Ms information csv (default: the csv in INPUT_ROOT)"),
        option("--unlabeled-frames", dest="unlabeled_frames", choices=["ed_es", "all"], default="ed_es",
               help="which cine frames of Training/Unlabeled cases become unlabeled images"),
    ),
)
