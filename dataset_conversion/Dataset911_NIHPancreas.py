"""NIH Pancreas-CT (TCIA, 82 contrast-enhanced abdominal CTs) -> nnU-Net raw dataset.

Three source formats, detected automatically; case ids are `pancreas_NNNN` in all of them (PANCREAS_0057,
image0057_norm.h5 and 0057.h5 all become pancreas_0057), so the Pancreas-6/12 and Pancreas-CoraNet-12 presets
apply to any of them.

* TCIA DICOM + labels (default id 911 -> Dataset911_NIHPancreas): `Pancreas-CT/PANCREAS_NNNN/<study>/<series>/*.dcm`
  and `label00NN.nii.gz` (searched under the input folder, or --labels). The NIH masks were drawn on the slices in
  DICOM InstanceNumber order (MC-Net and CoraNet both stack the slices that way and pair them voxel by voxel with
  the mask). We do the same, and give image and mask the true DICOM geometry of that stack: origin = position of
  the first slice, axes = the row/column cosines and the direction from the first to the last slice position (which
  may point towards -z: InstanceNumber order is often opposite to the z position). So the array order matches the
  mask and the physical placement matches the scanner. Hounsfield units via RescaleSlope/Intercept; channel "CT".
  All patients go to imagesTr unless `hold_out_test` names a preset whose test cases go to imagesTs/labelsTs.
* MC-Net `Pancreas_h5` (id 912): `Pancreas_h5/image00NN_norm.h5` (x, y, z; 1 mm; windowed [-125, 275] and
  z-scored; the label is float32 0./1. and is cast to uint8), `train.list`/`test.list` next to `Pancreas_h5/`.
* CoraNet / BCP (id 913): `00NN.h5` (uncompressed, (x, y, z) depth last, 1 mm, min-max [0, 1]) with
  `data_lists/pancreas/{train_lab,train_unlab,test}.txt`.
For the h5 releases the test list's cases go to imagesTs/labelsTs (the folder's lists, else the shipped copies)
and the channel is "zscore": the intensities are already normalised, so nnU-Net's CT scheme must not be used.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from nnunetv2_pscm.dataset_conversion.common import (
    ConversionError, array_to_image, case_of_image_file, finite_image, finite_voxels, info, load_nifti,
    load_shipped_list, map_with_progress, read_h5, read_id_list, staged_dataset, to_label_array, write_image,
    write_label, xyz_array_to_image,
)
from nnunetv2_pscm.dataset_conversion.registry import ConverterCommand, option

DEFAULT_IDS = {"dicom": 911, "mcnet_h5": 912, "coranet_h5": 913}
NAMES = {"dicom": "NIHPancreas", "mcnet_h5": "NIHPancreas_MCNet_h5", "coranet_h5": "NIHPancreas_CoraNet_h5"}
H5_SPACING = (1.0, 1.0, 1.0)  # both h5 releases resample to 1 mm and store no spacing
LABELS = {"background": 0, "pancreas": 1}
REFERENCE = "Roth et al., DeepOrgan, MICCAI 2015; data: The Cancer Imaging Archive, Pancreas-CT (NIH)"
_PATIENT_DIR = re.compile(r"^PANCREAS_(\d{4})$", re.IGNORECASE)
_LABEL_FILE = re.compile(r"^label(\d{4})\.nii(\.gz)?$")
_MCNET_FILE = re.compile(r"^image(\d{4})_norm\.h5$")
_CORANET_FILE = re.compile(r"^(\d{4})\.h5$")


def case_id_for(number: str) -> str:
    return f"pancreas_{number}"


# ------------------------------------------------------------------------------------------ DICOM
def _read_dicom_series(patient_dir: Path, expected_slices: int | None):
    """Slices (pydicom datasets) of the patient's CT series in InstanceNumber order."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    files = sorted(p for p in patient_dir.rglob("*") if p.is_file() and not p.name.startswith(".")
                   and p.suffix.lower() in (".dcm", ""))
    series: dict[str, list] = {}
    for f in files:
        try:
            ds = pydicom.dcmread(str(f))
        except InvalidDicomError as e:
            if f.suffix == "":  # a stray file without extension (LICENSE, README) next to the slices
                continue
            raise ConversionError(f"Unreadable DICOM file {f}: {e}") from None
        except Exception as e:  # pydicom raises several types for truncated or corrupt files
            raise ConversionError(f"Unreadable DICOM file {f}: {e}") from None
        if getattr(ds, "Modality", "CT") != "CT" or "PixelData" not in ds:
            continue
        series.setdefault(str(getattr(ds, "SeriesInstanceUID", "")), []).append((f, ds))
    if not series:
        raise ConversionError(f"{patient_dir}: no readable CT DICOM series found.")
    if len(series) > 1:
        matching = [s for s in series.values() if len(s) == expected_slices]
        if len(matching) != 1:
            raise ConversionError(f"{patient_dir}: {len(series)} CT series with {[len(s) for s in series.values()]} "
                                  f"slices; cannot tell which one the label ({expected_slices} slices) belongs to.")
        slices = matching[0]
    else:
        slices = next(iter(series.values()))
    for f, ds in slices:
        for tag in ("InstanceNumber", "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"):
            if tag not in ds:
                raise ConversionError(f"DICOM file {f} lacks {tag}; cannot order and place the slices.")
    slices.sort(key=lambda item: int(item[1].InstanceNumber))
    numbers = [int(ds.InstanceNumber) for _, ds in slices]
    if len(set(numbers)) != len(numbers):
        raise ConversionError(f"{patient_dir}: duplicate InstanceNumbers in one series; cannot order the slices.")
    return slices


def dicom_stack_to_image(slices):
    """(z, y, x) Hounsfield array in the given slice order + its geometry as a SimpleITK image."""
    planes = []
    for f, ds in slices:
        try:
            pixels = ds.pixel_array.astype(np.float64)
        except Exception as e:
            raise ConversionError(f"Cannot decode the pixel data of DICOM file {f}: {e}") from None
        planes.append(pixels * float(getattr(ds, "RescaleSlope", 1)) + float(getattr(ds, "RescaleIntercept", 0)))
    volume = np.stack(planes)
    volume = volume.astype(np.int16) if np.array_equal(volume, np.round(volume)) and np.abs(volume).max() < 32767 \
        else volume.astype(np.float32)

    first = slices[0][1]
    cosines = np.array(first.ImageOrientationPatient, dtype=float)
    row_dir, col_dir = cosines[:3], cosines[3:]  # direction of increasing column index, of increasing row index
    positions = np.array([np.array(ds.ImagePositionPatient, dtype=float) for _, ds in slices])
    if len(slices) > 1:
        step = (positions[-1] - positions[0]) / (len(slices) - 1)
        steps = np.diff(positions, axis=0)
        if not np.allclose(steps, step, atol=max(1e-2, 0.02 * np.linalg.norm(step))):
            raise ConversionError(f"{slices[0][0].parent}: slice positions are not evenly spaced in InstanceNumber "
                                  f"order (gaps or duplicates); cannot build one volume.")
        slice_spacing = float(np.linalg.norm(step))
        slice_dir = step / slice_spacing
    else:
        slice_spacing = float(getattr(first, "SliceThickness", 1.0))
        slice_dir = np.cross(row_dir, col_dir)
    spacing = (float(first.PixelSpacing[1]), float(first.PixelSpacing[0]), slice_spacing)
    direction = np.stack([row_dir, col_dir, slice_dir], axis=1)  # columns = the x, y, z axes (ITK row-major)
    return array_to_image(volume, spacing, positions[0], direction.ravel())


def convert_dicom_case(patient_dir: str, label_file: str, image_out: str, label_out: str,
                       replace_nonfinite: float | None = None) -> dict:
    label_img = load_nifti(label_file)
    label = np.asarray(label_img.dataobj)  # (x, y, z) = (column, row, slice in InstanceNumber order)
    if label.ndim != 3:
        raise ConversionError(f"{label_file}: expected a 3-D mask, got shape {label.shape}.")
    slices = _read_dicom_series(Path(patient_dir), label.shape[2])
    # integer pixels times RescaleSlope: finite unless a header holds NaN/Inf, checked like every other source
    image = finite_image(dicom_stack_to_image(slices), f"DICOM series in {patient_dir}", case_of_image_file(image_out),
                         replace_nonfinite)
    if image.GetSize() != label.shape:
        raise ConversionError(f"Image/label shape mismatch: DICOM series in {patient_dir} is {image.GetSize()} "
                              f"(columns, rows, slices) but {label_file} is {label.shape}.")
    label = to_label_array(label, label_file, allowed={0, 1})
    write_image(image, Path(image_out))
    write_label(np.transpose(label, (2, 1, 0)), image, Path(label_out))
    header = tuple(float(z) for z in label_img.header.get_zooms()[:3])
    if not np.allclose(header, image.GetSpacing(), rtol=0.02):
        return {"warning": f"{label_file}: header spacing {header} differs from the DICOM spacing "
                           f"{tuple(round(s, 4) for s in image.GetSpacing())}; the DICOM spacing was used."}
    return {"warning": None}


def _find_patients(root: Path) -> dict[str, Path]:
    if _PATIENT_DIR.match(root.name):  # a single patient folder given directly
        return {_PATIENT_DIR.match(root.name).group(1): root}
    found = {}
    for depth in ("*", "*/*", "*/*/*"):
        for p in root.glob(depth):
            m = _PATIENT_DIR.match(p.name)
            if m and p.is_dir():
                found.setdefault(m.group(1), p)
        if found:
            break
    return found


def _find_labels(root: Path) -> dict[str, Path]:
    found = {}
    for p in root.rglob("label*.nii*"):
        m = _LABEL_FILE.match(p.name)
        if m:
            found[m.group(1)] = p
    return found


# ------------------------------------------------------------------------------------------ h5 releases
def convert_h5_case(h5_file: str, image_out: str, label_out: str, replace_nonfinite: float | None = None) -> None:
    arrays = read_h5(h5_file, ("image", "label"))
    image, label = arrays["image"], arrays["label"]
    image = finite_voxels(image, f"{h5_file} (key 'image')", case_of_image_file(image_out), replace_nonfinite)
    if image.ndim != 3 or image.shape != label.shape:
        raise ConversionError(f"{h5_file}: image shape {image.shape} and label shape {label.shape} differ.")
    label = to_label_array(label, f"{h5_file} (key 'label')", allowed={0, 1})  # float32 0./1. in MC-Net's files
    itk_image = xyz_array_to_image(image.astype(np.float32), H5_SPACING)
    write_image(itk_image, Path(image_out))
    write_label(np.transpose(label, (2, 1, 0)), itk_image, Path(label_out))


def _h5_files(root: Path, pattern: re.Pattern) -> dict[str, Path]:
    for folder in (root, root / "Pancreas_h5", root / "data", *root.glob("*"), *root.glob("*/*/Pancreas_h5")):
        if folder.is_dir():
            found = {m.group(1): p for p in sorted(folder.iterdir()) if (m := pattern.match(p.name))}
            if found:
                return found
    return {}


def _first_existing(candidates) -> Path | None:
    return next((c for c in candidates if c.is_file()), None)


def _test_numbers(fmt: str, h5_folder: Path, root: Path, lists_dir: Path | None) -> tuple[set[str], str]:
    places = [lists_dir] if lists_dir else [h5_folder, h5_folder.parent, root, root / "data_lists" / "pancreas",
                                            h5_folder.parent / "data_lists" / "pancreas"]
    if fmt == "mcnet_h5":
        found = _first_existing(p / "test.list" for p in places if p)
        ids = read_id_list(found) if found else load_shipped_list("NIHPancreas_MCNet.json", "test")
        numbers = {re.sub(r"^image", "", i) for i in ids}
    else:
        found = _first_existing(p / "test.txt" for p in places if p)
        numbers = set(read_id_list(found, strip_suffix=".h5") if found
                      else load_shipped_list("NIHPancreas_CoraNet.json", "test"))
    return numbers, str(found) if found else "the shipped list"


# ------------------------------------------------------------------------------------------ entry point
def detect_format(root: Path) -> str:
    if _find_patients(root):
        return "dicom"
    if _h5_files(root, _MCNET_FILE):
        return "mcnet_h5"
    if _h5_files(root, _CORANET_FILE):
        return "coranet_h5"
    raise ConversionError(f"{root}: found no PANCREAS_NNNN DICOM folders, no image00NN_norm.h5 (MC-Net) and no "
                          f"00NN.h5 (CoraNet) files.")


def convert_pancreas(input_root: str | Path, dataset_id: int | None = None, overwrite: bool = False,
                     num_processes: int = 1, source_format: str = "auto", labels_dir: str | Path | None = None,
                     lists_dir: str | Path | None = None, hold_out_test: str | None = None,
                     replace_nonfinite: float | None = None) -> Path:
    root = Path(input_root)
    if not root.is_dir():
        raise ConversionError(f"Input folder {root} does not exist.")
    fmt = detect_format(root) if source_format == "auto" else source_format
    if fmt not in DEFAULT_IDS:
        raise ConversionError(f"Unknown source format {source_format!r}; use dicom, mcnet_h5 or coranet_h5.")
    if hold_out_test and fmt != "dicom":
        raise ConversionError("hold_out_test applies to the DICOM release; the h5 releases use their own test list.")

    with staged_dataset(dataset_id or DEFAULT_IDS[fmt], NAMES[fmt], overwrite) as stage:
        if fmt == "dicom":
            test_source = _convert_dicom(root, stage, labels_dir, hold_out_test, num_processes, replace_nonfinite)
            channel = "CT"
        else:
            files = _h5_files(root, _MCNET_FILE if fmt == "mcnet_h5" else _CORANET_FILE)
            if not files:
                raise ConversionError(f"{root}: no {fmt} files found.")
            test_numbers, test_source = _test_numbers(fmt, next(iter(files.values())).parent, root,
                                                      Path(lists_dir) if lists_dir else None)
            jobs = []
            for number, h5 in files.items():
                subset = "Ts" if number in test_numbers else "Tr"
                case = case_id_for(number)
                jobs.append({"h5_file": str(h5), "image_out": str(stage.image_path(subset, case)),
                             "label_out": str(stage.label_path(subset, case)), "replace_nonfinite": replace_nonfinite})
            map_with_progress(convert_h5_case, jobs, num_processes, description=f"Pancreas ({fmt})")
            channel = "zscore"
        stage.write_dataset_json(
            {0: channel}, LABELS, dataset_name=NAMES[fmt], reference=REFERENCE,
            description=f"NIH Pancreas-CT ({fmt}); test cases ({test_source}) in imagesTs/labelsTs." if test_source
            else f"NIH Pancreas-CT ({fmt}); all labeled cases in imagesTr.",
            license="CC BY 3.0 (TCIA Pancreas-CT)", case_id_format="pancreas_NNNN",
            split_presets=["Pancreas-6", "Pancreas-12", "Pancreas-CoraNet-12"])
    info(f"Wrote {stage.final_path}")
    return stage.final_path


def _convert_dicom(root: Path, stage, labels_dir, hold_out_test: str | None, num_processes: int,
                   replace_nonfinite: float | None) -> str | None:
    patients = _find_patients(root)
    labels = _find_labels(Path(labels_dir) if labels_dir else root)
    if not labels and not labels_dir:  # the label folder often sits next to Pancreas-CT/
        labels = {n: p for d in root.parent.iterdir() if d.is_dir() and d != root and "label" in d.name.lower()
                  for n, p in _find_labels(d).items()}
    if not labels:
        raise ConversionError(f"No label00NN.nii.gz files found under {labels_dir or root}; pass the label folder "
                              f"with --labels.")
    without_label = sorted(set(patients) - set(labels))
    without_image = sorted(set(labels) - set(patients))
    if without_label:
        info(f"Note: no label for PANCREAS_{', PANCREAS_'.join(without_label)}: skipped.")
    if without_image:  # e.g. 0025 and 0070, removed from TCIA as duplicates
        info(f"Note: label(s) {', '.join(without_image)} have no DICOM folder: skipped.")
    test_cases: set[str] = set()
    if hold_out_test:
        from nnunetv2_pscm.data.presets import preset_test_ids

        try:
            test_cases = set(preset_test_ids(hold_out_test))
        except ValueError as e:
            raise ConversionError(str(e)) from None
    jobs = []
    for number in sorted(set(patients) & set(labels)):
        case = case_id_for(number)
        subset = "Ts" if case in test_cases else "Tr"
        jobs.append({"patient_dir": str(patients[number]), "label_file": str(labels[number]),
                     "image_out": str(stage.image_path(subset, case)), "label_out": str(stage.label_path(subset, case)),
                     "replace_nonfinite": replace_nonfinite})
    if not jobs:
        raise ConversionError(f"No PANCREAS_NNNN folder under {root} has a matching label00NN.nii.gz.")
    for result in map_with_progress(convert_dicom_case, jobs, num_processes, description="Pancreas DICOM"):
        if result["warning"]:
            info("Warning: " + result["warning"])
    return f"test cases of preset {hold_out_test}" if hold_out_test else None


CONVERTER = ConverterCommand(
    name="pancreas",
    convert=convert_pancreas,
    description="NIH Pancreas-CT -> nnU-Net. Accepts the TCIA DICOM release (Pancreas-CT/PANCREAS_NNNN/... + "
                "label00NN.nii.gz), the MC-Net 'Pancreas_h5' release (image00NN_norm.h5 + train.list/test.list) or "
                "the CoraNet/BCP release (00NN.h5 + train_lab.txt/train_unlab.txt/test.txt). Case ids: pancreas_00NN.",
    default_id="911 (DICOM), 912 (MC-Net h5), 913 (CoraNet h5)",
    options=(
        option("--format", dest="source_format", choices=["auto", "dicom", "mcnet_h5", "coranet_h5"], default="auto"),
        option("--labels", dest="labels_dir", default=None, metavar="DIR",
               help="DICOM release: folder with label00NN.nii.gz (default: searched under INPUT_ROOT)"),
        option("--lists", dest="lists_dir", default=None, metavar="DIR",
               help="h5 releases: folder with the split lists (default: searched near INPUT_ROOT, else the shipped "
                    "copies)"),
        option("--hold-out-test", dest="hold_out_test", default=None, metavar="PRESET",
               help="DICOM release: move the test cases of this preset (Pancreas-6/12, Pancreas-CoraNet-12) to "
                    "imagesTs/labelsTs"),
    ),
)
