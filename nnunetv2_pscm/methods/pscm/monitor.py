"""Watch pseudo-label quality on unlabeled training cases whose labels exist but are hidden from training.

This is the ONLY code that reads a hidden label, and only to report: Dice of the raw teacher pseudo-label
and of the PSC-corrected one against the truth (logged every epoch as pl_dice_raw / pl_dice_corrected),
plus, every `monitor_every_epochs` epochs, a PNG of one slice (image, raw and corrected pseudo-label, BOM
mask, truth). Nothing it computes reaches a loss or a model. It is on by default in the PSCM trainers
(`monitor_hidden_labels`), off in nnUNetTrainerPSCM_noMonitor; it never looks at truly unlabeled images (they
have no label), and a case whose label file is missing or unreadable is silently left out (never a crash).
"""
import os
from typing import Dict, List

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


class PseudoLabelMonitor:
    def __init__(self, trainer):
        self.trainer = trainer
        self.cases = self._hidden_label_cases()

    def _hidden_label_cases(self) -> List[str]:
        t = self.trainer
        fold = load_splits(splits_file(t.preprocessed_dataset_folder_base))[t.fold]
        training_cases = set(t.dataset_class.get_identifiers(t.preprocessed_dataset_folder))
        hidden = [c for c in fold.get("unlabeled", []) if c in training_cases]  # imagesUnlabeled cases never
        return sorted(hidden)[:t.monitor_num_cases]

    def _load(self, case: str):
        """(image crop, truth crop) or None when the label file is not there."""
        t = self.trainer
        try:
            data, seg, _, _ = t.dataset_class(t.preprocessed_dataset_folder, [case]).load_case(case)
            data, seg = np.asarray(data[:]), np.asarray(seg[:])
        except Exception:  # noqa: BLE001 - missing or corrupt: a report must never stop a training run
            return None
        patch = list(t.configuration_manager.patch_size)
        if len(patch) == 2:  # 2d configuration: the middle slice
            data, seg = data[:, data.shape[1] // 2], seg[:, seg.shape[1] // 2]
        return center_crop(data, patch), np.clip(center_crop(seg, patch), 0, None)

    @torch.no_grad()
    def run(self, epoch: int) -> Dict[str, torch.Tensor]:
        t = self.trainer
        if not self.cases or t.ssl_step < t.pretrain_length():
            return {}
        loaded = [(c, x) for c in self.cases if (x := self._load(c)) is not None]
        if not loaded:
            return {}
        images = torch.from_numpy(np.stack([x[0] for _, x in loaded])).float().to(t.device)
        truth = np.stack([x[1][0] for _, x in loaded])
        probs, features, encoder_features = t.teacher_pass(images)
        raw = probs.argmax(1, keepdim=True)
        corrected, _ = t.pseudo_labels(probs, features, {})
        n_classes = t.label_manager.num_segmentation_heads
        raw_np, corrected_np = raw[:, 0].cpu().numpy(), corrected[:, 0].cpu().numpy()
        dice_raw = np.nanmean([foreground_dice(r, g, n_classes) for r, g in zip(raw_np, truth)])
        dice_corrected = np.nanmean([foreground_dice(r, g, n_classes) for r, g in zip(corrected_np, truth)])
        if t.local_rank == 0 and (epoch % t.monitor_every_epochs == 0 or epoch == t.num_epochs - 1):
            mask = t._mask(encoder_features[:1], probs[:1], corrected[:1], images.shape[2:], {}) \
                if (t.use_bom or t.use_aud) else None
            from nnunetv2_pscm.methods.pscm.monitor_figure import save_pseudo_label_figure

            save_pseudo_label_figure(os.path.join(t.output_folder, f"pseudo_labels_epoch_{epoch:04d}.png"),
                                     images[0, 0].cpu().numpy(), raw_np[0], corrected_np[0],
                                     None if mask is None else mask[0, 0].cpu().numpy(), truth[0], loaded[0][0], epoch)
        return {"pl_dice_raw": torch.tensor(dice_raw), "pl_dice_corrected": torch.tensor(dice_corrected)}

