"""Watch pseudo-label quality on unlabeled training cases whose labels exist but are hidden from training.

This is the ONLY code that reads a hidden label, and only to report, every self-training epoch:
- Dice of the raw teacher pseudo-label (argmax), of the cleaned one (threshold + largest component, the BCP base's
  step; pl_dice_cleaned) and of the PSC-corrected one against the truth (pl_dice_raw / pl_dice_corrected);
- whether PSC's reliability map finds wrong voxels: among the confident voxels, the error rate of those PSC
  down-weights or ignores (psc_flagged_error_rate), of those it leaves at full weight (psc_kept_error_rate) and
  the share it flags (psc_flagged_fraction). PSC's hard changes (component removal) are only part of what it does;
  its weighting is the other part, and a flagged error rate above the kept one is what says the weighting helps;
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


def reliability_scores(labels: np.ndarray, truth: np.ndarray, confidence: np.ndarray,
                       weight: np.ndarray) -> Dict[str, torch.Tensor]:
    """Among voxels with confidence > 0: the share the correction flagged (weight below confidence), the error
    rate of the flagged and of the kept voxels (NaN when a group is empty)."""
    considered = confidence > 0
    flagged = considered & (weight < confidence)
    kept = considered & ~flagged
    wrong = labels != truth

    def rate(group):
        return float(wrong[group].mean()) if group.any() else NAN

    share = float(flagged.sum() / considered.sum()) if considered.any() else NAN
    return {"psc_flagged_fraction": torch.tensor(share), "psc_flagged_error_rate": torch.tensor(rate(flagged)),
            "psc_kept_error_rate": torch.tensor(rate(kept))}


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
        """pseudo_labels(images (B, C, ...)) -> dict with 'raw' and 'corrected' (B, 1, ...) integer maps and
        optionally 'cleaned' (B, 1, ...), 'confidence' and 'weight' (B, 1, ...) training weights before and after
        the correction, 'mask' (the BOM mask of image 0). Returns the scores above; writes the PNG when
        figure_path."""
        loaded = [(c, x) for c in self.cases if (x := self._load(c)) is not None]
        if not loaded:
            return {}
        images = torch.from_numpy(np.stack([x[0] for _, x in loaded])).float().to(device)
        truth = np.stack([x[1][0] for _, x in loaded])
        out = pseudo_labels(images)
        maps = {k: out[k][:, 0].cpu().numpy() for k in ("raw", "cleaned", "corrected", "confidence", "weight")
                if out.get(k) is not None}
        raw_np, corrected_np, mask = maps["raw"], maps["corrected"], out.get("mask")
        logs = {f"pl_dice_{k}": torch.tensor(np.nanmean([foreground_dice(p, g, self.num_classes)
                                                         for p, g in zip(maps[k], truth)]))
                for k in ("raw", "cleaned", "corrected") if k in maps}
        if "confidence" in maps and "weight" in maps:
            logs.update(reliability_scores(corrected_np, truth, maps["confidence"], maps["weight"]))
        if figure_path is not None:
            from nnunetv2_pscm.methods.pscm.monitor_figure import save_pseudo_label_figure

            save_pseudo_label_figure(figure_path, images[0, 0].cpu().numpy(), raw_np[0], corrected_np[0],
                                     None if mask is None else mask[0, 0].cpu().numpy(), truth[0], loaded[0][0], epoch)
        return logs
