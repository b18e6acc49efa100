"""AMOS 2022 (`amos22/` with imagesTr, labelsTr, imagesVa, labelsVa, imagesTs, dataset.json) -> nnU-Net raw dataset.

* `modality`: "CT" (default id 951 -> Dataset951_AMOS2022_CT, channel "CT": real Hounsfield units),
  "MRI" (952 -> Dataset952_AMOS2022_MRI, channel "MRI": z-score) or "both" (953 -> Dataset953_AMOS2022_CT_MRI,
  channel "CT_or_MRI": z-score, because a CT intensity scheme would be wrong for the MRI cases).
  The modality of a scan comes from its id: AMOS ids 501-600 are MRI, all others CT (AMOS readme: ids up to 500
  are CT, the rest of the 600 labeled/test ids MRI; extra unlabeled scans beyond 600 are treated as CT - check
  the numbers the converter prints).
* Training (Tr) and validation (Va) cases with labels go to imagesTr/labelsTr (the labeled pool; split it with
  nnUNetv2_pscm_split); the unlabeled challenge test scans (imagesTs) to imagesTs; extra unlabeled AMOS scans
  (folders given as `unlabeled_dirs`, by default any folder under the input whose name contains "unlabel")
  to imagesUnlabeled.
* The 15 organs keep the AMOS label values 1-15; the label name "arota" of AMOS's dataset.json is spelled
  "aorta" here.
* AMOS affines are heterogeneous (different orientations per scan). Files are copied unchanged and the dataset
  uses nnU-Net's `NibabelIOWithReorient`, which reorients every image and label to RAS on reading (the same
  choice as nnU-Net's own AMOS converters). Each label is checked against its image (shape, values 0-15).
Case ids: amos_NNNN.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np

from nnunetv2_pscm.dataset_conversion.common import (
    ConversionError, case_of_image_file, info, load_nifti, map_with_progress, repaired_nifti, staged_dataset,
    to_label_array,
)
from nnunetv2_pscm.dataset_conversion.registry import ConverterCommand, option

DEFAULT_IDS = {"CT": 951, "MRI": 952, "both": 953}
NAMES = {"CT": "AMOS2022_CT", "MRI": "AMOS2022_MRI", "both": "AMOS2022_CT_MRI"}
CHANNEL = {"CT": "CT", "MRI": "MRI", "both": "CT_or_MRI"}
ORGANS = ("spleen", "right_kidney", "left_kidney", "gall_bladder", "esophagus", "liver", "stomach", "aorta",
          "postcava", "pancreas", "right_adrenal_gland", "left_adrenal_gland", "duodenum", "bladder",
          "prostate_uterus")
LABELS = {"background": 0, **{organ: i + 1 for i, organ in enumerate(ORGANS)}}
REFERENCE = "Ji et al., AMOS: A Large-Scale Abdominal Multi-Organ Benchmark for Versatile Medical Image " \
            "Segmentation, NeurIPS 2022 Datasets and Benchmarks"
_CASE = re.compile(r"^amos_(\d{4})\.nii\.gz$")


def modality_of(number: int) -> str:
    return "MRI" if 500 < number <= 600 else "CT"


def _scans(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {m.group(1): p for p in sorted(folder.iterdir()) if (m := _CASE.match(p.name))}


def check_and_copy_case(image_file: str, label_file: str | None, image_out: str, label_out: str | None,
                        replace_nonfinite: float | None = None) -> str | None:
    import nibabel as nib

    image = load_nifti(image_file)  # copied, not converted: this is where a truncated file is caught
    repaired = repaired_nifti(image, image_file, case_of_image_file(image_out), replace_nonfinite)
    if label_file:
        label = load_nifti(label_file)
        if image.shape != label.shape:
            raise ConversionError(f"Image/label shape mismatch: {image_file} {image.shape} vs {label_file} {label.shape}.")
        to_label_array(np.asarray(label.dataobj), label_file, allowed=range(16))
        shutil.copy(label_file, label_out)
        warning = None if np.allclose(image.affine, label.affine, atol=1e-3) else (
            f"{label_file}: affine differs from its image's; nnU-Net reorients both to RAS, check the overlay.")
    else:
        warning = None
    if repaired is None:
        shutil.copy(image_file, image_out)
    else:
        nib.save(repaired, image_out)
    return warning


def convert_amos(input_root: str | Path, dataset_id: int | None = None, overwrite: bool = False,
                 num_processes: int = 1, modality: str = "CT", unlabeled_dirs=None,
                 replace_nonfinite: float | None = None) -> Path:
    if modality not in DEFAULT_IDS:
        raise ConversionError(f"modality must be 'CT', 'MRI' or 'both', got {modality!r}.")
    root = Path(input_root)
    if not (root / "imagesTr").is_dir() and (root / "amos22" / "imagesTr").is_dir():
        root = root / "amos22"
    if not (root / "imagesTr").is_dir():
        raise ConversionError(f"{root} has no imagesTr/ folder; give the extracted amos22/ folder.")
    if (root / "dataset.json").is_file():
        labels_in_release = json.loads((root / "dataset.json").read_text()).get("labels", {})
        if labels_in_release and len(labels_in_release) != len(LABELS):
            raise ConversionError(f"{root / 'dataset.json'} lists {len(labels_in_release)} labels; AMOS 2022 has 16 "
                                  f"(background + 15 organs).")
    wanted = (lambda n: True) if modality == "both" else (lambda n: modality_of(int(n)) == modality)
    if unlabeled_dirs is None:
        unlabeled_dirs = [p for p in sorted(root.iterdir()) if p.is_dir() and "unlabel" in p.name.lower()]

    with staged_dataset(dataset_id or DEFAULT_IDS[modality], NAMES[modality], overwrite) as stage:
        jobs, counts = [], {"Tr": 0, "Ts": 0, "Unlabeled": 0}
        for images, labels in (("imagesTr", "labelsTr"), ("imagesVa", "labelsVa")):
            label_files = _scans(root / labels)
            for number, image in _scans(root / images).items():
                if not wanted(number):
                    continue
                if number not in label_files:
                    raise ConversionError(f"{image} has no label {root / labels / image.name}.")
                case = f"amos_{number}"
                jobs.append({"image_file": str(image), "label_file": str(label_files[number]),
                             "image_out": str(stage.image_path("Tr", case)),
                             "label_out": str(stage.label_path("Tr", case)), "replace_nonfinite": replace_nonfinite})
                counts["Tr"] += 1
        for subset, folders in (("Ts", [root / "imagesTs"]), ("Unlabeled", [Path(d) for d in unlabeled_dirs])):
            for folder in folders:
                if subset == "Unlabeled" and not folder.is_dir():
                    raise ConversionError(f"Unlabeled folder {folder} does not exist.")
                for number, image in _scans(folder).items():
                    if wanted(number):
                        jobs.append({"image_file": str(image), "label_file": None,
                                     "image_out": str(stage.image_path(subset, f"amos_{number}")), "label_out": None,
                                     "replace_nonfinite": replace_nonfinite})
                        counts[subset] += 1
        info(f"AMOS {modality}: {counts['Tr']} labeled (Tr + Va), {counts['Ts']} test, "
             f"{counts['Unlabeled']} unlabeled scans.")
        for warning in map_with_progress(check_and_copy_case, jobs, num_processes, description=f"AMOS ({modality})"):
            if warning:
                info("Warning: " + warning)
        stage.write_dataset_json(
            {0: CHANNEL[modality]}, LABELS, dataset_name=NAMES[modality], reference=REFERENCE,
            overwrite_image_reader_writer="NibabelIOWithReorient",
            description=f"AMOS 2022, {modality} (ids 501-600 are MRI, others CT); Tr + Va in imagesTr, challenge "
                        f"test scans in imagesTs, extra unlabeled scans in imagesUnlabeled.",
            license="CC BY 4.0 (AMOS 2022)", case_id_format="amos_NNNN")
    info(f"Wrote {stage.final_path}")
    return stage.final_path


CONVERTER = ConverterCommand(
    name="AMOS",
    convert=convert_amos,
    description="AMOS 2022 (amos22/ with imagesTr, labelsTr, imagesVa, labelsVa, imagesTs, dataset.json) -> nnU-Net. "
                "Training and validation cases go to imagesTr; ids > 500 are MRI. Extra unlabeled scans go to "
                "imagesUnlabeled. Case ids: amos_NNNN.",
    default_id="951 (CT), 952 (MRI), 953 (both)",
    options=(
        option("--modality", dest="modality", choices=["CT", "MRI", "both"], default="CT"),
        option("--unlabeled", dest="unlabeled_dirs", action="append", default=None, metavar="DIR",
               help="folder of extra unlabeled AMOS scans (repeatable; default: folders under INPUT_ROOT whose name "
                    "contains 'unlabel')"),
    ),
)
