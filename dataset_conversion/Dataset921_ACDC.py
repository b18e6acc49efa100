"""ACDC (Automated Cardiac Diagnosis Challenge 2017) -> nnU-Net raw dataset. Our own converter: nnU-Net
2.8.1's Dataset027_ACDC crashes (`nnUNet_raw.replace` on its lazy path object).

Two source formats, detected automatically:

* original release: `training/patientNNN/` and `testing/patientNNN/` with `Info.cfg` ("ED: 1", "ES: 12", 1-based
  frame numbers, equal to the YY of `patientNNN_frameYY.nii.gz`) and `_gt` masks. The ED and ES frames named by
  Info.cfg are converted; all 100 training patients go to imagesTr/labelsTr, the testing patients to imagesTs
  (and labelsTs where `_gt` files exist). Default id 921 -> Dataset921_ACDC. Real spacing from the NIfTI.
  Group/height/weight/phase per case are kept in `acdc_metadata.json` next to dataset.json.
* SSL4MIS h5 release: `data/patientNNN_frame01.h5` / `frame02.h5` (renumbered ED/ES volumes, (Z, H, W), min-max
  normalised, spacing lost) with train.list/val.list/test.list next to `data/`. Written with SSL4MIS's own
  placeholder spacing (x, y, z) = (1, 1, 10): use nnU-Net's 2d configuration. Test-list patients go to
  imagesTs/labelsTs. The `slices/` folder and unknown keys (e.g. `scribble`) are ignored. Default id 922.

Case ids: `patientNNN_frameYY` in both (YY = the real frame number in the original, 01/02 in the h5), so the
patient-level presets ACDC-3/7/14 apply to either. Labels: RV 1, MLV (myocardium) 2, LVC (LV cavity) 3.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from nnunetv2_pscm.dataset_conversion.common import (
    ConversionError, array_to_image, case_of_image_file, check_same_grid, finite_image, finite_voxels, info,
    load_shipped_list, map_with_progress, read_h5, read_id_list, read_image, staged_dataset, to_label_array,
    write_image, write_label,
)
from nnunetv2_pscm.dataset_conversion.registry import ConverterCommand, option

DEFAULT_ID_ORIGINAL = 921
DEFAULT_ID_H5 = 922
NAME_ORIGINAL = "ACDC"
NAME_H5 = "ACDC_SSL4MIS_h5"
LABELS = {"background": 0, "RV": 1, "MLV": 2, "LVC": 3}
H5_SPACING = (1.0, 1.0, 10.0)  # SSL4MIS's own placeholder (x, y, z); the h5 files store none
REFERENCE = "Bernard et al., Deep Learning Techniques for Automatic MRI Cardiac Multi-structures Segmentation and " \
            "Diagnosis: Is the Problem Solved?, IEEE TMI 2018"
_PATIENT = re.compile(r"^patient\d{3}$")


# ------------------------------------------------------------------------------------------ locating
def _find_original_root(root: Path) -> Path | None:
    for candidate in (root, root / "database", *root.glob("*/database"), *root.glob("*")):
        if (candidate / "training").is_dir() and any(_PATIENT.match(p.name) for p in (candidate / "training").iterdir()):
            return candidate
    return None


def _find_h5_folder(root: Path) -> Path | None:
    for candidate in (root / "data", root, *root.glob("*/data")):
        if candidate.is_dir() and any(candidate.glob("patient*_frame*.h5")):
            return candidate
    return None


# ------------------------------------------------------------------------------------------ original
def read_info_cfg(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise ConversionError(f"{path} is missing; it names the ED and ES frames of the patient.")
    entries = {}
    for line in path.read_text().splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            entries[key.strip()] = value.strip()
    for key in ("ED", "ES"):
        if key not in entries or not entries[key].isdigit():
            raise ConversionError(f"{path}: no integer '{key}:' entry (found {sorted(entries)}).")
    return entries


def convert_original_case(image_file: str, label_file: str | None, image_out: str, label_out: str | None,
                          replace_nonfinite: float | None = None) -> None:
    import SimpleITK as sitk

    image = finite_image(read_image(image_file), image_file, case_of_image_file(image_out), replace_nonfinite)
    write_image(image, Path(image_out))
    if label_file:
        label = read_image(label_file)
        check_same_grid(image, label, image_file, label_file)
        array = to_label_array(sitk.GetArrayFromImage(label), label_file, allowed=LABELS.values())
        write_label(array, image, Path(label_out))


def _original_jobs(acdc_root: Path, stage, replace_nonfinite: float | None) -> tuple[list[dict], dict]:
    jobs, metadata = [], {}
    for split, subset in (("training", "Tr"), ("testing", "Ts")):
        folder = acdc_root / split
        if not folder.is_dir():
            continue
        for patient_dir in sorted(p for p in folder.iterdir() if p.is_dir() and _PATIENT.match(p.name)):
            cfg = read_info_cfg(patient_dir / "Info.cfg")
            for phase in ("ED", "ES"):
                frame = int(cfg[phase])
                case = f"{patient_dir.name}_frame{frame:02d}"
                if case in metadata:  # ED == ES would name the same frame twice
                    continue
                image = patient_dir / f"{case}.nii.gz"
                label = patient_dir / f"{case}_gt.nii.gz"
                if not image.is_file():
                    raise ConversionError(f"{patient_dir / 'Info.cfg'} names {phase} frame {frame}, but {image.name} "
                                          f"is missing.")
                if subset == "Tr" and not label.is_file():
                    raise ConversionError(f"Training frame {image} has no label {label.name}.")
                has_label = label.is_file()
                jobs.append({"image_file": str(image), "label_file": str(label) if has_label else None,
                             "image_out": str(stage.image_path(subset, case)),
                             "label_out": str(stage.label_path(subset, case)) if has_label else None,
                             "replace_nonfinite": replace_nonfinite})
                metadata[case] = {"patient": patient_dir.name, "phase": phase, "frame": frame, "split": split,
                                  **{k.lower(): cfg[k] for k in ("Group", "Height", "Weight", "NbFrame") if k in cfg}}
    return jobs, metadata


# ------------------------------------------------------------------------------------------ SSL4MIS h5
def convert_h5_case(h5_file: str, image_out: str, label_out: str, replace_nonfinite: float | None = None) -> None:
    arrays = read_h5(h5_file, ("image", "label"))  # other keys (e.g. 'scribble') are ignored
    image, label = arrays["image"], arrays["label"]
    image = finite_voxels(image, f"{h5_file} (key 'image')", case_of_image_file(image_out), replace_nonfinite)
    if image.ndim != 3 or image.shape != label.shape:
        raise ConversionError(f"{h5_file}: expected 3-D (Z, H, W) image and label of equal shape, got "
                              f"{image.shape} and {label.shape}.")
    label = to_label_array(label, f"{h5_file} (key 'label')", allowed=LABELS.values())
    itk_image = array_to_image(image.astype(np.float32), H5_SPACING)  # already (z, y, x)
    write_image(itk_image, Path(image_out))
    write_label(label, itk_image, Path(label_out))


def _h5_test_ids(h5_folder: Path) -> tuple[set[str], str]:
    for candidate in (h5_folder.parent / "test.list", h5_folder / "test.list"):
        if candidate.is_file():
            return set(read_id_list(candidate)), str(candidate)
    return set(load_shipped_list("ACDC_SSL4MIS.json", "test")), "the shipped SSL4MIS test.list"


# ------------------------------------------------------------------------------------------ entry point
def convert_acdc(input_root: str | Path, dataset_id: int | None = None, overwrite: bool = False,
                 num_processes: int = 1, source_format: str = "auto", replace_nonfinite: float | None = None) -> Path:
    root = Path(input_root)
    if not root.is_dir():
        raise ConversionError(f"Input folder {root} does not exist.")
    original = _find_original_root(root) if source_format in ("auto", "original") else None
    h5_folder = _find_h5_folder(root) if source_format in ("auto", "h5") and original is None else None
    if original is None and h5_folder is None:
        raise ConversionError(f"{root}: found neither the original ACDC layout (training/patientNNN/Info.cfg) nor "
                              f"the SSL4MIS h5 layout (data/patientNNN_frameNN.h5).")

    if original is not None:
        with staged_dataset(dataset_id or DEFAULT_ID_ORIGINAL, NAME_ORIGINAL, overwrite) as stage:
            jobs, metadata = _original_jobs(original, stage, replace_nonfinite)
            map_with_progress(convert_original_case, jobs, num_processes, description="ACDC")
            stage.write_json("acdc_metadata.json", metadata)
            stage.write_dataset_json({0: "cineMRI"}, LABELS, dataset_name=NAME_ORIGINAL, reference=REFERENCE,
                                     description="ACDC ED/ES frames (Info.cfg); per-case group and phase in "
                                                 "acdc_metadata.json.",
                                     case_id_format="patientNNN_frameYY (YY = frame number from Info.cfg)",
                                     split_presets=["ACDC-3", "ACDC-7", "ACDC-14"])
    else:
        test_ids, test_source = _h5_test_ids(h5_folder)
        with staged_dataset(dataset_id or DEFAULT_ID_H5, NAME_H5, overwrite) as stage:
            jobs = []
            for h5 in sorted(h5_folder.glob("patient*_frame*.h5")):
                case = h5.stem
                subset = "Ts" if case in test_ids else "Tr"
                jobs.append({"h5_file": str(h5), "image_out": str(stage.image_path(subset, case)),
                             "label_out": str(stage.label_path(subset, case)), "replace_nonfinite": replace_nonfinite})
            map_with_progress(convert_h5_case, jobs, num_processes, description="ACDC h5")
            stage.write_dataset_json({0: "cineMRI"}, LABELS, dataset_name=NAME_H5, reference=REFERENCE,
                                     description=f"SSL4MIS ACDC h5 volumes (min-max normalised, placeholder spacing "
                                                 f"(1, 1, 10) mm; use the 2d configuration). Test patients "
                                                 f"({test_source}) in imagesTs/labelsTs.",
                                     case_id_format="patientNNN_frame0N (SSL4MIS renumbered ED/ES)",
                                     split_presets=["ACDC-3", "ACDC-7", "ACDC-14"])
    info(f"Wrote {stage.final_path}")
    return stage.final_path


CONVERTER = ConverterCommand(
    name="ACDC",
    convert=convert_acdc,
    description="ACDC -> nnU-Net. Accepts the original release (training/ and testing/ patient folders with Info.cfg) "
                "or the SSL4MIS h5 release (data/patientNNN_frame0N.h5 + train/val/test.list). Case ids: "
                "patientNNN_frameNN.",
    default_id="921 (original), 922 (SSL4MIS h5)",
    options=(option("--format", dest="source_format", choices=["auto", "original", "h5"], default="auto"),),
)
