"""nnUNetTrainerSSL: the one place that touches nnU-Net trainer internals.

Per iteration: one labeled batch (stock loader, stock augmentation, deep supervision as usual) and one
unlabeled batch (same patch size and augmentation family, random crops, no label read). A method only
implements `compute_loss(labeled, unlabeled) -> (loss, logs)` (and, if it needs them,
`build_extra_modules` / `configure_extra_optimizers` / `method_state_dict`). This base class owns:
autocast, the single backward, gradient averaging across ranks, clipping, the optimizer step, the EMA
teacher update, logging of every SSL term (nnU-Net's logger + `progress_ssl.png`), and checkpoint/resume
of all extra state under the `ssl_state` key.

Exported weights: `network_weights` in every checkpoint is the STUDENT, i.e. nnU-Net's stock
architecture for the plans, so `nnUNetv2_predict -tr <ours>` needs nothing of ours but the class name.
The EMA teacher and extra modules are training-only and are saved under `ssl_state` for `--c`.

Warm start: `nnUNetv2_train ... -tr <ours> -pretrained_weights <labeled-only checkpoint_final.pth>` (the stock flag)
starts semi-supervised training from that model: the teacher is a copy of it and averages with `ema_alpha` from
the first step (no EMA warm-up that would forget it), and `warm_started` is True (methods skip their labeled-only
pretraining). nnU-Net's loader leaves the segmentation heads (`seg_layers`) at their random initialisation (it is
made for transfer to other label sets); here the labels are the same, so the heads are restored too.
"""
import argparse
import os
import sys
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from batchgenerators.dataloading.nondet_multi_threaded_augmenter import NonDetMultiThreadedAugmenter
from batchgenerators.dataloading.single_threaded_augmenter import SingleThreadedAugmenter
from batchgenerators.utilities.file_and_folder_operations import join
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
from nnunetv2.training.lr_scheduler.polylr import PolyLRScheduler
from nnunetv2.utilities.default_n_proc_DA import get_allowed_n_proc_DA
from nnunetv2.utilities.helpers import dummy_context
from torch import autocast, nn
from torch import distributed as dist
from torch._dynamo import OptimizedModule

from nnunetv2_pscm.components.ema import EMATeacher
from nnunetv2_pscm.components.feature_hooks import encoder_stages
from nnunetv2_pscm.data.augmentation_views import split_geometric_photometric
from nnunetv2_pscm.data.locations import splits_file, unlabeled_preprocessed_folder
from nnunetv2_pscm.data.preprocessing_record import check_preprocessing_record
from nnunetv2_pscm.data.split_file import SplitError, load_splits, validate_ssl_fold
from nnunetv2_pscm.data.unlabeled_dataset import UnlabeledImageDataset
from nnunetv2_pscm.data.unlabeled_loader import nnUNetUnlabeledDataLoader
from nnunetv2_pscm.data.unlabeled_preprocessing import list_preprocessed_unlabeled_ids
from nnunetv2_pscm.training.checkpoint_files import read_checkpoint, write_checkpoint_atomically
from nnunetv2_pscm.training.ddp import all_reduce_gradients, all_reduce_mean, broadcast_module, per_rank_batch_size
from nnunetv2_pscm.training.ssl_progress_plot import plot_ssl_progress

SSL_STATE_KEY = "ssl_state"


class nnUNetTrainerSSL(nnUNetTrainer):
    # ---- hyper-parameters: a variant is a subclass that changes one of these ----
    unlabeled_batch_size: Optional[int] = None  # global unlabeled batch; None = the plans' batch size
    unlabeled_two_views: bool = False  # also deliver 'data_weak' (geometric aug only) aligned with 'data'
    use_ema_teacher: bool = True
    ema_alpha: float = 0.99
    teacher_train_mode: bool = False  # dropout/BN of the teacher in train mode (DuCiSC) or eval mode
    # whole-channel dropout on the student's encoder stages for its unlabeled samples (components/feature_hooks.py);
    # a method applies it where it runs its student pass, with `perturbed_modules()`
    feature_dropout: float = 0.0
    grad_clip_norm: float = 12.0  # nnU-Net's value
    # what a method can handle; anything else stops at start with a clear message
    supports_regions: bool = False
    supports_ignore_label: bool = False
    # every key compute_loss may return in `logs`; logged once per epoch (NaN in epochs without it)
    ssl_log_keys: Tuple[str, ...] = ()
    # the key under which compute_loss logs nnU-Net's own loss on the plain labeled batch (the contract test checks
    # that it is exactly that loss, i.e. the labeled signal is never diluted); None: the method does not keep it
    labeled_loss_log_key: Optional[str] = None

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device('cuda')):
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.dataloader_unlabeled = None
        self.teacher: Optional[EMATeacher] = None
        self.extra_modules = nn.ModuleDict()
        self.extra_optimizers: Dict[str, torch.optim.Optimizer] = {}
        self.ssl_step = 0  # optimizer steps taken; drives the EMA warm start and ramp-ups
        self.warm_started = False  # started from -pretrained_weights (see the module docstring)
        self._initial_weights_fingerprint: Optional[float] = None
        self._epoch_logs: Dict[str, List[torch.Tensor]] = defaultdict(list)

    # ------------------------------------------------------------------ method hooks
    def compute_loss(self, labeled: dict, unlabeled: dict) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """labeled: {'data', 'target'} on device (target a list under deep supervision);
        unlabeled: {'data'} (+ 'data_weak' with unlabeled_two_views). Returns the total loss and named terms."""
        raise NotImplementedError

    def build_extra_modules(self) -> Dict[str, nn.Module]:
        """Training-only modules (decoders, heads) optimised together with the network."""
        return {}

    def configure_extra_optimizers(self) -> Dict[str, torch.optim.Optimizer]:
        """Optimizers a method steps itself (e.g. the outer level of a bi-level problem); checkpointed."""
        return {}

    def method_state_dict(self) -> dict:
        """Non-module state a method must keep across `--c` (thresholds, prototype banks, ...)."""
        return {}

    def load_method_state_dict(self, state: dict) -> None:
        pass

    # ---- quality guidance (QG-SSL plug-in, methods/quality/mixin.py): a method that calls these two where its
    # unsupervised loss is made sets `quality_guidance_hooks = True`; here they do nothing ----
    quality_guidance_hooks: bool = False

    def compute_sample_weights(self, image: torch.Tensor, pseudo_label: torch.Tensor,
                               logs: dict) -> Optional[torch.Tensor]:
        """(B,) weights for the unsupervised loss of each unlabeled sample, from its image and pseudo-label
        (labels (B, 1, ...) or probabilities (B, C, ...)); None = unweighted."""
        return None

    def qar_loss(self, image: torch.Tensor, student_logits: torch.Tensor, logs: dict) -> Optional[torch.Tensor]:
        """An extra loss on the student's prediction of unlabeled images, already weighted; None = none."""
        return None

    def wants_unlabeled_student_output(self) -> bool:
        """True when `qar_loss` needs the student's output on the plain unlabeled batch (a method whose student
        does not see it otherwise, e.g. BCP's mixed images, then adds it to its student pass)."""
        return False

    # ------------------------------------------------------------------ networks
    @property
    def student_module(self) -> nn.Module:
        """The stock-architecture network being trained, without DDP / torch.compile wrappers."""
        mod = self.network.module if self.is_ddp else self.network
        return mod._orig_mod if isinstance(mod, OptimizedModule) else mod

    def student_forward(self, x: torch.Tensor):
        # Bypasses the DDP wrapper on purpose: a step calls the network several times, which DDP's
        # reducer does not allow; gradients are averaged by all_reduce_gradients instead (see ddp.py).
        mod = self.network.module if self.is_ddp else self.network
        return mod(x)

    def perturbed_modules(self) -> List[nn.Module]:
        """The student's encoder stages, where `feature_dropout` acts; none when it is off."""
        return encoder_stages(self.student_module, type(self).__name__) if self.feature_dropout > 0 else []

    def all_parameters(self) -> List[nn.Parameter]:
        """Every parameter that can receive a gradient: network and extra modules (deduplicated)."""
        seen, out = set(), []
        for p in list(self.student_module.parameters()) + list(self.extra_modules.parameters()):
            if id(p) not in seen and p.requires_grad:
                seen.add(id(p))
                out.append(p)
        return out

    def trainable_parameters(self) -> List[nn.Parameter]:
        """The parameters of the main optimizer (a method may reserve some for its extra optimizers)."""
        return self.all_parameters()

    def initialize(self):
        self._refuse_unsupported_setup()
        super().initialize()  # network (+ DDP/compile wrappers), stock loss, an optimizer for the network
        self.extra_modules = nn.ModuleDict(self.build_extra_modules()).to(self.device)
        if self.is_ddp:
            broadcast_module(self.extra_modules)
        if self.use_ema_teacher:
            self.teacher = EMATeacher(self.student_module, self.ema_alpha, self.teacher_train_mode).to(self.device)
            # the teacher only ever provides full-resolution targets: skip the deep-supervision heads
            if hasattr(getattr(self.teacher.module, "decoder", None), "deep_supervision"):
                self.teacher.module.decoder.deep_supervision = False
        # rebuilt now that the extra modules exist, so one optimizer steps network and extras together
        self.extra_optimizers = self.configure_extra_optimizers()
        self.optimizer, self.lr_scheduler = self.configure_optimizers()
        self._initial_weights_fingerprint = self._weights_fingerprint()

    def configure_optimizers(self):
        # nnU-Net's optimizer and schedule, over the network AND the extra modules
        optimizer = torch.optim.SGD(self.trainable_parameters(), self.initial_lr, weight_decay=self.weight_decay,
                                    momentum=0.99, nesterov=True)
        return optimizer, PolyLRScheduler(optimizer, self.initial_lr, self.num_epochs)

    def _refuse_unsupported_setup(self):
        name = self.__class__.__name__
        if self.is_cascaded:
            raise RuntimeError(f"{name} does not support cascade configurations: unlabeled images have no "
                               f"previous-stage segmentation. Use 2d, 3d_fullres or 3d_lowres.")
        if self.label_manager.has_regions and not self.supports_regions:
            raise RuntimeError(f"{name} does not support region-based datasets (dataset.json labels given as "
                               f"lists of classes). nnUNetTrainerMeanTeacher does; or convert to plain labels.")
        if self.label_manager.has_ignore_label and not self.supports_ignore_label:
            raise RuntimeError(f"{name} does not support datasets with an ignore label (dataset.json 'ignore'). "
                               f"nnUNetTrainerMeanTeacher does.")

    # ------------------------------------------------------------------ data
    def get_unlabeled_dataset(self) -> UnlabeledImageDataset:
        split_path = splits_file(self.preprocessed_dataset_folder_base)
        if self.fold == "all":
            raise SplitError("Semi-supervised trainers need a fold of the split file (with 'unlabeled' ids); "
                             "fold 'all' has none.")
        folds = load_splits(split_path)
        if self.fold >= len(folds):
            raise SplitError(f"Fold {self.fold} requested but {split_path} has {len(folds)} folds. "
                             f"Write the split with `nnUNetv2_pscm_split` first.")
        entry = folds[self.fold]
        labeled_ids = set(self.dataset_class.get_identifiers(self.preprocessed_dataset_folder))
        image_folder = unlabeled_preprocessed_folder(self.preprocessed_dataset_folder_base,
                                                     self.configuration_manager.data_identifier)
        validate_ssl_fold(entry, self.fold, labeled_ids, list_preprocessed_unlabeled_ids(image_folder), split_path)
        dataset = UnlabeledImageDataset({c: self.preprocessed_dataset_folder if c in labeled_ids else image_folder
                                         for c in entry["unlabeled"]})
        if image_folder in dataset.case_folders.values():
            self._check_unlabeled_images_match_plans(image_folder)
        for case in dataset.identifiers:
            n_channels = dataset.load_image(case).shape[0]
            if n_channels != self.num_input_channels:
                raise SplitError(f"Unlabeled case '{case}' ({dataset.image_file(case)}) has {n_channels} channels, "
                                 f"the network expects {self.num_input_channels}.")
        self.print_to_log_file(f"Semi-supervised fold {self.fold}: {len(entry['train'])} labeled, "
                               f"{len(dataset)} unlabeled, {len(entry['val'])} validation cases.")
        return dataset

    def _check_unlabeled_images_match_plans(self, image_folder: str) -> None:
        # the folder is ours, not nnU-Net's: re-planning re-preprocesses the labeled cases but leaves it as it was
        warning = check_preprocessing_record(image_folder, self.plans_manager.dataset_name,
                                             self.plans_manager.plans_name, self.configuration_name,
                                             self.plans_manager.plans)
        if warning is not None:
            self.print_to_log_file(f"WARNING: {warning}")

    def get_unlabeled_transforms(self):
        """(geometric, photometric) transforms and the crop size before the spatial transform."""
        rotation, dummy_2d, initial_patch_size, mirror_axes = \
            self.configure_rotation_dummyDA_mirroring_and_inital_patch_size()
        training_transforms = self.get_training_transforms(
            self.configuration_manager.patch_size, rotation, None, mirror_axes, dummy_2d,
            use_mask_for_norm=None, is_cascaded=False, foreground_labels=self.label_manager.foreground_labels,
            regions=None, ignore_label=None)
        geometric, photometric = split_geometric_photometric(training_transforms)
        return geometric, photometric, initial_patch_size

    def unlabeled_batch_size_here(self) -> int:
        global_bs = self.unlabeled_batch_size or self.configuration_manager.batch_size
        if not self.is_ddp:
            return global_bs
        return per_rank_batch_size(global_bs, dist.get_world_size(), dist.get_rank())

    def get_dataloaders(self):
        unlabeled_dataset = self.get_unlabeled_dataset()  # validate the split before any worker starts
        dl_tr, dl_val = super().get_dataloaders()
        geometric, photometric, initial_patch_size = self.get_unlabeled_transforms()
        loader = nnUNetUnlabeledDataLoader(unlabeled_dataset, self.unlabeled_batch_size_here(), initial_patch_size,
                                           self.configuration_manager.patch_size, self.label_manager, geometric,
                                           photometric, two_views=self.unlabeled_two_views)
        n_proc = get_allowed_n_proc_DA()
        if n_proc == 0:
            self.dataloader_unlabeled = SingleThreadedAugmenter(loader, None)
        else:
            self.dataloader_unlabeled = NonDetMultiThreadedAugmenter(
                loader, None, num_processes=n_proc, num_cached=max(6, n_proc // 2), seeds=None,
                pin_memory=self.device.type == "cuda", wait_time=0.002)
        _ = next(self.dataloader_unlabeled)
        return dl_tr, dl_val

    def _to_device(self, batch: dict) -> dict:
        out = {}
        for k, v in batch.items():
            if isinstance(v, torch.Tensor):
                out[k] = v.to(self.device, non_blocking=True)
            elif isinstance(v, list) and v and isinstance(v[0], torch.Tensor):
                out[k] = [i.to(self.device, non_blocking=True) for i in v]
            else:
                out[k] = v
        return out

    # ------------------------------------------------------------------ training loop
    def on_train_start(self):
        super().on_train_start()
        if self.ssl_step == 0 and self.current_epoch == 0:
            self._detect_warm_start()
            if self.teacher is not None:  # a copy of the (possibly pretrained) student
                self.teacher.update(self.student_module, 0)
        self._register_log_keys()

    # ------------------------------------------------------------------ warm start
    @torch.no_grad()
    def _weights_fingerprint(self) -> float:
        return float(sum(p.double().abs().sum() for p in self.student_module.parameters()))

    @staticmethod
    def pretrained_weights_argument() -> Optional[str]:
        """The -pretrained_weights file given to nnUNetv2_train in this process, if any (nnU-Net does not pass it
        to the trainer)."""
        parser = argparse.ArgumentParser(add_help=False)
        parser.add_argument("-pretrained_weights", default=None)
        known, _ = parser.parse_known_args(sys.argv[1:])
        return known.pretrained_weights

    def _detect_warm_start(self) -> None:
        """nnU-Net loads -pretrained_weights between initialize() and on_train_start(): changed weights mean a warm
        start. Then the segmentation heads nnU-Net skipped are loaded too, from the same file."""
        if self._initial_weights_fingerprint is None or self._weights_fingerprint() == self._initial_weights_fingerprint:
            return
        self.warm_started = True
        path = self.pretrained_weights_argument()
        if path is None or not os.path.isfile(path):
            self.print_to_log_file("Warm start from pretrained weights (file unknown: segmentation heads stay as "
                                   "nnU-Net's loader left them).")
            return
        pretrained = torch.load(path, map_location=self.device, weights_only=False)["network_weights"]
        own = self.student_module.state_dict()
        heads = {k: v for k, v in pretrained.items() if ".seg_layers." in k and k in own and own[k].shape == v.shape}
        self.student_module.load_state_dict(heads, strict=False)
        teacher = "; the teacher starts as this model" if self.use_ema_teacher else ""
        self.print_to_log_file(f"Warm start from {path}: all weights including {len(heads)} segmentation-head "
                               f"tensors{teacher}.")

    def teacher_update_step(self) -> float:
        """The step the EMA decay is computed for: a warm-started teacher is already good, so it averages with
        ema_alpha from the first step instead of following the student during an EMA warm-up."""
        return float("inf") if self.warm_started else self.ssl_step

    def on_train_epoch_start(self):
        super().on_train_epoch_start()
        self.extra_modules.train()

    def train_step(self, batch: dict) -> dict:
        labeled = self._to_device(batch)
        unlabeled = self._to_device(next(self.dataloader_unlabeled))
        self.optimizer.zero_grad(set_to_none=True)
        for opt in self.extra_optimizers.values():
            opt.zero_grad(set_to_none=True)
        with autocast(self.device.type, enabled=True) if self.device.type == "cuda" else dummy_context():
            loss, logs = self.compute_loss(labeled, unlabeled)
        self._backward_and_step(loss)
        if self.teacher is not None:
            self.teacher.update(self.student_module, self.teacher_update_step())
        self.ssl_step += 1
        self._record_logs(logs)
        return {"loss": loss.detach().cpu().numpy()}

    def _backward_and_step(self, loss: torch.Tensor) -> None:
        """One backward; then the main optimizer steps, then each extra optimizer (own gradient clipping)."""
        if self.grad_scaler is not None:
            self.grad_scaler.scale(loss).backward()
        else:
            loss.backward()
        # an extra optimizer whose modules took no part in this step (PSCM's mask generator in pretraining or on a
        # step without auxiliary views) is skipped: CUDA's GradScaler refuses to step an optimizer without gradients
        optimizers = [self.optimizer] + [o for o in self.extra_optimizers.values()
                                         if any(p.grad is not None for g in o.param_groups for p in g["params"])]
        if self.grad_scaler is not None:
            for opt in optimizers:
                self.grad_scaler.unscale_(opt)
        if self.is_ddp:
            all_reduce_gradients(self.all_parameters())
        for opt in optimizers:
            torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], self.grad_clip_norm)
            if self.grad_scaler is not None:
                self.grad_scaler.step(opt)
            else:
                opt.step()
        if self.grad_scaler is not None:
            self.grad_scaler.update()

    def _record_logs(self, logs: Dict[str, torch.Tensor]) -> None:
        for k, v in logs.items():
            if k not in self.ssl_log_keys:
                raise KeyError(f"{self.__class__.__name__}.compute_loss logged '{k}', which is not in ssl_log_keys")
            # kept on the device: one synchronisation per epoch instead of one per term and step
            self._epoch_logs[k].append(torch.as_tensor(v, device=self.device).detach().float())

    def _register_log_keys(self) -> None:
        # nnU-Net's local logger accepts only declared keys and needs one value per epoch for each of
        # them (its plot infers the epoch from the shortest list), so earlier epochs are padded with NaN
        logging = self.logger.local_logger.my_fantastic_logging
        for key in self.ssl_log_keys:
            values = logging.setdefault(key, [])
            values.extend([float("nan")] * (self.current_epoch - len(values)))

    def on_train_epoch_end(self, train_outputs: List[dict]):
        super().on_train_epoch_end(train_outputs)
        for key in self.ssl_log_keys:
            values = self._epoch_logs.get(key)
            value = torch.stack(values).mean() if values else torch.tensor(float("nan"), device=self.device)
            if self.is_ddp:
                value = all_reduce_mean(value)
            self.logger.log(key, float(value), self.current_epoch)
        self._epoch_logs.clear()
        self.print_to_log_file("SSL terms:", {k: np.round(self.logger.get_value(k, step=-1), 4)
                                              for k in self.ssl_log_keys})

    def on_epoch_end(self):
        super().on_epoch_end()
        if self.local_rank == 0 and self.ssl_log_keys:
            plot_ssl_progress(self.logger.local_logger.my_fantastic_logging, self.ssl_log_keys,
                              join(self.output_folder, "progress_ssl.png"))

    def on_train_end(self):
        super().on_train_end()
        if isinstance(self.dataloader_unlabeled, NonDetMultiThreadedAugmenter):
            self.dataloader_unlabeled._finish()
        self.dataloader_unlabeled = None

    # ------------------------------------------------------------------ checkpoints
    def ssl_state_dict(self) -> dict:
        return {
            "ssl_step": self.ssl_step,
            "warm_started": self.warm_started,
            "teacher": self.teacher.module.state_dict() if self.teacher is not None else None,
            "extra_modules": self.extra_modules.state_dict(),
            "extra_optimizers": {k: o.state_dict() for k, o in self.extra_optimizers.items()},
            "method_state": self.method_state_dict(),
        }

    def save_checkpoint(self, filename: str) -> None:
        if self.local_rank != 0:
            return
        if self.disable_checkpointing:
            self.print_to_log_file("No checkpoint written, checkpointing is disabled")
            return
        # the stock keys, unchanged (nnUNetv2_predict and --c read them), plus our state under one key
        checkpoint = {
            "network_weights": self.student_module.state_dict(),
            "optimizer_state": self.optimizer.state_dict(),
            "grad_scaler_state": self.grad_scaler.state_dict() if self.grad_scaler is not None else None,
            "logging": self.logger.get_checkpoint(),
            "_best_ema": self._best_ema,
            "current_epoch": self.current_epoch + 1,
            "init_args": self.my_init_kwargs,
            "trainer_name": self.__class__.__name__,
            "inference_allowed_mirroring_axes": self.inference_allowed_mirroring_axes,
            SSL_STATE_KEY: self.ssl_state_dict(),
        }
        # write then rename: a crash while saving never destroys the previous checkpoint
        write_checkpoint_atomically(checkpoint, filename)

    def load_checkpoint(self, filename_or_checkpoint) -> None:
        if not isinstance(filename_or_checkpoint, str):
            raise TypeError("load_checkpoint expects a checkpoint file name")
        # a message naming the file if it is empty or truncated (an interrupted save), not a traceback in torch.load;
        # nnU-Net 2.8.1's load_checkpoint accepts only a file name in practice (a dict leaves its variable unset)
        checkpoint = read_checkpoint(filename_or_checkpoint, map_location=self.device)
        super().load_checkpoint(filename_or_checkpoint)
        state = checkpoint.get(SSL_STATE_KEY)
        if state is None:
            self.print_to_log_file(f"{filename_or_checkpoint} holds no semi-supervised state (a stock checkpoint?): "
                                   f"the teacher starts from the loaded network, extra modules from scratch.")
            if self.teacher is not None:
                self.teacher.update(self.student_module, 0)
            return
        self.ssl_step = state["ssl_step"]
        self.warm_started = bool(state.get("warm_started", False))
        if self.teacher is not None and state["teacher"] is not None:
            self.teacher.module.load_state_dict(state["teacher"])
        self.extra_modules.load_state_dict(state["extra_modules"])
        for k, opt_state in state["extra_optimizers"].items():
            self.extra_optimizers[k].load_state_dict(opt_state)
        self.load_method_state_dict(state["method_state"])
