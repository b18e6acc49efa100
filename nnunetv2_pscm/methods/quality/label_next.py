""""Label these next": `nnUNetv2_pscm_suggest` ranks a fold's unlabeled cases for an annotator.

For every case of the fold's ``unlabeled`` list (splits_final.json): the fold's trained model (any trainer, stock
nnU-Net's included, through nnU-Net's own predictor with its sliding window and, unless disabled, mirroring)
predicts the case's preprocessed image; the fold's quality predictor scores that prediction
(`case_scoring.score_case`); the model's uncertainty is the mean normalised entropy of its softmax over the voxels
it calls foreground (over all voxels when it calls none). Cases are ranked by predicted quality, lowest first (ties:
more uncertain first) [ours: the predicted Dice is what the user wants to raise; the entropy is reported beside it
because a confidently wrong model has low entropy and is exactly what quality prediction catches].

Only images are read: for a hidden-label training case its preprocessed image, for an image of imagesUnlabeled the
output of `nnUNetv2_pscm_preprocess_unlabeled` (`data.unlabeled_dataset.UnlabeledImageDataset`, which never opens a
segmentation). Output folder: ``label_next.csv`` (all cases ranked, ``label_next`` = 1 for the first n) and
``label_next.png`` (a montage of those n: the slice with most predicted foreground and the prediction's outline).
"""
import os
from os.path import isfile, join
from typing import List, Optional, Tuple

import numpy as np
import torch

from nnunetv2_pscm.components.uncertainty import normalized_entropy
from nnunetv2_pscm.data.locations import dataset_name, unlabeled_preprocessed_folder
from nnunetv2_pscm.data.unlabeled_dataset import UnlabeledImageDataset
from nnunetv2_pscm.methods.quality.case_scoring import score_case
from nnunetv2_pscm.methods.quality.figures import save_panels
from nnunetv2_pscm.methods.quality.locate import fold_predictor
from nnunetv2_pscm.methods.quality.quality_control import foreground_names, write_csv_atomically
from nnunetv2_pscm.methods.quality.training import (QualityTrainingError, quality_output_folder, read_fold_entry,
                                                    read_plans)

CSV_NAME, MONTAGE_NAME = "label_next.csv", "label_next.png"
PREPROCESSED_ENDINGS = (".b2nd", ".npy", ".npz")


def fold_unlabeled_images(pp_folder: str, data_folder: str, data_identifier: str, fold: int) -> UnlabeledImageDataset:
    entry, path = read_fold_entry(pp_folder, fold)
    cases = entry.get("unlabeled") or []
    if not cases:
        raise QualityTrainingError(f"Fold {fold} of {path} has no 'unlabeled' cases: nothing to suggest (write the "
                                   f"split with nnUNetv2_pscm_split).")
    unlabeled_folder = unlabeled_preprocessed_folder(pp_folder, data_identifier)
    folders = {}
    for case in cases:
        for folder in (data_folder, unlabeled_folder):
            if any(isfile(join(folder, case + e)) for e in PREPROCESSED_ENDINGS):
                folders[case] = folder
                break
        else:
            raise QualityTrainingError(f"Unlabeled case '{case}' of fold {fold} has no preprocessed image in "
                                       f"{data_folder} nor {unlabeled_folder}; run nnUNetv2_pscm_preprocess_unlabeled.")
    return UnlabeledImageDataset(folders)


def model_predictor(dataset, trainer: str, plans_identifier: str, configuration: str, fold: int, checkpoint: str,
                    use_mirroring: bool, device: torch.device):
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor
    from nnunetv2.paths import nnUNet_results

    folder = join(os.fspath(nnUNet_results), dataset_name(dataset), f"{trainer}__{plans_identifier}__{configuration}")
    if not isfile(join(folder, f"fold_{fold}", checkpoint)):
        raise QualityTrainingError(f"No trained model at {join(folder, f'fold_{fold}', checkpoint)}: train it first "
                                   f"(nnUNetv2_train {dataset_name(dataset)} {configuration} {fold} -tr {trainer} -p "
                                   f"{plans_identifier}) or pass -tr / -chk of a model you have.")
    predictor = nnUNetPredictor(use_mirroring=use_mirroring, perform_everything_on_device=device.type == "cuda",
                                device=device, allow_tqdm=False)
    predictor.initialize_from_trained_model_folder(folder, (fold,), checkpoint)
    return predictor


def suggest_cases_to_label(dataset, configuration: str, fold: int, plans_identifier: str = "nnUNetPlans",
                           trainer: str = "nnUNetTrainer", checkpoint: str = "checkpoint_final.pth", n: int = 10,
                           output_folder: Optional[str] = None, num_windows: int = 8, use_mirroring: bool = True,
                           device: str = "cpu", overwrite: bool = False,
                           verbose: bool = True) -> Tuple[List[dict], str]:
    """Rank the fold's unlabeled cases (module docstring); returns (the CSV's rows, best to label first; the output
    folder)."""
    if n < 1:
        raise QualityTrainingError(f"-n must be >= 1, got {n}")
    output_folder = output_folder or join(quality_output_folder(dataset, plans_identifier, configuration, fold),
                                          f"label_next__{trainer}__{os.path.splitext(checkpoint)[0]}")
    if isfile(join(output_folder, CSV_NAME)) and not overwrite:
        raise QualityTrainingError(f"{join(output_folder, CSV_NAME)} already exists. Pass --overwrite to replace it.")
    net, record, _ = fold_predictor(dataset, configuration, fold, plans_identifier)
    pp_folder, _, cm, data_folder, dataset_json, label_manager = read_plans(dataset, plans_identifier, configuration)
    images = fold_unlabeled_images(pp_folder, data_folder, cm.data_identifier, fold)
    torch_device = torch.device(device)
    predictor = model_predictor(dataset, trainer, plans_identifier, configuration, fold, checkpoint, use_mirroring,
                                torch_device)
    names = foreground_names(label_manager, dataset_json)
    scored = []
    for case in images.identifiers:
        image = np.asarray(images.load_image(case), dtype=np.float32)
        logits = predictor.predict_logits_from_preprocessed_data(torch.from_numpy(image)).float()
        probs = torch.softmax(logits, 0)
        mask = probs.argmax(0).numpy().astype(np.uint8)
        entropy = normalized_entropy(probs[None])[0, 0].numpy()
        uncertainty = float(entropy[mask > 0].mean() if (mask > 0).any() else entropy.mean())
        quality = score_case(net, image, mask, record["patch_size"], num_windows, device=torch_device)
        scored.append((float(quality.mean()), -uncertainty, case, quality, image, mask))
        if verbose:
            print(f"{case}: predicted Dice {quality.mean():.3f}, mean uncertainty {uncertainty:.4f}", flush=True)
    scored.sort(key=lambda s: (s[0], s[1], s[2]))
    rows, panels = [], []
    for rank, (q_mean, neg_u, case, quality, image, mask) in enumerate(scored, 1):
        rows.append({"rank": rank, "case": case, "predicted_dice_mean": round(q_mean, 4),
                     **{f"predicted_dice_{n_}": round(float(v), 4) for n_, v in zip(names, quality)},
                     "mean_uncertainty": round(-neg_u, 5), "label_next": int(rank <= n)})
        if rank <= n:
            panels.append((image, mask, f"#{rank} {case}\nq {q_mean:.3f}  u {-neg_u:.3f}"))
    os.makedirs(output_folder, exist_ok=True)
    save_panels(panels, join(output_folder, MONTAGE_NAME))
    write_csv_atomically(rows, join(output_folder, CSV_NAME))
    return rows, output_folder
