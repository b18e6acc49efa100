"""Left Atrium 2018 (Atrial Segmentation Challenge, LGE-MRI) -> nnU-Net raw dataset.

Two source formats, detected automatically:

* the SSL h5 release (UA-MT / SSL4MIS / MC-Net / BCP / DTC): `2018LA_Seg_Training Set/<ID>/mri_norm2.h5`
  with `train.list` / `test.list` next to that folder. Keys `image` (float32, already z-scored) and `label`
  (uint8 0/1), axis order (x, y, z), no spacing stored: we write the original 0.625 mm isotropic.
  Default id 901 -> Dataset901_LA2018.
* the original challenge release: `2018LA_Seg_Training Set/<ID>/lgemri.nrrd` + `laendo.nrrd` (0/255 -> 0/1),
  geometry from the NRRD header. Default id 902 -> Dataset902_LA2018Original.

Case ids: `la_<ID>` (e.g. la_06SR5RBREL16DQ6M8LWS), the same for both formats, so the LA-4/8/16 presets
apply to either. Cases of the standard test list (the folder's test.list, or the shipped copy of it when the
folder has none) go to imagesTs/labelsTs; everything else to imagesTr/labelsTr. Stray files (desktop.ini)
are ignored. Channel "MRI" -> nnU-Net per-image z-score (harmless on the already z-scored h5).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nnunetv2_pscm.dataset_conversion.common import (
    ConversionError, case_of_image_file, check_same_grid, finite_image, finite_voxels, info, load_shipped_list,
    map_with_progress, read_h5, read_id_list, read_image, staged_dataset, to_label_array, write_image, write_label,
    xyz_array_to_image,
)
from nnunetv2_pscm.dataset_conversion.registry import ConverterCommand, option

DEFAULT_ID_H5 = 901
DEFAULT_ID_NRRD = 902
NAME_H5 = "LA2018"
NAME_NRRD = "LA2018Original"
TRAINING_FOLDER = "2018LA_Seg_Training Set"
H5_SPACING = (0.625, 0.625, 0.625)  # the original LGE-MRI resolution; the h5 files store none
LABELS = {"background": 0, "left_atrium": 1}
REFERENCE = ("Xiong et al., A global benchmark of algorithms for segmenting the left atrium from late "
             "gadolinium-enhanced cardiac MRI, Medical Image Analysis 2021; h5 release: Yu et al., UA-MT, MICCAI 2019")


def case_id_for(raw_id: str) -> str:
    return f"la_{raw_id}"


def find_training_folder(input_root: Path) -> Path:
    """Accept the folder holding '2018LA_Seg_Training Set', that folder itself, or a parent up to two levels up."""
    input_root = Path(input_root)
    if not input_root.is_dir():
        raise ConversionError(f"Input folder {input_root} does not exist.")
    if input_root.name == TRAINING_FOLDER:
        return input_root
    for candidate in [input_root / TRAINING_FOLDER, *input_root.glob(f"*/{TRAINING_FOLDER}"),
                      *input_root.glob(f"*/*/{TRAINING_FOLDER}")]:
        if candidate.is_dir():
            return candidate
    if _case_folders(input_root):
        return input_root
    raise ConversionError(f"No '{TRAINING_FOLDER}' folder (with <ID>/mri_norm2.h5 or <ID>/lgemri.nrrd inside) "
                          f"found under {input_root}.")


def _h5_file(case_folder: Path) -> Path | None:
    preferred = case_folder / "mri_norm2.h5"
    if preferred.is_file():
        return preferred
    h5s = sorted(case_folder.glob("*.h5"))  # glob *.h5 only: some folders hold a stray desktop.ini
    return h5s[0] if len(h5s) == 1 else None


def _case_folders(training_folder: Path) -> dict[str, str]:
    """{raw id: format} for every case folder with convertible data."""
    found = {}
    for folder in sorted(p for p in training_folder.iterdir() if p.is_dir()):
        if _h5_file(folder) is not None:
            found[folder.name] = "h5"
        elif (folder / "lgemri.nrrd").is_file():
            found[folder.name] = "nrrd"
    return found


def detect_format(training_folder: Path) -> str:
    formats = set(_case_folders(training_folder).values())
    if not formats:
        raise ConversionError(f"{training_folder} holds no case folder with mri_norm2.h5 or lgemri.nrrd.")
    if len(formats) > 1:
        raise ConversionError(f"{training_folder} mixes h5 and nrrd case folders; pass source_format='h5' or 'nrrd'.")
    return formats.pop()


def convert_h5_case(h5_file: str, image_out: str, label_out: str, replace_nonfinite: float | None = None) -> None:
    arrays = read_h5(h5_file, ("image", "label"))
    image, label = arrays["image"], arrays["label"]
    image = finite_voxels(image, f"{h5_file} (key 'image')", case_of_image_file(image_out), replace_nonfinite)
    if image.ndim != 3 or image.shape != label.shape:
        raise ConversionError(f"{h5_file}: image shape {image.shape} and label shape {label.shape} differ "
                              f"(expected two equal 3-D arrays).")
    label = to_label_array(label, f"{h5_file} (key 'label')", allowed={0, 1})
    itk_image = xyz_array_to_image(image.astype(np.float32), H5_SPACING)
    write_image(itk_image, Path(image_out))
    write_label(np.transpose(label, (2, 1, 0)), itk_image, Path(label_out))


def convert_nrrd_case(image_file: str, label_file: str, image_out: str, label_out: str,
                      replace_nonfinite: float | None = None) -> None:
    import SimpleITK as sitk

    image = finite_image(read_image(image_file), image_file, case_of_image_file(image_out), replace_nonfinite)
    label = read_image(label_file)
    check_same_grid(image, label, image_file, label_file)
    # the challenge masks are 0/255; accept 0/1 copies too
    array = to_label_array(sitk.GetArrayFromImage(label), label_file, allowed={0, 1, 255}, mapping={255: 1})
    write_image(image, Path(image_out))
    write_label(array, image, Path(label_out))  # written on the image grid so the two agree exactly


def _lists(training_folder: Path) -> tuple[list[str], list[str], str]:
    """(train ids, test ids, where they came from). The folder's lists win over the shipped copies."""
    parent = training_folder.parent
    train_file, test_file = parent / "train.list", parent / "test.list"
    train = read_id_list(train_file) if train_file.is_file() else load_shipped_list("LA2018_UAMT.json", "train")
    if test_file.is_file():
        return train, read_id_list(test_file), str(test_file)
    return train, load_shipped_list("LA2018_UAMT.json", "test"), "the shipped UA-MT test.list"


def _description(fmt: str, test_source: str | None) -> str:
    text = ("Left Atrium 2018 LGE-MRI, SSL h5 release (already z-scored; spacing 0.625 mm written by the converter)."
            if fmt == "h5" else "Left Atrium 2018 LGE-MRI, original NRRD release.")
    if test_source:
        text += f" Cases of the standard test list ({test_source}) are in imagesTs/labelsTs."
    return text


def convert_la(input_root: str | Path, dataset_id: int | None = None, overwrite: bool = False,
               num_processes: int = 1, source_format: str = "auto", hold_out_test: bool = True,
               replace_nonfinite: float | None = None) -> Path:
    """Convert LA 2018 (h5 release or original nrrd) and return the written dataset folder."""
    training_folder = find_training_folder(Path(input_root))
    fmt = detect_format(training_folder) if source_format == "auto" else source_format
    if fmt not in ("h5", "nrrd"):
        raise ConversionError(f"source_format must be 'auto', 'h5' or 'nrrd', got {source_format!r}.")
    cases = {k: v for k, v in _case_folders(training_folder).items() if v == fmt}
    if not cases:
        raise ConversionError(f"No {fmt} cases in {training_folder}.")
    train_ids, test_ids, test_source = _lists(training_folder)
    published_test = load_shipped_list("LA2018_UAMT.json", "test")
    if set(test_ids) != set(published_test):
        info(f"Note: {test_source} differs from the published UA-MT test list; the LA-* presets use the published one.")
    for sibling in training_folder.parent.iterdir():
        if sibling.is_dir() and "testing" in sibling.name.lower():
            info(f"Note: {sibling} (the challenge's testing set) is not converted.")
    test_set = set(test_ids) if hold_out_test else set()
    unlisted = sorted(set(cases) - set(train_ids) - set(test_ids))
    if unlisted:
        info(f"Note: {len(unlisted)} case(s) are in neither train.list nor test.list and go to imagesTr: "
             f"{', '.join(unlisted[:5])}{' ...' if len(unlisted) > 5 else ''}")

    dataset_id = dataset_id or (DEFAULT_ID_H5 if fmt == "h5" else DEFAULT_ID_NRRD)
    name = NAME_H5 if fmt == "h5" else NAME_NRRD
    with staged_dataset(dataset_id, name, overwrite) as stage:
        jobs = []
        for raw_id in cases:
            subset = "Ts" if raw_id in test_set else "Tr"
            case = case_id_for(raw_id)
            out = {"image_out": str(stage.image_path(subset, case)), "label_out": str(stage.label_path(subset, case)),
                   "replace_nonfinite": replace_nonfinite}
            folder = training_folder / raw_id
            if fmt == "h5":
                jobs.append({"h5_file": str(_h5_file(folder)), **out})
            else:
                jobs.append({"image_file": str(folder / "lgemri.nrrd"), "label_file": str(folder / "laendo.nrrd"),
                             **out})
                if not (folder / "laendo.nrrd").is_file():
                    raise ConversionError(f"{folder}: lgemri.nrrd has no laendo.nrrd label next to it.")
        worker = convert_h5_case if fmt == "h5" else convert_nrrd_case
        map_with_progress(worker, jobs, num_processes, description=f"LA 2018 ({fmt})")
        stage.write_dataset_json(
            {0: "MRI"}, LABELS, dataset_name=name, reference=REFERENCE,
            description=_description(fmt, test_source if hold_out_test else None),
            license="see the 2018 Atrial Segmentation Challenge terms",
            case_id_format="la_<challenge ID>",
            split_presets=["LA-4", "LA-8", "LA-16"],
        )
    info(f"Wrote {stage.final_path}")
    return stage.final_path


CONVERTER = ConverterCommand(
    name="LA",
    convert=convert_la,
    description="Left Atrium 2018 -> nnU-Net. Accepts the SSL h5 release ('2018LA_Seg_Training Set/<ID>/mri_norm2.h5' "
                "with train.list/test.list next to that folder) or the original 'lgemri.nrrd'/'laendo.nrrd' release. "
                "Case ids: la_<ID>. Test-list cases go to imagesTs/labelsTs.",
    default_id="901 (h5), 902 (nrrd)",
    options=(
        option("--format", dest="source_format", choices=["auto", "h5", "nrrd"], default="auto"),
        option("--keep-test-in-imagesTr", dest="hold_out_test", action="store_false",
               help="put the test-list cases into imagesTr too (default: imagesTs/labelsTs)"),
    ),
)
