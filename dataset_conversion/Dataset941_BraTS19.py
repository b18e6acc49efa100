"""BraTS 2019 training set (`MICCAI_BraTS_2019_Data_Training/{HGG,LGG}/<case>/<case>_{t1,t1ce,t2,flair,seg}.nii[.gz]`)
-> nnU-Net raw dataset, in one of two tasks:

* `regions` (default id 941 -> Dataset941_BraTS19): channels T1, T1ce, T2, Flair; the non-consecutive BraTS labels
  0/1/2/4 (1 necrotic/non-enhancing core, 2 oedema, 4 enhancing) become 0/2/1/3 (oedema 1, core 2, enhancing 3)
  and nnU-Net trains the regions whole tumour (1, 2, 3), tumour core (2, 3) and enhancing tumour (3) - the same
  encoding as nnU-Net's own Dataset043_BraTS19.
* `wt` (default id 942 -> Dataset942_BraTS19_WT_FLAIR): the semi-supervised benchmark's task (SSL4MIS): FLAIR only,
  binary whole tumour (seg > 0).

Case ids are the case folder names (BraTS19_TCIA02_370_1), as in the SSL4MIS lists, so the BraTS19-25/50
presets apply. All cases go to imagesTr unless `hold_out_test` names a preset whose test cases then go to
imagesTs/labelsTs. Any label value outside {0, 1, 2, 4} is an error naming the file. The grade (HGG/LGG) of each
case is kept in `brats19_metadata.json`. Spacing and geometry come from the NIfTI files (1 mm, co-registered).
"""
from __future__ import annotations

from pathlib import Path

from nnunetv2_pscm.dataset_conversion.common import (
    ConversionError, case_of_image_file, check_same_grid, finite_image, info, map_with_progress, read_image,
    staged_dataset, to_label_array, write_image, write_label,
)
from nnunetv2_pscm.dataset_conversion.registry import ConverterCommand, option

DEFAULT_IDS = {"regions": 941, "wt": 942}
NAMES = {"regions": "BraTS19", "wt": "BraTS19_WT_FLAIR"}
MODALITIES = ("t1", "t1ce", "t2", "flair")
CHANNELS = {"regions": {0: "T1", 1: "T1ce", 2: "T2", 3: "Flair"}, "wt": {0: "FLAIR"}}
BRATS_VALUES = (0, 1, 2, 4)
LABEL_MAPS = {"regions": {0: 0, 1: 2, 2: 1, 4: 3}, "wt": {0: 0, 1: 1, 2: 1, 4: 1}}
LABELS = {"regions": {"background": 0, "whole_tumor": (1, 2, 3), "tumor_core": (2, 3), "enhancing_tumor": (3,)},
          "wt": {"background": 0, "whole_tumor": 1}}
REFERENCE = "Menze et al., IEEE TMI 2015; Bakas et al., Nature Scientific Data 2017; Bakas et al., arXiv:1811.02629"


def _file(case_dir: Path, suffix: str) -> Path:
    for ending in (".nii.gz", ".nii"):  # the 2019 release ships .nii.gz, nnU-Net's converter expected .nii
        candidate = case_dir / f"{case_dir.name}_{suffix}{ending}"
        if candidate.is_file():
            return candidate
    raise ConversionError(f"{case_dir}: {case_dir.name}_{suffix}.nii(.gz) is missing.")


def find_cases(root: Path) -> dict[str, tuple[Path, str]]:
    """{case id: (case folder, grade)} from HGG/ and LGG/ (or case folders directly under root)."""
    cases = {}
    for grade_dir in [root / "HGG", root / "LGG", *root.glob("*/HGG"), *root.glob("*/LGG")]:
        if grade_dir.is_dir():
            for d in sorted(p for p in grade_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
                cases.setdefault(d.name, (d, grade_dir.name))
    if not cases:
        for d in sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("BraTS")):
            cases[d.name] = (d, "unknown")
    return cases


def convert_brats_case(case_dir: str, task: str, image_outs: list[str], label_out: str,
                       replace_nonfinite: float | None = None) -> None:
    import SimpleITK as sitk

    folder = Path(case_dir)
    seg_file = _file(folder, "seg")
    seg = read_image(seg_file)
    modalities = MODALITIES if task == "regions" else ("flair",)
    for modality, out in zip(modalities, image_outs):
        image_file = _file(folder, modality)
        image = finite_image(read_image(image_file), str(image_file), case_of_image_file(out), replace_nonfinite)
        check_same_grid(image, seg, str(image_file), str(seg_file))
        write_image(image, Path(out))
    array = to_label_array(sitk.GetArrayFromImage(seg), str(seg_file), allowed=BRATS_VALUES,
                           mapping=LABEL_MAPS[task])
    write_label(array, seg, Path(label_out))


def convert_brats19(input_root: str | Path, dataset_id: int | None = None, overwrite: bool = False,
                    num_processes: int = 1, task: str = "regions", hold_out_test: str | None = None,
                    replace_nonfinite: float | None = None) -> Path:
    if task not in DEFAULT_IDS:
        raise ConversionError(f"Unknown BraTS task {task!r}; use 'regions' or 'wt'.")
    root = Path(input_root)
    if not root.is_dir():
        raise ConversionError(f"Input folder {root} does not exist.")
    cases = find_cases(root)
    if not cases:
        raise ConversionError(f"No BraTS case folders under {root} (expected HGG/ and LGG/ with BraTS19_* folders).")
    test_cases: set[str] = set()
    if hold_out_test:
        from nnunetv2_pscm.data.presets import preset_test_ids

        try:
            test_cases = set(preset_test_ids(hold_out_test))
        except ValueError as e:
            raise ConversionError(str(e)) from None

    with staged_dataset(dataset_id or DEFAULT_IDS[task], NAMES[task], overwrite) as stage:
        jobs = []
        for case, (folder, _) in cases.items():
            subset = "Ts" if case in test_cases else "Tr"
            jobs.append({"case_dir": str(folder), "task": task,
                         "image_outs": [str(stage.image_path(subset, case, c)) for c in CHANNELS[task]],
                         "label_out": str(stage.label_path(subset, case)), "replace_nonfinite": replace_nonfinite})
        map_with_progress(convert_brats_case, jobs, num_processes, description=f"BraTS19 ({task})")
        stage.write_json("brats19_metadata.json", {case: {"grade": grade} for case, (_, grade) in cases.items()})
        extra = {"regions_class_order": (1, 2, 3)} if task == "regions" else {}
        stage.write_dataset_json(
            CHANNELS[task], LABELS[task], dataset_name=NAMES[task], reference=REFERENCE,
            description=("BraTS 2019, 4 modalities, regions WT/TC/ET (labels remapped 1->2, 2->1, 4->3)"
                         if task == "regions" else "BraTS 2019, FLAIR only, binary whole tumour (SSL4MIS task)")
                        + (f"; test cases of preset {hold_out_test} in imagesTs/labelsTs." if hold_out_test else "."),
            license="see the BraTS 2019 data usage terms", case_id_format="BraTS19 case folder name",
            split_presets=["BraTS19-25", "BraTS19-50"], **extra)
    info(f"Wrote {stage.final_path}")
    return stage.final_path


CONVERTER = ConverterCommand(
    name="BraTS19",
    convert=convert_brats19,
    description="BraTS 2019 (MICCAI_BraTS_2019_Data_Training with HGG/ and LGG/) -> nnU-Net. --task regions: 4 "
                "modalities, whole tumour / tumour core / enhancing tumour regions; --task wt: the SSL benchmark's "
                "FLAIR-only binary whole tumour. Case ids: the case folder names (BraTS19_...).",
    default_id="941 (regions), 942 (wt)",
    options=(
        option("--task", dest="task", choices=["regions", "wt"], default="regions"),
        option("--hold-out-test", dest="hold_out_test", default=None, metavar="PRESET",
               help="move the test cases of this preset (BraTS19-25/50) to imagesTs/labelsTs"),
    ),
)
