"""Watch pseudo-label quality on unlabeled training cases whose labels exist but are hidden from training.

This is the ONLY code that reads a hidden label, and only to report: Dice of the raw teacher pseudo-label
and of the PSC-corrected one against the truth (logged every self-training epoch as pl_dice_raw / pl_dice_corrected),
plus, every `monitor_every_epochs` epochs, a PNG of one slice (image, raw and corrected pseudo-label, BOM
mask, truth). Nothing it computes reaches a loss or a model. It is on by default in the PSCM trainers
(`monitor_hidden_labels`), off in nnUNetTrainerPSCM_noMonitor; it never looks at truly unlabeled images (they
have no label), and a case whose label file is missing or unreadable is silently left out (never a crash).
"""
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from nnunetv2_pscm.data.split_file import load_splits
from nnunetv2_pscm.data.locations import splits_file

NAN = float("nan")


def foreground_dice(prediction: np.ndarray, truth: np.ndarray, num_classes: int) -> float:
    scores = []
    for c in range(1, num_classes):
        p, t = prediction == c, truth == c
        denominator = p.sum() + t.sum()
        if denominator > 0:
            scores.append(2 * np.logical_and(p, t).sum() / denominator)
    return float(np.mean(scores)) if scores else NAN


def center_crop(array: np.ndarray, patch_size) -> np.ndarray:
    """Crop (or zero-pad) the trailing dims of (C, ...) to patch_size around the centre."""
    out = array
    for axis, size in enumerate(patch_size, start=array.ndim - len(patch_size)):
        n = out.shape[axis]
        if n >= size:
            start = (n - size) // 2
            out = np.take(out, range(start, start + size), axis=axis)
        else:
            pad = [(0, 0)] * out.ndim
            pad[axis] = ((size - n) // 2, size - n - (size - n) // 2)
            out = np.pad(out, pad)
    return out


def hidden_label_cases(preprocessed_dataset_folder_base: str, fold: int, training_case_ids: Sequence[str],
                       num_cases: int) -> List[str]:
    """The first `num_cases` (sorted) unlabeled ids of the fold that are training cases, i.e. have a hidden label;
    images from imagesUnlabeled have none and are never monitored."""
    entry = load_splits(splits_file(preprocessed_dataset_folder_base))[fold]
    training = set(training_case_ids)
    return sorted(c for c in entry.get("unlabeled", []) if c in training)[:num_cases]


class PseudoLabelMonitor:
    """Narrow interface: the case ids, a loader `load_case(case) -> (image (C, ...), label (1, ...))`, the patch size
    and the number of classes; `run` gets the method's pseudo-label function. It knows nothing of trainers."""

    def __init__(self, cases: Sequence[str], load_case: Callable[[str], Tuple[np.ndarray, np.ndarray]],
                 patch_size: Sequence[int], num_classes: int):
        self.cases, self.load_case = list(cases), load_case
        self.patch_size, self.num_classes = list(patch_size), num_classes

    def _load(self, case: str):
        """(image crop, truth crop) or None when the label file is missing or unreadable."""
        try:
            data, seg = self.load_case(case)
            data, seg = np.asarray(data[:]), np.asarray(seg[:])
        except Exception:  # noqa: BLE001 - missing or corrupt: a report must never stop a training run
            return None
        if len(self.patch_size) == 2:  # 2d configuration: the middle slice
            data, seg = data[:, data.shape[1] // 2], seg[:, seg.shape[1] // 2]
        return center_crop(data, self.patch_size), np.clip(center_crop(seg, self.patch_size), 0, None)

    @torch.no_grad()
    def run(self, pseudo_labels: Callable, device, figure_path: Optional[str] = None,
            epoch: int = 0) -> Dict[str, torch.Tensor]:
        """pseudo_labels(images (B, C, ...)) -> (raw (B, 1, ...), corrected (B, 1, ...), mask of image 0 or None).
        Returns the mean foreground Dice of raw and corrected pseudo-labels; writes the PNG when figure_path."""
        loaded = [(c, x) for c in self.cases if (x := self._load(c)) is not None]
        if not loaded:
            return {}
        images = torch.from_numpy(np.stack([x[0] for _, x in loaded])).float().to(device)
        truth = np.stack([x[1][0] for _, x in loaded])
        raw, corrected, mask = pseudo_labels(images)
        raw_np, corrected_np = raw[:, 0].cpu().numpy(), corrected[:, 0].cpu().numpy()
        dice_raw = np.nanmean([foreground_dice(r, g, self.num_classes) for r, g in zip(raw_np, truth)])
        dice_corrected = np.nanmean([foreground_dice(r, g, self.num_classes) for r, g in zip(corrected_np, truth)])
        if figure_path is not None:
            from nnunetv2_pscm.methods.pscm.monitor_figure import save_pseudo_label_figure

            save_pseudo_label_figure(figure_path, images[0, 0].cpu().numpy(), raw_np[0], corrected_np[0],
                                     None if mask is None else mask[0, 0].cpu().numpy(), truth[0], loaded[0][0], epoch)
        return {"pl_dice_raw": torch.tensor(dice_raw), "pl_dice_corrected": torch.tensor(dice_corrected)}
