"""Helpers shared by every converter: staging folder, writers, label checks, parallel map, dataset.json.

Every converter follows the same recipe:

    with staged_dataset(dataset_id, "LA2018", overwrite) as stage:   # temp folder inside nnUNet_raw
        map_with_progress(convert_one_case, jobs, num_processes)      # writes stage.image_path(...) etc.
        stage.write_dataset_json(channel_names, labels, ...)
    # on success the temp folder is renamed to nnUNet_raw/DatasetNNN_Name; on any error it is deleted

so that an interrupted conversion never leaves a half-written DatasetNNN_* folder behind, and nothing is
replaced without `overwrite=True`.
"""
from __future__ import annotations

import gzip
import json
import math
import os
import re
import shutil
import sys
import uuid
import zlib
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import SimpleITK as sitk

FILE_ENDING = ".nii.gz"
TMP_PREFIX = ".pscm_tmp_"  # a leading dot keeps nnU-Net's `subdirs(prefix="Dataset")` from ever seeing it
CONVERTED_BY = "nnunetv2_pscm dataset_conversion"
_CASE_ID_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ConversionError(RuntimeError):
    """A problem with the input data; the message names the offending file or case."""


def info(message: str) -> None:
    # progress/status text goes to stderr so that stdout carries only the dataset folder (scriptable)
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# nnUNet_raw and dataset folders
# --------------------------------------------------------------------------------------------------

def nnunet_raw_dir() -> Path:
    value = os.environ.get("nnUNet_raw")
    if not value:
        raise ConversionError(
            "The environment variable nnUNet_raw is not set. Set it to the folder that holds your nnU-Net raw "
            "datasets, e.g. `export nnUNet_raw=/data/nnUNet_raw`, then run the conversion again."
        )
    path = Path(value)
    path.mkdir(parents=True, exist_ok=True)
    return path


def dataset_folder_name(dataset_id: int, name: str) -> str:
    if not 1 <= int(dataset_id) <= 999:
        raise ConversionError(f"Dataset id must be between 1 and 999 (nnU-Net uses three digits), got {dataset_id}.")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name):
        raise ConversionError(f"Dataset name {name!r} may only contain letters, digits, '_' and '-'.")
    return f"Dataset{int(dataset_id):03d}_{name}"


def folders_with_dataset_id(parent: Path, dataset_id: int) -> list[Path]:
    if not parent.is_dir():
        return []
    prefix = f"Dataset{int(dataset_id):03d}_"
    return sorted(p for p in parent.iterdir() if p.is_dir() and p.name.startswith(prefix))


def _check_other_nnunet_folders(dataset_id: int, folder_name: str) -> None:
    """nnU-Net maps an id to a name by looking at raw, preprocessed and results together: a different name with
    the same id anywhere makes every later nnU-Net command fail with 'More than one dataset name found'."""
    for variable in ("nnUNet_preprocessed", "nnUNet_results"):
        value = os.environ.get(variable)
        if not value:
            continue
        clashes = [p for p in folders_with_dataset_id(Path(value), dataset_id) if p.name != folder_name]
        if clashes:
            raise ConversionError(
                f"Dataset id {dataset_id} is already used by {', '.join(str(c) for c in clashes)} ({variable}). "
                f"nnU-Net could not tell the two datasets apart. Choose another id with -d."
            )


class StagedDataset:
    """A dataset being written into a temporary folder; `final_path` is where it lands on success."""

    SUBFOLDERS = ("imagesTr", "labelsTr", "imagesTs", "labelsTs", "imagesUnlabeled")

    def __init__(self, path: Path, final_path: Path):
        self.path = path
        self.final_path = final_path
        for sub in self.SUBFOLDERS:
            (path / sub).mkdir(parents=True, exist_ok=True)

    @property
    def name(self) -> str:
        return self.final_path.name

    def image_path(self, subset: str, case_id: str, channel: int = 0) -> Path:
        """subset: 'Tr', 'Ts' or 'Unlabeled'."""
        check_case_id(case_id)
        return self.path / f"images{subset}" / f"{case_id}_{channel:04d}{FILE_ENDING}"

    def label_path(self, subset: str, case_id: str) -> Path:
        """subset: 'Tr' or 'Ts'."""
        check_case_id(case_id)
        return self.path / f"labels{subset}" / f"{case_id}{FILE_ENDING}"

    def case_ids(self, subset: str) -> list[str]:
        crop = len(FILE_ENDING) + 5  # "_0000" + ending, exactly as nnU-Net derives identifiers
        folder = self.path / f"images{subset}"
        return sorted({f.name[:-crop] for f in folder.iterdir() if f.name.endswith(FILE_ENDING)})

    def write_json(self, filename: str, content) -> None:
        """Extra metadata (e.g. vendor/centre per case) that travels next to dataset.json."""
        with open(self.path / filename, "w") as f:
            json.dump(content, f, indent=2)

    def write_dataset_json(self, channel_names: Mapping, labels: Mapping, dataset_name: str, **kwargs) -> dict:
        """nnU-Net's generate_dataset_json with numTraining counted from imagesTr, after checking completeness."""
        from nnunetv2.dataset_conversion.generate_dataset_json import generate_dataset_json

        num_training = len(self.case_ids("Tr"))
        if num_training == 0:
            raise ConversionError(f"No training cases were written for {self.name}; check the input folder.")
        self.check_complete(len(channel_names))
        extra = dict(kwargs)
        extra["numTest"] = len(self.case_ids("Ts"))
        extra["numUnlabeled"] = len(self.case_ids("Unlabeled"))
        extra.setdefault("converted_by", CONVERTED_BY)
        # generate_dataset_json mutates its dict arguments; give it copies
        generate_dataset_json(str(self.path), dict(channel_names), dict(labels), num_training, FILE_ENDING,
                              dataset_name=dataset_name, **extra)
        with open(self.path / "dataset.json") as f:
            return json.load(f)

    def check_complete(self, num_channels: int) -> None:
        """Every case has all its channels, every training case has its label (nnU-Net's own check only looks
        at imagesTr/labelsTr; imagesTs and imagesUnlabeled are checked here)."""
        for subset in ("Tr", "Ts", "Unlabeled"):
            for case in self.case_ids(subset):
                missing = [c for c in range(num_channels) if not self.image_path(subset, case, c).is_file()]
                if missing:
                    raise ConversionError(f"images{subset}/{case}: channel(s) {missing} were not written.")
                if subset == "Tr" and not self.label_path("Tr", case).is_file():
                    raise ConversionError(f"imagesTr/{case} has no label file labelsTr/{case}{FILE_ENDING}.")

    def remove_empty_optional_folders(self) -> None:
        for sub in ("imagesTs", "labelsTs", "imagesUnlabeled"):
            folder = self.path / sub
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_temp_folders(raw: Path, dataset_id: int) -> None:
    """Temp folders left by a run that was killed hard (SIGKILL): their owner pid is gone."""
    pattern = re.compile(rf"^{re.escape(TMP_PREFIX)}(\d+)_(?:old_)?Dataset{int(dataset_id):03d}_")
    for p in raw.iterdir():
        m = pattern.match(p.name)
        if m and p.is_dir() and not _pid_alive(int(m.group(1))):
            shutil.rmtree(p, ignore_errors=True)


def prepare_target(dataset_id: int, name: str, overwrite: bool) -> tuple[Path, list[Path]]:
    """Return (final folder, existing folders with that id to be replaced). Raises if replacing is not allowed."""
    raw = nnunet_raw_dir()
    folder_name = dataset_folder_name(dataset_id, name)
    existing = folders_with_dataset_id(raw, dataset_id)
    if existing and not overwrite:
        raise ConversionError(
            f"nnUNet_raw already holds a dataset with id {dataset_id}: {', '.join(p.name for p in existing)}. "
            f"Pass --overwrite (overwrite=True) to replace it, or choose another id with -d."
        )
    _check_other_nnunet_folders(dataset_id, folder_name)
    return raw / folder_name, existing


@contextmanager
def staged_dataset(dataset_id: int, name: str, overwrite: bool = False) -> Iterator[StagedDataset]:
    final_path, existing = prepare_target(dataset_id, name, overwrite)
    raw = final_path.parent
    _remove_stale_temp_folders(raw, dataset_id)
    tmp = raw / f"{TMP_PREFIX}{os.getpid()}_{final_path.name}_{uuid.uuid4().hex[:8]}"
    stage = StagedDataset(tmp, final_path)
    try:
        yield stage
        stage.remove_empty_optional_folders()
        # Move old folders aside first, then the new one into place: at no moment is there a half-written
        # DatasetNNN_* folder, and the old data is only deleted once the new one is in place.
        trash = []
        for old in existing:
            aside = raw / f"{TMP_PREFIX}{os.getpid()}_old_{old.name}_{uuid.uuid4().hex[:8]}"
            os.replace(old, aside)
            trash.append(aside)
        os.replace(tmp, final_path)
        for aside in trash:
            shutil.rmtree(aside, ignore_errors=True)
        if existing and os.environ.get("nnUNet_preprocessed"):
            pre = Path(os.environ["nnUNet_preprocessed"]) / final_path.name
            if pre.is_dir():
                info(f"Note: {pre} holds preprocessed data of the replaced dataset; run "
                     f"nnUNetv2_plan_and_preprocess again.")
    except BaseException:  # also KeyboardInterrupt: leave nothing half-written
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# --------------------------------------------------------------------------------------------------
# case ids, lists
# --------------------------------------------------------------------------------------------------

def check_case_id(case_id: str) -> str:
    if not _CASE_ID_OK.match(case_id):
        raise ConversionError(f"Case id {case_id!r} is not usable as an nnU-Net file name "
                              f"(allowed: letters, digits, '.', '_', '-', starting with a letter or digit).")
    return case_id


def case_of_image_file(image_file: Path | str) -> str:
    """The case id in an nnU-Net image file name (`la_X_0000.nii.gz` -> `la_X`). Workers get their output
    paths, not the case ids; they name the case in messages with this."""
    return Path(image_file).name[: -len(f"_0000{FILE_ENDING}")]


def sanitize_case_id(raw_id: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", raw_id).strip("._-")
    return cleaned or "case"


def read_id_list(path: Path, strip_suffix: str | None = None) -> list[str]:
    """One id per line, in file order (the order matters: 'labeled = first N lines'). Tolerates CRLF, blank
    lines and trailing ',extra' columns (SSL4MIS BraTS lists)."""
    ids = []
    for line in Path(path).read_text().splitlines():
        item = line.strip().split(",")[0].strip()
        if not item:
            continue
        if strip_suffix and item.endswith(strip_suffix):
            item = item[: -len(strip_suffix)]
        ids.append(item)
    return ids


def load_shipped_list(filename: str, key: str) -> list[str]:
    """A published id list shipped with the presets (nnunetv2_pscm/data/presets/<filename>)."""
    from nnunetv2_pscm.data.presets import load_preset_file

    return list(load_preset_file(filename)["lists"][key])


# --------------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------------

def read_image(path: Path | str) -> sitk.Image:
    """The whole image; a truncated file is an error (see check_file_complete). Checked first, so that a file cut
    inside its header is reported as truncated too, not as an unknown format."""
    check_file_complete(path)
    try:
        return sitk.ReadImage(str(path))
    except RuntimeError as e:
        raise ConversionError(f"Cannot read image file {path}: {str(e).strip().splitlines()[-1]}") from None


def load_nifti(path: Path | str):
    """nibabel image of a complete NIfTI file. nibabel reads lazily, so without the check a cut-off .nii.gz
    still yields the frames before the cut, and a full read fails with a bare EOFError naming no file."""
    import nibabel as nib

    check_file_complete(path)
    try:
        return nib.load(str(path))
    except Exception as e:  # nibabel raises several types for broken headers
        raise ConversionError(f"Cannot read NIfTI file {path}: {e}") from None


_GZIP_CHUNK = 1 << 20


def check_file_complete(path: Path | str) -> None:
    """Raise if an image file is cut off. SimpleITK reads a truncated .nii or .nii.gz without a word and fills
    the missing voxels with zeros (a scan that is half zeros would train silently); its NRRD and MetaImage
    readers do report missing data. So for gzip files decompress the whole stream (which fails at a cut and
    checks gzip's CRC), and for NIfTI compare the data size with what the header announces."""
    name = str(path).lower()
    if name.endswith(".gz"):
        available = _gunzipped_size(path)
    elif name.endswith(".nii"):
        available = os.path.getsize(path)
    else:
        return
    needed = _nifti_bytes_needed(path) if name.endswith((".nii", ".nii.gz")) else None
    if needed is not None and available < needed:
        raise ConversionError(f"{path} is truncated: its header announces {needed} bytes of image data and header, "
                              f"the file holds {available}. Download or extract it again.")


def _gunzipped_size(path: Path | str) -> int:
    total = 0
    try:
        with gzip.open(str(path), "rb") as f:
            while chunk := f.read(_GZIP_CHUNK):
                total += len(chunk)
    except (EOFError, OSError, zlib.error) as e:
        raise ConversionError(f"{path} is truncated or corrupt ({e}). Download or extract it again.") from None
    return total


def _nifti_bytes_needed(path: Path | str) -> int | None:
    """Header offset + voxel data size from the NIfTI header; None when nibabel cannot parse the header (then
    only the gzip check applies: a file SimpleITK reads is not refused because nibabel is stricter)."""
    import nibabel as nib

    try:
        header = nib.load(str(path)).header
        shape = header.get_data_shape()
        return int(header.get_data_offset()) + int(np.prod(shape, dtype=np.int64)) * header.get_data_dtype().itemsize
    except Exception:
        return None


# --------------------------------------------------------------------------------------------------
# non-finite voxels
# --------------------------------------------------------------------------------------------------

REPLACE_NONFINITE_HINT = "--replace-nonfinite VALUE (replace_nonfinite=VALUE)"


def finite_voxels(array: np.ndarray, source: str, case: str, replace_nonfinite: float | None) -> np.ndarray:
    """`array` itself when all voxels are finite. NaN/Inf voxels are refused by default: nnU-Net's
    normalisation takes the mean and std over the image, so one NaN makes the whole preprocessed image NaN.
    With `replace_nonfinite` they are replaced by that value, on a copy, and the replacement is reported."""
    if array.dtype.kind != "f":  # integer voxels are always finite
        return array
    bad = ~np.isfinite(array)
    count = int(np.count_nonzero(bad))
    if count == 0:
        return array
    nans = int(np.count_nonzero(np.isnan(array)))
    what = f"{count} of {array.size} voxels are not finite ({nans} NaN, {count - nans} Inf)"
    if replace_nonfinite is None:
        raise ConversionError(f"{source} (case {case}): {what}. Fix the file, or pass {REPLACE_NONFINITE_HINT} "
                              f"to write VALUE in their place.")
    check_replacement_value(replace_nonfinite)
    repaired = array.copy()
    repaired[bad] = replace_nonfinite
    info(f"Note: {source} (case {case}): {what}; replaced them with {replace_nonfinite} (--replace-nonfinite).")
    return repaired


def finite_image(image: sitk.Image, source: str, case: str, replace_nonfinite: float | None) -> sitk.Image:
    """finite_voxels for a SimpleITK image; the geometry of a repaired image is the original's."""
    view = sitk.GetArrayViewFromImage(image)  # no copy: most images are all finite
    checked = finite_voxels(view, source, case, replace_nonfinite)
    if checked is view:
        return image
    repaired = sitk.GetImageFromArray(checked, isVector=image.GetNumberOfComponentsPerPixel() > 1)
    repaired.CopyInformation(image)
    return repaired


def repaired_nifti(image, source: str, case: str, replace_nonfinite: float | None):
    """For converters that copy NIfTI files unchanged (AMOS, MSD): None when the file of the nibabel `image`
    (see load_nifti) can be copied as it is, else a nibabel image with its non-finite voxels replaced and the
    original header and affine."""
    if image.get_data_dtype().kind != "f":  # integer voxels are always finite
        return None
    data = np.asarray(image.dataobj)
    checked = finite_voxels(data, source, case, replace_nonfinite)
    if checked is data:
        return None
    return type(image)(checked.astype(image.get_data_dtype()), image.affine, image.header)


def check_replacement_value(value: float) -> float:
    if not math.isfinite(float(value)):
        raise ConversionError(f"The replacement for non-finite voxels must be a finite number, got {value!r} "
                              f"({REPLACE_NONFINITE_HINT}).")
    return float(value)


def read_h5(path: Path | str, keys: Sequence[str]) -> dict[str, np.ndarray]:
    import h5py

    try:
        with h5py.File(str(path), "r") as f:
            missing = [k for k in keys if k not in f]
            if missing:
                raise ConversionError(f"{path}: missing key(s) {missing} in the h5 file "
                                      f"(found keys: {sorted(f.keys())}).")
            return {k: np.asarray(f[k][()]) for k in keys}
    except OSError as e:
        raise ConversionError(f"Cannot read h5 file {path}: {e}") from None


# --------------------------------------------------------------------------------------------------
# labels and geometry
# --------------------------------------------------------------------------------------------------

def to_label_array(array: np.ndarray, source: str, allowed: Iterable[int] | None = None,
                   mapping: Mapping[int, int] | None = None) -> np.ndarray:
    """Validate a label array (integer-valued, only `allowed` values) and remap it (e.g. {255: 1}) to uint8."""
    array = np.asarray(array)
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or not np.array_equal(array, np.round(array)):
            raise ConversionError(f"{source}: label contains non-integer values; a segmentation must hold class ids.")
    elif array.dtype.kind not in "iub":
        raise ConversionError(f"{source}: label has unsupported data type {array.dtype}.")
    values = np.unique(array)
    if allowed is not None:
        allowed = set(int(a) for a in allowed)
        unexpected = sorted(int(v) for v in values if int(v) not in allowed)
        if unexpected:
            raise ConversionError(f"{source}: unexpected label value(s) {unexpected}; expected only {sorted(allowed)}.")
    if values.size and (values.min() < 0 or values.max() > 255 and not mapping):
        raise ConversionError(f"{source}: label values {values.min()}..{values.max()} do not fit nnU-Net's uint8 labels.")
    if mapping:
        lookup = {int(v): int(mapping.get(int(v), int(v))) for v in values}
        if any(not 0 <= new <= 255 for new in lookup.values()):
            raise ConversionError(f"{source}: label values {sorted(lookup.values())} after remapping do not fit "
                                  f"nnU-Net's uint8 labels.")
        out = np.zeros(array.shape, dtype=np.uint8)
        for old, new in lookup.items():
            out[array == old] = new
        return out
    return array.astype(np.uint8)


def spacing_close(a: Sequence[float], b: Sequence[float], rtol: float = 1e-3) -> bool:
    return np.allclose(np.asarray(a, float), np.asarray(b, float), rtol=rtol, atol=1e-4)


def check_same_grid(image: sitk.Image, label: sitk.Image, image_source: str, label_source: str) -> None:
    """nnU-Net refuses shape or spacing mismatches between image and label; say so early, naming both files."""
    if image.GetSize() != label.GetSize():
        raise ConversionError(f"Image/label shape mismatch: {image_source} has size {image.GetSize()} but "
                              f"{label_source} has size {label.GetSize()} (x, y, z).")
    if not spacing_close(image.GetSpacing(), label.GetSpacing()):
        raise ConversionError(f"Image/label spacing mismatch: {image_source} has spacing "
                              f"{tuple(round(s, 5) for s in image.GetSpacing())} but {label_source} has "
                              f"{tuple(round(s, 5) for s in label.GetSpacing())}.")


def geometry_differs(image: sitk.Image, label: sitk.Image) -> bool:
    return not (np.allclose(image.GetOrigin(), label.GetOrigin(), atol=1e-3)
                and np.allclose(image.GetDirection(), label.GetDirection(), atol=1e-4))


# --------------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------------

def array_to_image(array_zyx: np.ndarray, spacing_xyz: Sequence[float],
                   origin_xyz: Sequence[float] | None = None, direction: Sequence[float] | None = None) -> sitk.Image:
    """SimpleITK wants the array as (z, y, x) and spacing/origin as (x, y, z)."""
    image = sitk.GetImageFromArray(np.ascontiguousarray(array_zyx))
    image.SetSpacing(tuple(float(s) for s in spacing_xyz))
    if origin_xyz is not None:
        image.SetOrigin(tuple(float(o) for o in origin_xyz))
    if direction is not None:
        image.SetDirection(tuple(float(d) for d in direction))
    return image


def xyz_array_to_image(array_xyz: np.ndarray, spacing_xyz: Sequence[float]) -> sitk.Image:
    """For h5 releases stored (x, y, z) (LA, Pancreas): transpose to SimpleITK's (z, y, x)."""
    return array_to_image(np.transpose(array_xyz, (2, 1, 0)), spacing_xyz)


def write_image(image: sitk.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path), useCompression=True)


def write_label(label_zyx: np.ndarray, reference: sitk.Image, path: Path) -> None:
    """Write a label array on exactly the reference image's grid (shape, spacing, origin, direction)."""
    if tuple(reversed(label_zyx.shape)) != reference.GetSize():
        raise ConversionError(f"Internal shape mismatch writing {path.name}: label {label_zyx.shape} (z, y, x) vs "
                              f"image {reference.GetSize()} (x, y, z).")
    label = sitk.GetImageFromArray(np.ascontiguousarray(label_zyx.astype(np.uint8)))
    label.CopyInformation(reference)
    write_image(label, path)


def split_channels(image: sitk.Image, source: str) -> list[sitk.Image]:
    """A 4-D image (x, y, z, c) or a vector image becomes one 3-D image per channel (same geometry)."""
    if image.GetNumberOfComponentsPerPixel() > 1:
        return [sitk.VectorIndexSelectionCast(image, i) for i in range(image.GetNumberOfComponentsPerPixel())]
    if image.GetDimension() == 3 or image.GetDimension() == 2:
        return [image]
    if image.GetDimension() != 4:
        raise ConversionError(f"{source}: unsupported image dimension {image.GetDimension()}.")
    array = sitk.GetArrayFromImage(image)  # (c, z, y, x)
    spacing = image.GetSpacing()[:3]
    origin = image.GetOrigin()[:3]
    direction = np.array(image.GetDirection()).reshape(4, 4)[:3, :3].ravel()
    return [array_to_image(array[c], spacing, origin, direction) for c in range(array.shape[0])]


# --------------------------------------------------------------------------------------------------
# parallel work with a progress bar
# --------------------------------------------------------------------------------------------------

def map_with_progress(function: Callable, jobs: Sequence[dict], num_processes: int = 1,
                      description: str = "converting") -> list:
    """Run function(**job) for every job, in order of the returned list. Workers are started with "spawn" (safe
    with threads and CUDA); `function` must be a module-level function of an importable module."""
    from tqdm import tqdm

    results: list = [None] * len(jobs)
    if num_processes <= 1 or len(jobs) <= 1:
        for i, job in enumerate(tqdm(jobs, desc=description, unit="case", disable=None)):
            results[i] = function(**job)
        return results
    with ProcessPoolExecutor(max_workers=min(num_processes, len(jobs)), mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(function, **job): i for i, job in enumerate(jobs)}
        try:
            for future in tqdm(as_completed(futures), total=len(futures), desc=description, unit="case",
                               disable=None):
                results[futures[future]] = future.result()
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    return results


def default_num_processes() -> int:
    return max(1, min(8, (os.cpu_count() or 2) // 2))


def consecutive_labels(values: Iterable[int], source: str) -> list[int]:
    values = sorted(set(int(v) for v in values) | {0})
    if values != list(range(len(values))):
        raise ConversionError(f"{source}: label values {values} are not consecutive from 0, which nnU-Net requires. "
                              f"Remap them (e.g. --label-map 255=1 or 4=3).")
    return values
