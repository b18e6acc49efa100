"""Tiny fakes of each public dataset's raw format, built the way the real downloads are laid out
(see shared/specs/datasets.md), including their traps. Volumes are a few voxels so the suite stays fast."""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import SimpleITK as sitk

RNG = np.random.default_rng(0)

# real data, never copied into the repository: <repo>/../shared/data (tests skip when it is absent)
REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
LA_H5_ROOT = SHARED_DATA / "LA2018_h5"
PYRADIOMICS_CASES = SHARED_DATA / "pyradiomics_cases"


def blob(shape, value=1, dtype=np.uint8, low=0.3, high=0.7):
    """A box of `value` in the middle of a zero array."""
    label = np.zeros(shape, dtype=dtype)
    sl = tuple(slice(int(s * low), max(int(s * high), int(s * low) + 1)) for s in shape)
    label[sl] = value
    return label


def write_sitk(array_zyx, path, spacing=(1.0, 1.0, 1.0), origin=None, direction=None):
    image = sitk.GetImageFromArray(array_zyx)
    image.SetSpacing(spacing)
    if origin is not None:
        image.SetOrigin(origin)
    if direction is not None:
        image.SetDirection(direction)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path))


def write_nifti(array_xyz, path, affine=None):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(array_xyz, np.eye(4) if affine is None else affine), str(path))


def write_h5(path, compression="gzip", **datasets):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        for key, value in datasets.items():
            f.create_dataset(key, data=value, compression=compression)


def write_list(path, ids, suffix=""):
    Path(path).write_text("".join(f"{i}{suffix}\n" for i in ids))


# ---------------------------------------------------------------- Left Atrium
def make_la_h5(root: Path, train_ids, test_ids, shape=(10, 9, 6), with_lists=True):
    """`<root>/2018LA_Seg_Training Set/<ID>/mri_norm2.h5` (x, y, z) + train.list/test.list + a desktop.ini."""
    folder = root / "2018LA_Seg_Training Set"
    for case in list(train_ids) + list(test_ids):
        image = RNG.normal(size=shape).astype(np.float32)
        write_h5(folder / case / "mri_norm2.h5", image=image, label=blob(shape))
    (folder / (list(train_ids) + list(test_ids))[0] / "desktop.ini").write_text("[.ShellClassInfo]\n")
    if with_lists:
        write_list(root / "train.list", train_ids)
        write_list(root / "test.list", test_ids)
    return root


def make_la_nrrd(root: Path, ids, shape_zyx=(6, 9, 10)):
    folder = root / "2018LA_Seg_Training Set"
    for case in ids:
        write_sitk(RNG.integers(0, 255, shape_zyx).astype(np.uint8), folder / case / "lgemri.nrrd", (0.625,) * 3)
        write_sitk(blob(shape_zyx, 255), folder / case / "laendo.nrrd", (0.625,) * 3)
    return root


# ---------------------------------------------------------------- MSD
def make_msd(root: Path, name="Task06_Lung", cases=("lung_001", "lung_003", "lung_004"), test=("lung_002",),
             channels=1):
    task = root / name
    for sub in ("imagesTr", "labelsTr", "imagesTs"):
        (task / sub).mkdir(parents=True)
    shape = (8, 7, 5)
    for case in cases:
        image = RNG.integers(-1000, 400, shape + ((channels,) if channels > 1 else ())).astype(np.int16)
        write_nifti(image, task / "imagesTr" / f"{case}.nii.gz")
        write_nifti(blob(shape), task / "labelsTr" / f"{case}.nii.gz")
    for case in test:
        write_nifti(RNG.integers(-1000, 400, shape + ((channels,) if channels > 1 else ())).astype(np.int16),
                    task / "imagesTs" / f"{case}.nii.gz")
    (task / "imagesTr" / f"._{cases[0]}.nii.gz").write_bytes(b"\x00\x05\x16\x07junk")  # macOS AppleDouble junk
    modality = {"0": "CT"} if channels == 1 else {str(i): f"MR{i}" for i in range(channels)}
    dataset = {"name": name.split("_")[1], "description": "fake", "reference": "fake", "licence": "CC-BY-SA 4.0",
               "relase": "1.0", "tensorImageSize": "3D" if channels == 1 else "4D", "modality": modality,
               "labels": {"0": "background", "1": "cancer"}, "numTraining": len(cases), "numTest": len(test),
               "training": [{"image": f"./imagesTr/{c}.nii.gz", "label": f"./labelsTr/{c}.nii.gz"} for c in cases],
               "test": [f"./imagesTs/{c}.nii.gz" for c in test]}
    (task / "dataset.json").write_text(json.dumps(dataset))
    return task


# ---------------------------------------------------------------- ACDC
def make_acdc_original(root: Path, training=("patient001", "patient002"), testing=("patient101",), ed=1, es=5):
    """`database/{training,testing}/patientNNN/` with Info.cfg, a 4-D cine, ED/ES frames and `_gt` masks."""
    shape_xyz = (9, 8, 4)
    affine = np.diag([1.5, 1.5, 10.0, 1.0])
    for split, patients in (("training", training), ("testing", testing)):
        for patient in patients:
            folder = root / "database" / split / patient
            folder.mkdir(parents=True)
            (folder / "Info.cfg").write_text(f"ED: {ed}\nES: {es}\nGroup: DCM\nHeight: 184.0\nNbFrame: 30\nWeight: 95.0\n")
            write_nifti(RNG.integers(0, 500, shape_xyz + (6,)).astype(np.int16), folder / f"{patient}_4d.nii.gz", affine)
            for frame in (ed, es):
                write_nifti(RNG.integers(0, 500, shape_xyz).astype(np.int16),
                            folder / f"{patient}_frame{frame:02d}.nii.gz", affine)
                label = blob(shape_xyz, 1)
                label[4, 4, 1], label[5, 5, 2] = 2, 3
                write_nifti(label, folder / f"{patient}_frame{frame:02d}_gt.nii.gz", affine)
            (folder / "MANDATORY_CITATION.md").write_text("cite ACDC\n")
    return root / "database"


def make_acdc_h5(root: Path, train=("patient099", "patient038"), val=("patient028",), test=("patient011",)):
    """SSL4MIS: `ACDC/data/patientNNN_frame0N.h5` (Z, H, W) + `data/slices/` + train/val/test lists."""
    acdc = root / "ACDC"
    shape = (4, 9, 8)
    for patient in list(train) + list(val) + list(test):
        for frame in ("frame01", "frame02"):
            label = blob(shape, 1)
            label[1, 4, 4] = 3
            write_h5(acdc / "data" / f"{patient}_{frame}.h5", image=RNG.random(shape).astype(np.float32), label=label,
                     scribble=np.zeros(shape, np.uint8))
            write_h5(acdc / "data" / "slices" / f"{patient}_{frame}_slice_0.h5",
                     image=RNG.random(shape[1:]).astype(np.float32), label=np.zeros(shape[1:], np.uint8))
    for name, patients in (("train", train), ("val", val), ("test", test)):
        write_list(acdc / f"{name}.list", [f"{p}_{f}" for p in patients for f in ("frame01", "frame02")])
    write_list(acdc / "train_slices.list", [f"{p}_frame01_slice_0" for p in train])
    return acdc


# ---------------------------------------------------------------- NIH Pancreas
def write_ct_slice(path, pixels, instance, position, series_uid, spacing=(0.8, 0.7), thickness=1.0):
    """One uncompressed CT slice as TCIA ships them (pixels stored = HU + 1024, intercept -1024)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.SeriesInstanceUID, ds.StudyInstanceUID = "CT", series_uid, generate_uid(prefix=None)[:60]
    ds.InstanceNumber = instance
    ds.ImagePositionPatient = [float(v) for v in position]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.PixelSpacing = [spacing[0], spacing[1]]  # [row spacing, column spacing]
    ds.SliceThickness = thickness
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelData = (pixels + 1024).astype(np.uint16).tobytes()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(str(path), enforce_file_format=True)


def make_pancreas_dicom(root: Path, number="0001", rows=10, cols=12, n=4, reversed_instances=False,
                        marker=(1, 2, 3)):
    """`Pancreas-CT/PANCREAS_NNNN/<study>/<series>/1-00k.dcm` + `TCIA_pancreas_labels-02-05-2017/labelNNNN.nii.gz`.

    The mask is drawn in InstanceNumber order (like the NIH masks). A bright marker pixel sits at
    (slice k, row r, col c) = `marker` of the InstanceNumber-ordered stack, and the mask is 1 at the same voxel.
    With reversed_instances, InstanceNumber runs opposite to the z position, and the file names do not follow
    the InstanceNumber either."""
    from pydicom.uid import generate_uid

    series_uid = generate_uid()
    folder = root / "Pancreas-CT" / f"PANCREAS_{number}" / "11-24-2015-PANCREAS0001-Pancreas-18957" / "Pancreas-99667"
    k0, r0, c0 = marker
    for k in range(n):  # k = position in InstanceNumber order
        z = 100.0 - k if reversed_instances else 100.0 + k
        pixels = np.full((rows, cols), -100, np.int16)
        if k == k0:
            pixels[r0, c0] = 2000
        file_index = n - k if reversed_instances else k + 1
        write_ct_slice(folder / f"1-{file_index:03d}.dcm", pixels, k + 1, (-50.0, -40.0, z), series_uid)
    label = np.zeros((cols, rows, n), np.uint8)  # nibabel order (x=column, y=row, z=slice)
    label[c0, r0, k0] = 1
    write_nifti(label, root / "TCIA_pancreas_labels-02-05-2017" / f"label{number}.nii.gz",
                np.diag([0.7, 0.8, 1.0, 1.0]))
    return root


def make_pancreas_mcnet(root: Path, train=("image0057", "image0018"), test=("image0050",), shape=(9, 8, 6)):
    base = root / "data" / "Pancreas"
    for case in list(train) + list(test):
        write_h5(base / "Pancreas_h5" / f"{case}_norm.h5", image=RNG.normal(size=shape).astype(np.float32),
                 label=blob(shape, 1.0, np.float32))  # float32 label, as MC-Net's crop step writes it
    write_list(base / "train.list", train)
    write_list(base / "test.list", test)
    return base


def make_pancreas_coranet(root: Path, lab=("0001",), unlab=("0013",), test=("0064",), shape=(9, 8, 6)):
    for case in list(lab) + list(unlab) + list(test):
        write_h5(root / "data" / f"{case}.h5", compression=None, image=RNG.random(shape).astype(np.float32),
                 label=blob(shape))
    lists = root / "data_lists" / "pancreas"
    lists.mkdir(parents=True)
    for name, ids in (("train_lab", lab), ("train_unlab", unlab), ("test", test)):
        write_list(lists / f"{name}.txt", ids, suffix=".h5")
    return root


# ---------------------------------------------------------------- BraTS 2019
def make_brats19(root: Path, cases=(("HGG", "BraTS19_TCIA02_370_1"), ("HGG", "BraTS19_2013_2_1"),
                                    ("LGG", "BraTS19_TCIA02_309_1")), ending=".nii.gz"):
    """`MICCAI_BraTS_2019_Data_Training/{HGG,LGG}/<case>/<case>_{t1,t1ce,t2,flair,seg}` with seg values {0,1,2,4}."""
    base = root / "MICCAI_BraTS_2019_Data_Training"
    shape = (8, 9, 7)
    for grade, case in cases:
        folder = base / grade / case
        for i, modality in enumerate(("t1", "t1ce", "t2", "flair")):
            write_nifti(np.full(shape, i + 1, np.int16), folder / f"{case}_{modality}{ending}")
        seg = np.zeros(shape, np.uint8)
        seg[2:6, 2:6, 2:5] = 2  # oedema
        seg[3:5, 3:5, 3:4] = 1  # necrotic core
        seg[3, 3, 3] = 4        # enhancing: BraTS labels are not consecutive
        write_nifti(seg, folder / f"{case}_seg{ending}")
    (base / "name_mapping.csv").write_text("Grade,BraTS_2019_subject_ID\n")
    return base


# ---------------------------------------------------------------- AMOS 2022
def make_amos(root: Path):
    """`amos22/` with Tr/Va (labels 0..15), Ts without labels, an extra unlabeled folder, AMOS's dataset.json."""
    amos = root / "amos22"
    shape = (7, 6, 5)
    flipped = np.diag([-1.5, 1.5, 3.0, 1.0])  # a different orientation, as AMOS scans have
    layout = {("imagesTr", "labelsTr"): ["0001", "0507"], ("imagesVa", "labelsVa"): ["0004", "0540"],
              ("imagesTs", None): ["0005", "0510"], ("unlabeledTr", None): ["0700"]}
    for (images, labels), numbers in layout.items():
        for n in numbers:
            affine = flipped if n == "0004" else np.diag([1.5, 1.5, 3.0, 1.0])
            image = RNG.integers(-1000, 1000, shape).astype(np.int16) if int(n) <= 500 else \
                RNG.integers(0, 800, shape).astype(np.int16)
            write_nifti(image, amos / images / f"amos_{n}.nii.gz", affine)
            if labels:
                label = np.zeros(shape, np.uint8)
                label[1:3, 1:3, 1:3] = 8
                label[4, 4, 3] = 15
                write_nifti(label, amos / labels / f"amos_{n}.nii.gz", affine)
    names = ["background", "spleen", "right kidney", "left kidney", "gall bladder", "esophagus", "liver", "stomach",
             "arota", "postcava", "pancreas", "right adrenal gland", "left adrenal gland", "duodenum", "bladder",
             "prostate/uterus"]
    (amos / "dataset.json").write_text(json.dumps({
        "name": "AMOS", "modality": {"0": "CT"}, "labels": {str(i): n for i, n in enumerate(names)},
        "training": [{"image": "./imagesTr/amos_0001.nii.gz", "label": "./labelsTr/amos_0001.nii.gz"}],
        "validation": [], "test": ["./imagesTs/amos_0005.nii.gz"]}))
    return amos


# ---------------------------------------------------------------- M&Ms
MNMS_CSV = "211230_M&Ms_Dataset_information_diagnosis_opendataset.csv"


def make_mnms(root: Path, ed=0, es=7):
    """`OpenDataset/` with 4-D int16 `_sa` (x, y, z, t) and uint8 `_sa_gt` annotated at ED/ES only, two vendors,
    one Training/Unlabeled case, a Testing case, and the csv with a leading unnamed index column."""
    base = root / "OpenDataset"
    shape = (12, 11, 4, 9)
    cases = {("Training/Labeled", "A0S9V9"): ("A", "Siemens", 1), ("Training/Labeled", "B1C2D3"): ("B", "Philips", 2),
             ("Training/Unlabeled", "C7X8Y9"): ("C", "GE", 3), ("Testing", "D4E5F6"): ("D", "Canon", 5)}
    affine = np.array([[-1.3, 0.02, 0, 10], [0.0, 1.3, 0, -20], [0, 0, 9.0, 5], [0, 0, 0, 1]])  # slightly skewed
    for (subset, code), _ in cases.items():
        folder = base / subset / code
        write_nifti(RNG.integers(0, 300, shape).astype(np.int16), folder / f"{code}_sa.nii.gz", affine)
        if subset != "Training/Unlabeled":
            gt = np.zeros(shape, np.uint8)
            for t in (ed, es):
                gt[3:8, 3:8, 1:3, t] = 2
                gt[5, 5, 1, t] = 1
                gt[9, 9, 2, t] = 3
            write_nifti(gt, folder / f"{code}_sa_gt.nii.gz", affine)
    lines = [",External code,VendorName,Vendor,Centre,ED,ES"]
    lines += [f"{i},{code},{name},{vendor},{centre},{ed},{es}"
              for i, ((_, code), (vendor, name, centre)) in enumerate(cases.items())]
    (base / MNMS_CSV).write_text("\n".join(lines) + "\n")
    return base
