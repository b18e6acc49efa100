"""Quality control of predictions: `nnUNetv2_pscm_quality` scores every predicted case with the fold's quality
predictor and flags the cases it expects to be poor.

Works on the predictions of ANY model (ours or stock nnU-Net): it needs only the raw images (nnU-Net's
``{case}_{XXXX}{file_ending}`` naming) and label files ``{case}{file_ending}`` in the images' geometry, as
``nnUNetv2_predict`` writes them. Both are brought to the predictor's preprocessed space by nnU-Net's own
preprocessor for the plans (`case_scoring.preprocess_raw_case`), and each case is scored by `case_scoring.score_case`.

Output: a CSV (one row per case: predicted Dice per foreground class, their mean, ``flagged`` = mean below
``threshold``), written to a temporary file and renamed, never over an existing file without ``overwrite``; and one
PNG per flagged case (the slice with most predicted foreground, the prediction's outline) in ``overlays_folder``.
"""
import csv
import os
from dataclasses import dataclass
from os.path import basename, isdir, isfile, join
from typing import Dict, List, Optional

import numpy as np
import torch

from nnunetv2_pscm.methods.quality.case_scoring import preprocess_raw_case, score_case
from nnunetv2_pscm.methods.quality.figures import save_panels
from nnunetv2_pscm.methods.quality.locate import fold_predictor
from nnunetv2_pscm.methods.quality.training import QualityTrainingError, read_plans


@dataclass
class CaseQuality:
    case: str
    per_class: Dict[str, float]  # foreground label name -> predicted Dice

    @property
    def mean(self) -> float:
        return float(np.mean(list(self.per_class.values())))


def foreground_names(label_manager, dataset_json: dict) -> List[str]:
    """Names of the foreground classes in label order (dataset.json's names; the value where a name is missing)."""
    by_value = {int(v): k for k, v in dataset_json["labels"].items() if not isinstance(v, (list, tuple))}
    return [by_value.get(int(v), str(v)) for v in label_manager.foreground_labels]


def match_images_and_predictions(images_folder: str, predictions_folder: str, file_ending: str,
                                 num_channels: int) -> Dict[str, List[str]]:
    """case -> its image files (channel order); every prediction must have all its channels, and a case with an
    image but no prediction is named rather than skipped."""
    from nnunetv2.utilities.utils import create_lists_from_splitted_dataset_folder

    for folder, option in ((images_folder, "-i"), (predictions_folder, "-p")):
        if not isdir(folder):
            raise QualityTrainingError(f"{option} {folder} is not a folder.")
    cases = sorted(f[:-len(file_ending)] for f in os.listdir(predictions_folder) if f.endswith(file_ending))
    if not cases:
        raise QualityTrainingError(f"-p {predictions_folder} holds no prediction ending in '{file_ending}' (the "
                                   f"dataset's file_ending).")
    files = dict(zip(cases, create_lists_from_splitted_dataset_folder(images_folder, file_ending, cases)))
    for case, channels in files.items():
        if len(channels) != num_channels:
            raise QualityTrainingError(f"prediction {join(predictions_folder, case + file_ending)}: found "
                                       f"{len(channels)} image file(s) {[basename(c) for c in channels]} in "
                                       f"{images_folder}, the plans need {num_channels} "
                                       f"({case}_0000{file_ending} ...).")
    return files


def write_csv_atomically(rows: List[dict], path: str) -> None:
    temporary = path + ".tmp"
    with open(temporary, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(temporary, path)


def run_quality_control(images_folder: str, predictions_folder: str, dataset, configuration: str, fold: int,
                        plans_identifier: str, output_csv: str, threshold: float = 0.7, num_windows: int = 8,
                        overlays_folder: Optional[str] = None, overwrite: bool = False,
                        device: str = "cpu", verbose: bool = True) -> List[CaseQuality]:
    if isfile(output_csv) and not overwrite:
        raise QualityTrainingError(f"{output_csv} already exists. Pass --overwrite to replace it.")
    if overlays_folder is not None and isdir(overlays_folder) and os.listdir(overlays_folder) and not overwrite:
        raise QualityTrainingError(f"{overlays_folder} (overlays) is not empty. Pass --overwrite to write into it.")
    if not 0 <= threshold <= 1:
        raise QualityTrainingError(f"--threshold is a Dice in [0, 1], got {threshold}")
    net, record, _ = fold_predictor(dataset, configuration, fold, plans_identifier)
    _, plans_manager, cm, _, dataset_json, label_manager = read_plans(dataset, plans_identifier, configuration)
    names = foreground_names(label_manager, dataset_json)
    files = match_images_and_predictions(images_folder, predictions_folder, dataset_json["file_ending"],
                                         net.image_channels)
    torch_device = torch.device(device)
    results, flagged_panels = [], []
    for case, image_files in files.items():
        mask_file = join(predictions_folder, case + dataset_json["file_ending"])
        try:
            image, mask = preprocess_raw_case(image_files, mask_file, plans_manager, cm, dataset_json)
        except Exception as e:  # nnU-Net's reader raises many kinds; name the case
            raise QualityTrainingError(f"case '{case}': could not read {image_files} / {mask_file}: {e}") from e
        if mask.max() >= net.num_classes:
            raise QualityTrainingError(f"{mask_file} holds label {int(mask.max())}; the dataset has labels "
                                       f"0..{net.num_classes - 1}.")
        scores = score_case(net, image, mask, record["patch_size"], num_windows, device=torch_device)
        quality = CaseQuality(case, dict(zip(names, map(float, scores))))
        results.append(quality)
        if quality.mean < threshold:
            flagged_panels.append((case, (image, mask, f"{case}: predicted Dice {quality.mean:.3f}")))
        if verbose:
            print(f"{case}: predicted Dice {quality.mean:.3f}{'  FLAGGED' if quality.mean < threshold else ''}",
                  flush=True)
    rows = [{"case": q.case, **{f"predicted_dice_{n}": round(v, 4) for n, v in q.per_class.items()},
             "predicted_dice_mean": round(q.mean, 4), "flagged": int(q.mean < threshold)} for q in results]
    if overlays_folder is not None and flagged_panels:
        os.makedirs(overlays_folder, exist_ok=True)
        for case, panel in flagged_panels:
            save_panels([panel], join(overlays_folder, f"{case}.png"), columns=1)
    write_csv_atomically(rows, output_csv)
    return results
