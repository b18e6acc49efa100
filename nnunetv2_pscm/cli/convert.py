"""`nnUNetv2_pscm_convert_<name>`: public SSL benchmark datasets (and your own data) -> nnU-Net raw datasets.

Each command is a thin argparse wrapper over the importable function of
`nnunetv2_pscm.dataset_conversion.<module>`. All of them take `-i INPUT_ROOT [-d DATASET_ID] [--overwrite]
[-np N] [--verify]`, write `$nnUNet_raw/DatasetNNN_Name/` through a temporary folder, and print the written
folder on stdout (progress and notes go to stderr).
"""
from __future__ import annotations

import argparse
import importlib
import sys


def _converters(module: str):
    return importlib.import_module(f"nnunetv2_pscm.dataset_conversion.{module}")


def _parser(description: str, default_id: str) -> argparse.ArgumentParser:
    from nnunetv2_pscm.dataset_conversion.common import default_num_processes

    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-i", "--input", required=True, metavar="INPUT_ROOT",
                        help="the downloaded, extracted dataset folder")
    parser.add_argument("-d", "--dataset-id", type=int, default=None, metavar="ID",
                        help=f"nnU-Net dataset id to write (default: {default_id})")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing nnUNet_raw/DatasetNNN_* folder with this id")
    parser.add_argument("-np", "--num-processes", type=int, default=default_num_processes(),
                        help="parallel worker processes (default: %(default)s)")
    parser.add_argument("--verify", action="store_true",
                        help="run nnU-Net's verify_dataset_integrity on the result")
    return parser


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace, function, **kwargs) -> None:
    """Call the converter; errors in the input data end the command with a one-line message (exit status 1).
    Returns None: console scripts pass the return value to sys.exit."""
    from nnunetv2_pscm.dataset_conversion.common import ConversionError

    try:
        result = function(args.input, dataset_id=args.dataset_id, overwrite=args.overwrite,
                          num_processes=args.num_processes, **kwargs)
    except ConversionError as e:
        parser.exit(1, f"{parser.prog}: error: {e}\n")
    if args.verify and result is not None and not kwargs.get("dry_run"):
        from nnunetv2.experiment_planning.verify_dataset_integrity import verify_dataset_integrity

        verify_dataset_integrity(str(result), max(1, args.num_processes))
    if result is not None and not kwargs.get("dry_run"):
        print(result)


def convert_LA(argv=None) -> None:
    parser = _parser(
        "Left Atrium 2018 -> nnU-Net. Accepts the SSL h5 release ('2018LA_Seg_Training Set/<ID>/mri_norm2.h5' with "
        "train.list/test.list next to that folder) or the original 'lgemri.nrrd'/'laendo.nrrd' release. "
        "Case ids: la_<ID>. Test-list cases go to imagesTs/labelsTs.", "901 (h5), 902 (nrrd)")
    parser.add_argument("--format", choices=["auto", "h5", "nrrd"], default="auto")
    parser.add_argument("--keep-test-in-imagesTr", action="store_true",
                        help="put the test-list cases into imagesTr too (default: imagesTs/labelsTs)")
    args = parser.parse_args(argv)
    _run(parser, args, _converters("Dataset901_LA2018").convert_la, source_format=args.format,
                hold_out_test=not args.keep_test_in_imagesTr)


def convert_pancreas(argv=None) -> None:
    parser = _parser(
        "NIH Pancreas-CT -> nnU-Net. Accepts the TCIA DICOM release (Pancreas-CT/PANCREAS_NNNN/... + "
        "label00NN.nii.gz), the MC-Net 'Pancreas_h5' release (image00NN_norm.h5 + train.list/test.list) or the "
        "CoraNet/BCP release (00NN.h5 + train_lab.txt/train_unlab.txt/test.txt). Case ids: pancreas_00NN.",
        "911 (DICOM), 912 (MC-Net h5), 913 (CoraNet h5)")
    parser.add_argument("--format", choices=["auto", "dicom", "mcnet_h5", "coranet_h5"], default="auto")
    parser.add_argument("--labels", default=None, metavar="DIR",
                        help="DICOM release: folder with label00NN.nii.gz (default: searched under INPUT_ROOT)")
    parser.add_argument("--lists", default=None, metavar="DIR",
                        help="h5 releases: folder with the split lists (default: searched near INPUT_ROOT, "
                             "else the shipped copies)")
    parser.add_argument("--hold-out-test", default=None, metavar="PRESET",
                        help="DICOM release: move the test cases of this preset (Pancreas-6/12, "
                             "Pancreas-CoraNet-12) to imagesTs/labelsTs")
    args = parser.parse_args(argv)
    _run(parser, args, _converters("Dataset911_NIHPancreas").convert_pancreas, source_format=args.format,
                labels_dir=args.labels, lists_dir=args.lists, hold_out_test=args.hold_out_test)


def convert_MSD(argv=None) -> None:
    parser = _parser("Medical Segmentation Decathlon task folder (TaskNN_Name with imagesTr, labelsTr, imagesTs, "
                     "dataset.json) -> nnU-Net, reusing nnU-Net's MSD logic.", "960 + task number")
    args = parser.parse_args(argv)
    _run(parser, args, _converters("Dataset960_MSD").convert_msd)


def convert_AMOS(argv=None) -> None:
    parser = _parser(
        "AMOS 2022 (amos22/ with imagesTr, labelsTr, imagesVa, labelsVa, imagesTs, dataset.json) -> nnU-Net. "
        "Training and validation cases go to imagesTr; ids > 500 are MRI. Extra unlabeled scans go to "
        "imagesUnlabeled. Case ids: amos_NNNN.", "951 (CT), 952 (MRI), 953 (both)")
    parser.add_argument("--modality", choices=["CT", "MRI", "both"], default="CT")
    parser.add_argument("--unlabeled", action="append", default=None, metavar="DIR",
                        help="folder of extra unlabeled AMOS scans (repeatable; default: folders under INPUT_ROOT "
                             "whose name contains 'unlabel')")
    args = parser.parse_args(argv)
    _run(parser, args, _converters("Dataset951_AMOS2022").convert_amos, modality=args.modality,
                unlabeled_dirs=args.unlabeled)


def convert_ACDC(argv=None) -> None:
    parser = _parser(
        "ACDC -> nnU-Net. Accepts the original release (training/ and testing/ patient folders with Info.cfg) or "
        "the SSL4MIS h5 release (data/patientNNN_frame0N.h5 + train/val/test.list). Case ids: "
        "patientNNN_frameNN.", "921 (original), 922 (SSL4MIS h5)")
    parser.add_argument("--format", choices=["auto", "original", "h5"], default="auto")
    args = parser.parse_args(argv)
    _run(parser, args, _converters("Dataset921_ACDC").convert_acdc, source_format=args.format)


def convert_MNMs(argv=None) -> None:
    parser = _parser(
        "M&Ms (OpenDataset/ with Training/Labeled, Training/Unlabeled, Validation, Testing and the information "
        "csv) -> nnU-Net. ED/ES frames from the csv; vendor/centre per case in mnms_metadata.json; "
        "Training/Unlabeled into imagesUnlabeled. Case ids: <code>_frameNN.", "931")
    parser.add_argument("--csv", default=None, help="the M&Ms information csv (default: the csv in INPUT_ROOT)")
    parser.add_argument("--unlabeled-frames", choices=["ed_es", "all"], default="ed_es",
                        help="which cine frames of Training/Unlabeled cases become unlabeled images")
    args = parser.parse_args(argv)
    _run(parser, args, _converters("Dataset931_MNMs").convert_mnms, csv_file=args.csv,
                unlabeled_frames=args.unlabeled_frames)


def convert_BraTS19(argv=None) -> None:
    parser = _parser(
        "BraTS 2019 (MICCAI_BraTS_2019_Data_Training with HGG/ and LGG/) -> nnU-Net. --task regions: 4 modalities, "
        "whole tumour / tumour core / enhancing tumour regions; --task wt: the SSL benchmark's FLAIR-only binary "
        "whole tumour. Case ids: the case folder names (BraTS19_...).", "941 (regions), 942 (wt)")
    parser.add_argument("--task", choices=["regions", "wt"], default="regions")
    parser.add_argument("--hold-out-test", default=None, metavar="PRESET",
                        help="move the test cases of this preset (BraTS19-25/50) to imagesTs/labelsTs")
    args = parser.parse_args(argv)
    _run(parser, args, _converters("Dataset941_BraTS19").convert_brats19, task=args.task,
                hold_out_test=args.hold_out_test)


def _label_map(items):
    mapping = {}
    for item in items or []:
        try:
            old, new = item.split("=")
            mapping[int(old)] = int(new)
        except ValueError:
            raise argparse.ArgumentTypeError(f"--label-map entries look like OLD=NEW (e.g. 255=1), got {item!r}")
    return mapping


def convert_generic(argv=None) -> None:
    parser = _parser(
        "Your own data -> nnU-Net: image/label pairs matched by patterns (NIfTI, NRRD, MHA, ...; several channels "
        "allowed) plus optional unlabeled and test folders. Run with --dry-run first to see what will be written.",
        "none, choose one")
    parser.epilog = (
        "examples:\n"
        "  %(prog)s -i cases/ -d 500 --name Breast --image-pattern '{case}_image.nrrd' --label-pattern '{case}_label.nrrd'\n"
        "  %(prog)s -i data/ -d 501 --image-pattern 'images/{case}.nii.gz' --label-pattern 'labels/{case}.nii.gz' "
        "--unlabeled more_images/\n"
        "  %(prog)s -i brats/ -d 502 --image-pattern '{case}/{case}_t1.nii.gz' '{case}/{case}_flair.nii.gz' "
        "--channel-names T1 FLAIR --label-pattern '{case}/{case}_seg.nii.gz' --label-map 4=3\n"
        "patterns are relative to INPUT_ROOT; {case} marks the case id, * matches within one folder level.")
    parser.add_argument("--name", default=None, help="dataset name (default: the input folder's name)")
    parser.add_argument("--image-pattern", nargs="+", default=None, metavar="PATTERN",
                        help="one pattern per channel, in channel order (default: recognise common layouts)")
    parser.add_argument("--label-pattern", default=None, metavar="PATTERN")
    parser.add_argument("--channel-names", nargs="+", default=None, metavar="NAME",
                        help="one per channel; 'CT' selects nnU-Net's CT normalisation (Hounsfield units only), "
                             "anything else per-image z-score (default: zscore)")
    parser.add_argument("--label-names", nargs="+", default=None, metavar="NAME",
                        help="names of labels 1, 2, ... (default: label_1, label_2, ... from the values found)")
    parser.add_argument("--label-map", nargs="+", default=None, metavar="OLD=NEW",
                        help="remap label values, e.g. 255=1 or 4=3")
    parser.add_argument("--unlabeled", default=None, metavar="DIR", help="folder of unlabeled images")
    parser.add_argument("--unlabeled-pattern", nargs="+", default=None, metavar="PATTERN",
                        help="patterns inside the unlabeled folder (default: the image patterns)")
    parser.add_argument("--test", default=None, metavar="DIR",
                        help="folder of test cases (same patterns; labels optional) -> imagesTs/labelsTs")
    parser.add_argument("--case-prefix", default="", help="prefix for every case id")
    parser.add_argument("--missing-label-as-unlabeled", action="store_true",
                        help="images without a label become unlabeled images instead of an error")
    parser.add_argument("--dry-run", action="store_true", help="list what would be written; write nothing")
    args = parser.parse_args(argv)
    try:
        label_map = _label_map(args.label_map)
    except argparse.ArgumentTypeError as e:
        parser.error(str(e))
    _run(parser, args, _converters("generic").convert_generic, dataset_name=args.name,
                image_patterns=args.image_pattern, label_pattern=args.label_pattern,
                channel_names=args.channel_names, label_names=args.label_names, label_map=label_map,
                unlabeled_root=args.unlabeled, unlabeled_patterns=args.unlabeled_pattern, test_root=args.test,
                case_prefix=args.case_prefix, missing_label_as_unlabeled=args.missing_label_as_unlabeled,
                dry_run=args.dry_run)


if __name__ == "__main__":
    print("Use the nnUNetv2_pscm_convert_<name> commands.", file=sys.stderr)
