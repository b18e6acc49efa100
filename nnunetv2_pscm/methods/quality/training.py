"""Stage 0 + stage 1 of QG-SSL (spec section 3.3): build one fold's quality predictor from its LABELED cases.

The library behind `nnUNetv2_pscm_train_quality`. What the paper confirms [PAPER summaries, spec 3.2]: a ResNet-18
predictor of a DSC-like score, trained on image-mask pairs made by corrupting the ground truth and by running
partially trained segmentation models, reported with Spearman rho and MAE. Everything below is our reconstruction
[INF], each choice a named field of `QualityTrainingSettings` or a module constant:

* **Data.** The configuration's nnU-Net PREPROCESSED cases (so the intensities are normalised exactly as by the
  plans), loaded with nnU-Net's own dataset class (`infer_dataset_class`, as nnUNetTrainer does). Training cases are
  the fold's ``train`` list of ``splits_final.json`` (the labeled cases); validation cases its ``val`` list. The
  fold's ``unlabeled`` list is never looked at: neither the image nor the segmentation (nor the ``.pkl``, whose
  class locations derive from the label) of an unlabeled case is opened.
* **Patches.** One patch of the configuration's patch size (grown to 64 per axis only where every axis is <= 32,
  which QualityNet cannot take: `quality_patch_size`) per case (``patches_per_case``), centred on a foreground
  voxel drawn at random (the image centre when a case has no foreground), zero-padded where the case is smaller;
  a 2D configuration takes the patch from the axial slice (axis 0, as nnU-Net's 2D loader) holding that voxel.
  Patches are cut ONCE, before training (no re-cropping per epoch): the corruption sampling is the expensive part
  and is done once per patch. Each training batch is augmented (``augment``, on by default since 2026-12-07) with
  transforms that keep the Dice target exact: mirroring of image and mask together and intensity changes of the
  image, and a random translation of image, mask and truth together (``max_shift_fraction`` of the patch per axis,
  zero fill) whose target is recomputed, so a case is not seen at one position only (`augmentation.py`, which
  says why and what is left out); validation masks are never augmented. Cutting
  patches bounds memory to cases x patch voxels (images float32, masks uint8) whatever the size of the original
  images. nnU-Net's ``-1`` (outside the nonzero crop) becomes background.
* **Masks and targets.** Per patch, ``samples_per_case`` masks chosen by `BalancedTargetSampler` (``num_bins`` bins,
  ``ceil(K / bins)`` per bin, at most ``max_draws_per_sample`` x K candidates; if more than K are kept, K of them are
  drawn at random) from, first, the ``--bank`` checkpoints' predictions of the patch and then random corruption
  chains of the truth (`RandomCorruption`). The target is the per-class Dice against the truth of the patch
  (`dice_per_class`). Validation masks are corruptions only (same sampler, a fixed seed), so rho and MAE of
  different runs and banks are comparable.
* **Bank.** ``bank`` = nnU-Net checkpoints (``checkpoint_*.pth``) trained with THE SAME plans and configuration
  (checked). Each network is rebuilt with its trainer class's ``build_network_architecture`` from the checkpoint's
  ``trainer_name`` / ``init_args`` (as nnUNetv2_predict does), run once on each training patch (no sliding window,
  no mirroring) and its argmax is offered to the sampler. Bank masks are candidates like any other: they are kept
  when their Dice bin still has room. They are made for training patches only.
* **Optimisation.** QualityNet (``width``, ``blocks_per_stage``, ``stem_kernel``), Adam (``learning_rate``,
  ``weight_decay``), MSE between predicted and true per-class Dice, plus ``ranking_weight`` x a pairwise margin
  ranking loss on the per-sample mean Dice within a batch (0 = off; Quality Sentinel uses ranking + MSE [REL]).
  The weights saved are those of the LAST epoch (no model selection). Validation runs every ``val_every`` epochs
  and always after the last one (its numbers are the predictor's); the validated epochs' numbers are kept. Scoring
  all validation masks each epoch cost more than the epoch's training on LA (1279 validation masks against a few
  hundred training ones), and nothing is selected from the intermediate numbers: they only show the curve.
* **Validation numbers.** ``val_spearman_rho``: Spearman rho (`scipy.stats.spearmanr`) between predicted and true
  MEAN foreground Dice over all validation masks; ``val_mae``: mean absolute error over all (mask, class) entries.
* **Output.** ``<nnUNet_results>/<Dataset>/quality_<plans>__<configuration>/fold_F/`` (`quality_folder_name`):
  ``quality_predictor.pth`` (written to a temporary file, then renamed) and ``quality_training_log.txt``. An
  existing predictor is kept unless ``overwrite``.

Not supported (clear errors): region-based datasets and datasets with an ignore label.
"""
import importlib
import inspect
import math
import os
import time
from dataclasses import asdict, dataclass, field
from os.path import isdir, isfile, join
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from batchgenerators.utilities.file_and_folder_operations import load_json

from nnunetv2_pscm.data import split_file as sf
from nnunetv2_pscm.data.locations import dataset_name, preprocessed_dataset_folder, splits_file
from nnunetv2_pscm.methods.quality.augmentation import (augment_batch, quality_training_augmentation, random_shift,
                                                        shift_sample)
from nnunetv2_pscm.methods.quality.corruptions import RandomCorruption, dice_per_class
from nnunetv2_pscm.methods.quality.network import QualityNet
from nnunetv2_pscm.methods.quality.targets import BalancedTargetSampler

PREDICTOR_FILENAME = "quality_predictor.pth"
LOG_FILENAME = "quality_training_log.txt"
VALIDATION_SEED_OFFSET = 1_000_003  # validation masks come from seed + this: fixed whatever the training draws


class QualityTrainingError(ValueError):
    """Input that cannot train a quality predictor; the message names the file, fold or option to fix."""


def quality_folder_name(plans_identifier: str, configuration: str) -> str:
    """The one place that names a quality predictor's folder inside nnUNet_results/DatasetXXX/."""
    return f"quality_{plans_identifier}__{configuration}"


def quality_output_folder(dataset, plans_identifier: str, configuration: str, fold: int) -> str:
    from nnunetv2.paths import nnUNet_results

    if not nnUNet_results.is_set():
        raise RuntimeError("The environment variable nnUNet_results is not set (see nnU-Net's documentation).")
    return join(os.fspath(nnUNet_results), dataset_name(dataset), quality_folder_name(plans_identifier, configuration),
                f"fold_{fold}")


@dataclass
class QualityTrainingSettings:
    epochs: int = 50
    samples_per_case: int = 20  # K masks per patch
    patches_per_case: int = 1
    num_bins: int = 10
    max_draws_per_sample: int = 10  # candidate budget of the sampler: this x K per patch
    batch_size: int = 8
    learning_rate: float = 3e-4
    weight_decay: float = 0.0
    ranking_weight: float = 0.0  # pairwise ranking term on the mean Dice (0 = MSE only)
    ranking_margin: float = 0.0
    width: int = 32  # QualityNet first-stage channels (ResNet-18: 64)
    blocks_per_stage: Tuple[int, ...] = (2, 2, 2, 2)
    stem_kernel: int = 7
    small_patch_growth: int = 64  # see `quality_patch_size`
    seed: int = 0
    val_every: int = 5  # validate every this many epochs, and after the last one
    augment: bool = True  # Dice-preserving mirroring + intensity augmentation of training batches (augmentation.py)
    max_shift_fraction: float = 0.25  # with augment: shift each sample by up to this x patch per axis (0 = off)
    corruption: RandomCorruption = field(default_factory=RandomCorruption)


@dataclass
class _Fold:
    train: List[str]
    val: List[str]


@dataclass
class QualityData:
    """Patches (float32 images and their truths, shared by their masks) and (patch index, mask, per-class Dice)
    samples. ``truths`` (one per patch) are needed only to shift samples (`batch`); ``num_classes`` counts the
    background."""
    images: List[np.ndarray] = field(default_factory=list)
    patch_of_sample: List[int] = field(default_factory=list)
    masks: List[np.ndarray] = field(default_factory=list)
    targets: List[np.ndarray] = field(default_factory=list)
    from_bank: int = 0
    truths: List[np.ndarray] = field(default_factory=list)
    num_classes: int = 0

    def __len__(self) -> int:
        return len(self.masks)

    def batch(self, indices: Sequence[int], device: torch.device, augmentation=None, max_shift_fraction: float = 0.0,
              rng: Optional[np.random.Generator] = None) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(image, mask, target) of the samples. ``max_shift_fraction`` > 0: each sample shifted by its own random
        offset (``rng``), target recomputed (`augmentation.shift_sample`); then ``augmentation``
        (`quality_training_augmentation`) per sample."""
        images = [self.images[self.patch_of_sample[i]] for i in indices]
        masks = [self.masks[i] for i in indices]
        targets = [self.targets[i] for i in indices]
        if max_shift_fraction > 0:
            if rng is None or len(self.truths) != len(self.images) or self.num_classes < 2:
                raise ValueError("shifting samples needs an rng, one truth per patch and num_classes")
            shifted = [shift_sample(images[k], masks[k], self.truths[self.patch_of_sample[i]],
                                    random_shift(masks[k].shape, max_shift_fraction, rng), self.num_classes)
                       for k, i in enumerate(indices)]
            images, masks, targets = (list(x) for x in zip(*shifted))
        image = torch.from_numpy(np.stack(images))
        mask = torch.from_numpy(np.stack(masks).astype(np.int64))[:, None]
        if augmentation is not None:
            image, mask = augment_batch(augmentation, image, mask)
        target = torch.from_numpy(np.stack(targets).astype(np.float32))
        return image.to(device), mask.to(device), target.to(device)


# ---------------------------------------------------------------- plans, split, data


def read_plans(dataset, plans_identifier: str, configuration: str):
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    pp_folder = preprocessed_dataset_folder(dataset)
    plans_file = join(pp_folder, plans_identifier + ".json")
    if not isfile(plans_file):
        raise QualityTrainingError(f"No plans file {plans_file} (option -p {plans_identifier}). Run "
                                   f"`nnUNetv2_plan_and_preprocess -d {dataset}` (or check -p).")
    plans_manager = PlansManager(plans_file)
    if configuration not in plans_manager.available_configurations:
        raise QualityTrainingError(f"Configuration '{configuration}' (option -c) is not in {plans_file}; available: "
                                   f"{plans_manager.available_configurations}.")
    configuration_manager = plans_manager.get_configuration(configuration)
    data_folder = join(pp_folder, configuration_manager.data_identifier)
    if not isdir(data_folder):
        raise QualityTrainingError(f"No preprocessed data folder {data_folder} for -c {configuration} -p "
                                   f"{plans_identifier}. Run `nnUNetv2_preprocess -d {dataset} -c {configuration} "
                                   f"-plans_name {plans_identifier}` first.")
    dataset_json = load_json(join(pp_folder, "dataset.json"))
    label_manager = plans_manager.get_label_manager(dataset_json)
    if label_manager.has_regions:
        raise QualityTrainingError(f"{join(pp_folder, 'dataset.json')} is region-based: the quality predictor "
                                   f"regresses per-class Dice of label maps and does not support regions.")
    if label_manager.has_ignore_label:
        raise QualityTrainingError(f"{join(pp_folder, 'dataset.json')} has an ignore label: not supported by the "
                                   f"quality predictor (its Dice targets would count ignored voxels).")
    return pp_folder, plans_manager, configuration_manager, data_folder, dataset_json, label_manager


def read_fold_entry(pp_folder: str, fold: int) -> Tuple[dict, str]:
    """(the fold's entry of splits_final.json, the file's path); errors name the file and the option."""
    path = splits_file(pp_folder)
    try:
        folds = sf.load_splits(path)
    except sf.SplitError as e:
        raise QualityTrainingError(str(e)) from e
    if not 0 <= fold < len(folds):
        raise QualityTrainingError(f"Fold {fold} (option -f) is not in {path}: it has {len(folds)} fold(s), "
                                   f"0..{len(folds) - 1}.")
    return folds[fold], path


def _read_fold(pp_folder: str, fold: int) -> _Fold:
    entry, path = read_fold_entry(pp_folder, fold)
    if not entry["train"]:
        raise QualityTrainingError(f"Fold {fold} of {path} has no labeled training cases (its 'train' list is empty).")
    if not entry["val"]:
        raise QualityTrainingError(f"Fold {fold} of {path} has no validation cases (its 'val' list is empty): rho "
                                   f"and MAE are reported on them.")
    return _Fold(sorted(entry["train"]), sorted(entry["val"]))


def _load_labeled_case(dataset_obj, data_folder: str, case: str) -> Tuple[np.ndarray, np.ndarray]:
    if not any(isfile(join(data_folder, case + e)) for e in (".b2nd", ".npz", ".npy")):
        raise QualityTrainingError(f"Case '{case}' of the split has no preprocessed file in {data_folder}.")
    data, seg, _, _ = dataset_obj.load_case(case)
    seg = np.asarray(seg[0])
    return np.asarray(data, dtype=np.float32), np.where(seg < 0, 0, seg).astype(np.uint8)


def _pad_crop(array: np.ndarray, centre: Sequence[int], size: Sequence[int]) -> np.ndarray:
    """Crop ``size`` around ``centre`` from the trailing axes of ``array`` (leading axes kept), zero-padded."""
    lead = array.ndim - len(size)
    out = np.zeros(array.shape[:lead] + tuple(size), dtype=array.dtype)
    src, dst = [slice(None)] * lead, [slice(None)] * lead
    for c, s, n in zip(centre, size, array.shape[lead:]):
        lo = int(c) - s // 2
        a, b = max(lo, 0), min(lo + s, n)
        src.append(slice(a, b))
        dst.append(slice(a - lo, b - lo))
    out[tuple(dst)] = array[tuple(src)]
    return out


def quality_patch_size(configuration_patch_size: Sequence[int], small_patch_growth: int = 64) -> Tuple[int, ...]:
    """The configuration's patch size, unless QualityNet (which downsamples by 32) would refuse it: when every axis
    is <= 32 (e.g. tiny CPU plans), every axis below ``small_patch_growth`` grows to it (zero-padded where the case
    is smaller). The bank networks then run on this patch too (64 is divisible by nnU-Net's usual strides)."""
    patch = tuple(int(s) for s in configuration_patch_size)
    downsampling = 4 * math.prod(QualityNet.stage_strides)
    if all(s <= downsampling for s in patch):
        if small_patch_growth <= downsampling:
            raise QualityTrainingError(f"patch size {patch} is too small for QualityNet (which needs an axis > "
                                       f"{downsampling}) and small_patch_growth={small_patch_growth} cannot fix it")
        patch = tuple(max(s, small_patch_growth) for s in patch)
    return patch


def cut_patch(image: np.ndarray, seg: np.ndarray, patch_size: Sequence[int],
              rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """(c, *patch) image and (*patch) seg around a random foreground voxel (the centre without foreground).

    ``image`` (c, *spatial), ``seg`` (*spatial); a 2D ``patch_size`` on 3D data takes the axial slice (axis 0)."""
    foreground = np.flatnonzero(seg > 0)
    voxel = np.unravel_index(rng.choice(foreground), seg.shape) if len(foreground) else \
        tuple(s // 2 for s in seg.shape)
    if len(patch_size) == seg.ndim - 1:
        image, seg, voxel = image[:, voxel[0]], seg[voxel[0]], voxel[1:]
    if len(patch_size) != seg.ndim:
        raise QualityTrainingError(f"patch size {tuple(patch_size)} does not fit preprocessed data of shape "
                                   f"{seg.shape}")
    return _pad_crop(image, voxel, patch_size), _pad_crop(seg, voxel, patch_size)


# ---------------------------------------------------------------- checkpoint bank


def _find_trainer_class(trainer_name: str, checkpoint_file: str):
    from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name

    try:
        return recursive_find_trainer_class_by_name(trainer_name)
    except (RuntimeError, AssertionError):
        try:  # our own trainers without nnUNet_extTrainer, and `<Trainer>_<E>ep<I>it` schedule variants
            return getattr(importlib.import_module(f"nnunetv2_pscm.trainers.{trainer_name}"), trainer_name)
        except (ImportError, AttributeError):
            pass
        try:
            return getattr(importlib.import_module("nnunetv2_pscm.trainers.schedule_variants"), trainer_name)
        except (ImportError, AttributeError, RuntimeError, AssertionError):
            raise QualityTrainingError(f"--bank {checkpoint_file}: trainer class '{trainer_name}' not found in nnU-Net "
                                       f"nor in nnunetv2_pscm.trainers (set nnUNet_extTrainer if it lives "
                                       f"elsewhere).") from None


class BankNetwork:
    """One --bank checkpoint as a network: ``predict(image (c, *patch)) -> argmax label map (*patch)``."""

    def __init__(self, checkpoint_file: str, plans_identifier: str, configuration: str, device: torch.device):
        from nnunetv2.utilities.label_handling.label_handling import determine_num_input_channels
        from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

        from nnunetv2_pscm.training.checkpoint_files import CheckpointError, read_checkpoint

        try:
            checkpoint = read_checkpoint(checkpoint_file, map_location="cpu")
        except CheckpointError as e:
            raise QualityTrainingError(f"--bank: {e}") from e
        init_args = checkpoint.get("init_args", {})
        if "plans" not in init_args or "trainer_name" not in checkpoint:
            raise QualityTrainingError(f"--bank {checkpoint_file} has no init_args/trainer_name: not a checkpoint of "
                                       f"nnUNetv2_train.")
        got = (init_args["plans"].get("plans_name"), init_args.get("configuration"))
        if got != (plans_identifier, configuration):
            raise QualityTrainingError(f"--bank {checkpoint_file} was trained with plans '{got[0]}', configuration "
                                       f"'{got[1]}'; the predictor is built for '{plans_identifier}', "
                                       f"'{configuration}' (the same normalisation and patch are needed).")
        plans_manager = PlansManager(init_args["plans"])
        configuration_manager = plans_manager.get_configuration(configuration)
        dataset_json = init_args["dataset_json"]
        trainer_class = _find_trainer_class(checkpoint["trainer_name"], checkpoint_file)
        channels = (determine_num_input_channels(plans_manager, configuration_manager, dataset_json),
                    plans_manager.get_label_manager(dataset_json).num_segmentation_heads)
        # both signatures, as nnUNetv2_predict (inference/predict_from_raw_data.py) handles them
        if "plans_manager" in inspect.signature(trainer_class.build_network_architecture).parameters:
            network = trainer_class.build_network_architecture(plans_manager, configuration_manager, *channels,
                                                               enable_deep_supervision=False)
        else:
            network = trainer_class.build_network_architecture(
                configuration_manager.network_arch_class_name, configuration_manager.network_arch_init_kwargs,
                configuration_manager.network_arch_init_kwargs_req_import, *channels, enable_deep_supervision=False)
        weights = {k[len("_orig_mod."):] if k.startswith("_orig_mod.") else k: v
                   for k, v in checkpoint["network_weights"].items()}
        try:
            network.load_state_dict(weights)
        except RuntimeError as e:
            raise QualityTrainingError(f"--bank {checkpoint_file}: its weights do not fit the network of its plans "
                                       f"({str(e).splitlines()[0]}).") from e
        self.file, self.network, self.device = checkpoint_file, network.to(device).eval(), device

    @torch.no_grad()
    def predict(self, image: np.ndarray) -> np.ndarray:
        logits = self.network(torch.from_numpy(image)[None].to(self.device))
        return logits[0].argmax(0).cpu().numpy().astype(np.uint8)


# ---------------------------------------------------------------- samples


def _mask_candidates(bank_masks: List[np.ndarray], truth: np.ndarray, num_classes: int,
                     corruption: RandomCorruption, rng: np.random.Generator) -> Iterator[np.ndarray]:
    yield from bank_masks
    while True:
        yield corruption(truth, rng, num_classes)


def make_samples(images: List[np.ndarray], truths: List[np.ndarray], num_classes: int,
                 settings: QualityTrainingSettings, rng: np.random.Generator,
                 bank: Sequence[BankNetwork] = ()) -> QualityData:
    """K balanced masks (bank predictions first, then corruptions) with their per-class Dice, per patch."""
    k = settings.samples_per_case
    bins = max(1, min(settings.num_bins, k))
    sampler = BalancedTargetSampler(num_bins=bins, per_bin=math.ceil(k / bins),
                                    max_draws=max(1, settings.max_draws_per_sample * k))
    data = QualityData(images=list(images), truths=list(truths), num_classes=int(num_classes))
    for p, truth in enumerate(truths):
        bank_masks = [b.predict(images[p]) for b in bank]
        bank_ids = {id(m) for m in bank_masks}
        kept = sampler.sample(truth, _mask_candidates(bank_masks, truth, num_classes, settings.corruption, rng),
                              num_classes, rng)
        order = rng.permutation(len(kept.masks))[:k] if len(kept.masks) > k else range(len(kept.masks))
        for i in order:
            data.patch_of_sample.append(p)
            data.masks.append(np.asarray(kept.masks[i], dtype=np.uint8))
            data.targets.append(kept.targets[i].astype(np.float32))
            data.from_bank += id(kept.masks[i]) in bank_ids
    return data


def _patches(cases: Sequence[str], dataset_obj, data_folder: str, patch_size, settings, rng):
    images, truths = [], []
    for case in cases:
        image, seg = _load_labeled_case(dataset_obj, data_folder, case)
        for _ in range(settings.patches_per_case):
            patch_image, patch_seg = cut_patch(image, seg, patch_size, rng)
            images.append(np.ascontiguousarray(patch_image, dtype=np.float32))
            truths.append(patch_seg)
    return images, truths


# ---------------------------------------------------------------- training


def pairwise_ranking_loss(pred: torch.Tensor, target: torch.Tensor, margin: float = 0.0) -> torch.Tensor:
    """mean over pairs (i, j) with target_i > target_j of relu(margin - (pred_i - pred_j)), on the mean Dice."""
    p, t = pred.mean(1), target.mean(1)
    order = (t[:, None] > t[None, :]).float()
    if order.sum() == 0:
        return pred.sum() * 0.0
    return (torch.relu(margin - (p[:, None] - p[None, :])) * order).sum() / order.sum()


@torch.no_grad()
def evaluate(net: QualityNet, data: QualityData, batch_size: int, device: torch.device) -> Dict[str, float]:
    from scipy.stats import spearmanr

    net.eval()
    preds = []
    for start in range(0, len(data), batch_size):
        image, mask, _ = data.batch(range(start, min(start + batch_size, len(data))), device)
        preds.append(net(image, mask).float().cpu().numpy())
    pred, target = np.concatenate(preds), np.stack(data.targets)
    rho = spearmanr(pred.mean(1), target.mean(1))[0] if len(data) > 1 else float("nan")
    return {"val_spearman_rho": float(rho), "val_mae": float(np.abs(pred - target).mean())}


def _device(name: Optional[str]) -> torch.device:
    if name is None:
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name not in ("cpu", "cuda"):
        raise QualityTrainingError(f"--device must be cpu or cuda, got {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise QualityTrainingError("--device cuda was asked for but torch sees no CUDA device; use --device cpu.")
    return torch.device(name)


def train_quality_predictor(dataset, configuration: str, fold: int, plans_identifier: str = "nnUNetPlans",
                            settings: Optional[QualityTrainingSettings] = None, bank: Sequence[str] = (),
                            device: Optional[str] = None, overwrite: bool = False, verbose: bool = True) -> str:
    """Build the fold's predictor (see the module docstring) and return the path of ``quality_predictor.pth``."""
    settings = settings if settings is not None else QualityTrainingSettings()
    if min(settings.epochs, settings.samples_per_case, settings.batch_size, settings.patches_per_case,
           settings.val_every) < 1:
        raise QualityTrainingError(f"--epochs, --samples-per-case, batch size, patches per case and --val-every must "
                                   f"be >= 1, got {settings.epochs}, {settings.samples_per_case}, "
                                   f"{settings.batch_size}, {settings.patches_per_case}, {settings.val_every}")
    if not 0 <= settings.max_shift_fraction < 1:
        raise QualityTrainingError(f"--max-shift must be in [0, 1) (a fraction of the patch), got "
                                   f"{settings.max_shift_fraction}")
    torch_device = _device(device)
    pp_folder, plans_manager, cm, data_folder, dataset_json, label_manager = read_plans(
        dataset, plans_identifier, configuration)
    split = _read_fold(pp_folder, fold)
    out_folder = quality_output_folder(dataset, plans_identifier, configuration, fold)
    out_file = join(out_folder, PREDICTOR_FILENAME)
    if isfile(out_file) and not overwrite:
        raise QualityTrainingError(f"{out_file} already exists. Pass --overwrite to replace it.")
    bank_nets = [BankNetwork(f, plans_identifier, configuration, torch_device) for f in bank]

    from nnunetv2.training.dataloading.nnunet_dataset import infer_dataset_class

    num_classes = label_manager.num_segmentation_heads
    patch_size = quality_patch_size(cm.patch_size, settings.small_patch_growth)
    # identifiers are given, so the dataset class never lists the folder (nor touches an unlabeled case)
    dataset_obj = infer_dataset_class(data_folder)(data_folder, identifiers=split.train + split.val)
    rng = np.random.default_rng(settings.seed)
    val_rng = np.random.default_rng(settings.seed + VALIDATION_SEED_OFFSET)
    t0 = time.time()
    train_data = make_samples(*_patches(split.train, dataset_obj, data_folder, patch_size, settings, rng),
                              num_classes, settings, rng, bank_nets)
    val_data = make_samples(*_patches(split.val, dataset_obj, data_folder, patch_size, settings, val_rng),
                            num_classes, settings, val_rng)
    del bank_nets

    network_kwargs = {"image_channels": int(train_data.images[0].shape[0]), "num_classes": int(num_classes),
                      "dims": len(patch_size), "width": settings.width,
                      "blocks_per_stage": tuple(settings.blocks_per_stage), "stem_kernel": settings.stem_kernel}
    torch.manual_seed(settings.seed)
    np.random.seed(settings.seed)  # batchgeneratorsv2's contrast and gamma draw from numpy's global generator
    augmentation = quality_training_augmentation(len(patch_size)) if settings.augment else None
    max_shift = settings.max_shift_fraction if settings.augment else 0.0
    net = QualityNet(**network_kwargs).to(torch_device)
    optimizer = torch.optim.Adam(net.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)

    os.makedirs(out_folder, exist_ok=True)
    log_file = join(out_folder, LOG_FILENAME)

    def log(line: str, mode: str = "a") -> None:
        if verbose:
            print(line, flush=True)
        with open(log_file, mode) as f:
            f.write(line + "\n")

    log(f"quality predictor: {dataset_name(dataset)} {plans_identifier} {configuration} fold {fold}, patch "
        f"{patch_size}, {len(split.train)} labeled training cases -> {len(train_data)} masks "
        f"({train_data.from_bank} from {len(bank)} bank checkpoint(s)), {len(split.val)} validation cases -> "
        f"{len(val_data)} masks; sampling took {time.time() - t0:.1f} s; device {torch_device}", mode="w")
    history = []
    for epoch in range(settings.epochs):
        net.train()
        t_epoch, losses = time.time(), []
        order = rng.permutation(len(train_data))
        for start in range(0, len(order), settings.batch_size):
            image, mask, target = train_data.batch(order[start:start + settings.batch_size], torch_device,
                                                   augmentation, max_shift, rng)
            pred = net(image, mask)
            loss = torch.nn.functional.mse_loss(pred, target)
            if settings.ranking_weight > 0:
                loss = loss + settings.ranking_weight * pairwise_ranking_loss(pred, target, settings.ranking_margin)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        train_loss = float(np.mean(losses))
        if (epoch + 1) % settings.val_every and epoch != settings.epochs - 1:
            log(f"epoch {epoch}: train_loss {train_loss:.5f}  ({time.time() - t_epoch:.1f} s)")
            continue
        metrics = {"epoch": epoch, "train_loss": train_loss,
                   **evaluate(net, val_data, settings.batch_size, torch_device)}
        history.append(metrics)
        log(f"epoch {epoch}: train_loss {metrics['train_loss']:.5f}  val_mae {metrics['val_mae']:.4f}  "
            f"val_spearman_rho {metrics['val_spearman_rho']:.4f}  ({time.time() - t_epoch:.1f} s, with validation)")

    settings_record = asdict(settings)
    settings_record["corruption"] = asdict(settings.corruption)
    predictor = {
        "state_dict": {k: v.cpu() for k, v in net.state_dict().items()},
        "network_kwargs": network_kwargs,
        "dataset_name": dataset_name(dataset), "plans_identifier": plans_identifier, "configuration": configuration,
        "data_identifier": cm.data_identifier, "fold": fold, "patch_size": patch_size,
        "configuration_patch_size": tuple(int(x) for x in cm.patch_size),
        "val_spearman_rho": history[-1]["val_spearman_rho"], "val_mae": history[-1]["val_mae"], "history": history,
        "settings": settings_record, "bank": [os.path.abspath(f) for f in bank],
        "train_cases": split.train, "val_cases": split.val,
        "num_train_samples": len(train_data), "num_bank_samples": train_data.from_bank,
        "num_val_samples": len(val_data),
    }
    temporary = out_file + ".tmp"
    torch.save(predictor, temporary)
    os.replace(temporary, out_file)
    log(f"wrote {out_file}")
    return out_file


def load_quality_predictor(path: str, map_location="cpu") -> Tuple[QualityNet, dict]:
    """(QualityNet in eval mode with the saved weights, the saved record) of a ``quality_predictor.pth``."""
    if not isfile(path):
        raise QualityTrainingError(f"No quality predictor at {path}; build it with `nnUNetv2_pscm_train_quality`.")
    record = torch.load(path, map_location=map_location, weights_only=False)
    if not isinstance(record, dict) or "state_dict" not in record or "network_kwargs" not in record:
        raise QualityTrainingError(f"{path} is not a quality predictor written by nnUNetv2_pscm_train_quality.")
    net = QualityNet(**record["network_kwargs"])
    net.load_state_dict(record["state_dict"])
    return net.eval(), record
