"""Medical Segmentation Decathlon (any task, `TaskNN_Name/`) -> nnU-Net raw dataset.

Reuses nnU-Net's own MSD logic (`nnunetv2.dataset_conversion.convert_MSD_dataset.split_4d_nifti` splits 4-D
images into `_0000.._000N` channels and copies 3-D ones); what we add is the common converter behaviour
(staging folder, --overwrite, progress bar, clear errors for unpaired files) and a default id that does not
clash with nnU-Net's converter: 960 + task number (Task06_Lung -> Dataset966_Lung, Task10_Colon -> 970).
Case ids are the MSD file stems (lung_001). Label values are copied unchanged (MSD labels are consecutive).

Split presets: we found no published semi-supervised labeled/unlabeled id list for an MSD task that we could
verify, so none is shipped; use `nnUNetv2_pscm_split -d ID --labeled N`.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from nnunetv2_pscm.dataset_conversion.common import (
    ConversionError, FILE_ENDING, check_file_complete, info, map_with_progress, repaired_nifti, staged_dataset,
)
from nnunetv2_pscm.dataset_conversion.registry import ConverterCommand

DEFAULT_ID_OFFSET = 960


def _nifti_files(folder: Path) -> dict[str, Path]:
    # MSD tarballs contain macOS AppleDouble junk ('._lung_001.nii.gz'): skip hidden and '_' files as nnU-Net does
    return {p.name[: -len(FILE_ENDING)]: p for p in sorted(folder.glob(f"*{FILE_ENDING}"))
            if not p.name.startswith((".", "_"))}


def parse_task_folder(folder: Path) -> tuple[int | None, str]:
    m = re.fullmatch(r"Task(\d+)_(.+)", folder.name)
    if not m:
        return None, re.sub(r"[^A-Za-z0-9-]+", "", folder.name) or "MSD"
    return int(m.group(1)), re.sub(r"[^A-Za-z0-9-]+", "", m.group(2))


def split_msd_image(filename: str, output_folder: str, num_channels: int,
                    replace_nonfinite: float | None = None) -> None:
    """nnU-Net's split_4d_nifti (copies 3-D files, splits 4-D ones), then the checks it lacks on what it wrote."""
    import nibabel as nib
    from nnunetv2.dataset_conversion.convert_MSD_dataset import split_4d_nifti

    check_file_complete(filename)  # split_4d_nifti copies a cut-off file, or reads it zero-filled
    try:
        split_4d_nifti(filename, output_folder)
    except RuntimeError as e:
        raise ConversionError(f"Cannot convert MSD image {filename}: {str(e).strip().splitlines()[-1]}") from None
    case = Path(filename).name[: -len(FILE_ENDING)]
    for channel in range(num_channels):
        written = Path(output_folder) / f"{case}_{channel:04d}{FILE_ENDING}"
        if not written.is_file():
            continue  # fewer channels than dataset.json names: check_complete reports it with the case name
        # nib.load, not load_nifti: this is our own output, complete by construction
        repaired = repaired_nifti(nib.load(str(written)), filename, case, replace_nonfinite)
        if repaired is not None:
            nib.save(repaired, str(written))


def convert_msd(input_root: str | Path, dataset_id: int | None = None, overwrite: bool = False,
                num_processes: int = 1, replace_nonfinite: float | None = None) -> Path:
    task = Path(input_root)
    for sub in ("imagesTr", "labelsTr"):
        if not (task / sub).is_dir():
            raise ConversionError(f"{task} has no {sub}/ folder; give the extracted MSD task folder (e.g. .../Task06_Lung).")
    if not (task / "dataset.json").is_file():
        raise ConversionError(f"{task / 'dataset.json'} is missing.")
    with open(task / "dataset.json") as f:
        msd = json.load(f)
    for key in ("labels", "modality"):
        if key not in msd:
            raise ConversionError(f"{task / 'dataset.json'} has no '{key}' entry; is this an MSD task folder?")

    task_number, name = parse_task_folder(task)
    if dataset_id is None:
        if task_number is None:
            raise ConversionError(f"Folder {task.name} is not named TaskNN_Name; pass a dataset id with -d.")
        dataset_id = DEFAULT_ID_OFFSET + task_number

    images_tr, labels_tr = _nifti_files(task / "imagesTr"), _nifti_files(task / "labelsTr")
    images_ts = _nifti_files(task / "imagesTs") if (task / "imagesTs").is_dir() else {}
    unpaired = sorted(set(images_tr) ^ set(labels_tr))
    if unpaired:
        raise ConversionError(f"{task}: imagesTr and labelsTr do not pair up; unmatched: "
                              f"{', '.join(unpaired[:10])}")
    if not images_tr:
        raise ConversionError(f"{task / 'imagesTr'} holds no {FILE_ENDING} files.")

    with staged_dataset(dataset_id, name, overwrite) as stage:
        settings = {"num_channels": len(msd["modality"]), "replace_nonfinite": replace_nonfinite}
        jobs = [{"filename": str(p), "output_folder": str(stage.path / "imagesTr"), **settings}
                for p in images_tr.values()]
        jobs += [{"filename": str(p), "output_folder": str(stage.path / "imagesTs"), **settings}
                 for p in images_ts.values()]
        map_with_progress(split_msd_image, jobs, num_processes, description=f"MSD {task.name}")
        for case, label in labels_tr.items():
            check_file_complete(label)
            shutil.copy(label, stage.label_path("Tr", case))
        # MSD json maps index -> name; nnU-Net v2 wants name -> index and 'channel_names' instead of 'modality'
        labels = {label_name: int(index) for index, label_name in msd["labels"].items()}
        kept = {k: msd[k] for k in ("description", "reference", "tensorImageSize") if k in msd}
        release = msd.get("release", msd.get("relase"))  # the MSD files spell it 'relase'
        stage.write_dataset_json(
            dict(msd["modality"]), labels, dataset_name=name, release=release,
            license=msd.get("licence", msd.get("license", "CC-BY-SA 4.0 (Medical Segmentation Decathlon)")),
            msd_task=task.name, **kept,
        )
    info(f"Wrote {stage.final_path}")
    return stage.final_path


CONVERTER = ConverterCommand(
    name="MSD",
    convert=convert_msd,
    description="Medical Segmentation Decathlon task folder (TaskNN_Name with imagesTr, labelsTr, imagesTs, "
                "dataset.json) -> nnU-Net, reusing nnU-Net's MSD logic.",
    default_id="960 + task number",
)
