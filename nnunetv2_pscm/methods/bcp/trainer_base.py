"""BCPTrainerBase: bidirectional copy-paste self-training (Bai et al., CVPR 2023) with nnU-Net's labeled signal kept.

Per iteration in self-training (phase B):
  1. the EMA teacher labels the weak view of the unlabeled batch (no grad); pseudo-labels = argmax, voxels below
     `pseudo_label_confidence` ignored, and classes that the labeled set shows as one structure keep only their
     largest component (BCP's `get_cut_mask(nms=1)`, decided from the labeled ground truth, not the dataset);
  2. hook `correct_pseudo_labels` (PSCM's PSC; identity here);
  3. bidirectional copy-paste of (labeled, unlabeled) pairs with one 2/3 cuboid;
  4. ONE student pass over [labeled batch, mixed batch, hook `auxiliary_inputs`]: nnU-Net's own Dice+CE with deep
     supervision on the plain labeled batch (the labeled signal is never diluted), plus the mixed loss normalised
     per region (BCP's `mix_loss`: ground truth weight 1, pseudo-labels `pseudo_region_weight`, each region by its
     own voxel count), ramped in over `mix_rampup_fraction` of phase B; plus hook `auxiliary_losses`.
Phase A (labeled-only pretraining, only without a warm start) runs the same step with copy-paste between labeled
samples. It lasts `pretrain_fraction` of the epochs with its own poly learning-rate decay; phase B then starts from
the best phase-A model on the validation fold (nnU-Net's checkpoint_best, its EMA pseudo Dice), the teacher is
reset to it, and optimizer momentum and learning rate restart (BCP restarts its optimizer).
Warm start (`-pretrained_weights` of the labeled-only run): no phase A at all, the teacher is that model.

Subclass hooks (PSCM uses all of them): `observe_labeled_batch`, `teacher_outputs`, `correct_pseudo_labels`,
`auxiliary_inputs`, `auxiliary_losses`, plus `build_extra_modules` etc. of nnUNetTrainerSSL.
"""
import os
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from nnunetv2.training.loss.deep_supervision import DeepSupervisionWrapper

from nnunetv2_pscm.components.copy_paste import bidirectional_copy_paste, random_cuboid_mask
from nnunetv2_pscm.components.deep_supervision import as_list, deep_supervised, full_resolution, stock_loss_input
from nnunetv2_pscm.components.pseudo_labels import confident_pseudo_labels, keep_largest_component
from nnunetv2_pscm.components.ramps import sigmoid_rampup
from nnunetv2_pscm.components.weighted_losses import region_normalised_ce_dice
from nnunetv2_pscm.methods.bcp.labeled_structure import single_structure_classes
from nnunetv2_pscm.methods.bcp.schedule import RestartedPolyLR
from nnunetv2_pscm.training import nnUNetTrainerSSL

BCP_LOG_KEYS = ("phase", "loss_labeled", "loss_mix", "mix_weight", "pl_confident_fraction", "pl_lcc_changed_fraction")


class BCPTrainerBase(nnUNetTrainerSSL):
    # ---- phases [BCP LA: pretrain 2000 / self-train 15000 iterations; our fraction, see module docstring] ----
    pretrain_fraction = 0.2
    # ---- copy-paste [BCP: cuboid 2/3 of each side, pseudo-label region weight 0.5, EMA 0.99] ----
    copy_paste_ratio = 2 / 3
    pseudo_region_weight = 0.5
    ema_alpha = 0.99
    unlabeled_two_views = True  # teacher labels the weak view, the student learns from the strong one
    # ---- losses [ours: nnU-Net's stock loss on the labeled batch every step, the mixed loss on top] ----
    labeled_loss_weight = 1.0
    mix_loss_weight = 1.0
    mix_rampup_fraction = 0.1  # of phase B; the teacher is already a converged labeled-only model
    # ---- pseudo-label cleaning [BCP LA: threshold + largest component] ----
    pseudo_label_confidence = 0.8  # teacher voxels below this top probability are ignored (weight 0)
    keep_largest_component = True  # for classes the labeled set shows as one structure
    structure_min_share = 0.9
    structure_max_cases = 50  # labeled cases read for the structure test (a sample is enough)
    ssl_log_keys = BCP_LOG_KEYS
    labeled_loss_log_key = "loss_labeled"
    quality_guidance_hooks = True
    # found at train start from the labeled cases (nnU-Net rebuilds trainers from their exact __init__ signature,
    # so state that is not an __init__ argument starts as a class default)
    single_structure_classes: Optional[List[int]] = None

    # ------------------------------------------------------------------ schedule
    def pretrain_epochs(self) -> int:
        if self.warm_started or self.pretrain_fraction <= 0:
            return 0
        return max(1, min(self.num_epochs - 1, int(round(self.pretrain_fraction * self.num_epochs))))

    def in_self_training(self) -> bool:
        return self.current_epoch >= self.pretrain_epochs()

    def self_training_step(self) -> int:
        """Optimizer steps taken since self-training began."""
        return self.ssl_step - self.pretrain_epochs() * self.num_iterations_per_epoch

    def current_mix_weight(self) -> float:
        if not self.in_self_training():
            return self.mix_loss_weight
        phase_b = (self.num_epochs - self.pretrain_epochs()) * self.num_iterations_per_epoch
        return self.mix_loss_weight * sigmoid_rampup(self.self_training_step(), self.mix_rampup_fraction * phase_b)

    def configure_optimizers(self):
        optimizer, _ = super().configure_optimizers()
        return optimizer, RestartedPolyLR(optimizer, self.initial_lr, self.num_epochs, self.pretrain_epochs)

    def on_train_start(self):
        super().on_train_start()  # warm start detection first: it decides whether there is a phase A
        if self.single_structure_classes is None:
            self.single_structure_classes = self._find_single_structure_classes()
        self.print_to_log_file(f"{self.__class__.__name__}: warm start {self.warm_started}, phase A "
                               f"{self.pretrain_epochs()} of {self.num_epochs} epochs; largest-component cleanup for "
                               f"classes {self.single_structure_classes if self.keep_largest_component else []}")

    def on_train_epoch_start(self):
        if self.current_epoch == self.pretrain_epochs() and self.pretrain_epochs() > 0:
            self._start_self_training()
        super().on_train_epoch_start()

    def _start_self_training(self) -> None:
        best = os.path.join(self.output_folder, "checkpoint_best.pth")
        if os.path.isfile(best):
            weights = torch.load(best, map_location=self.device, weights_only=False)["network_weights"]
            self.student_module.load_state_dict(weights)
            self.print_to_log_file(f"Self-training starts from the best phase-A model ({best}, EMA pseudo Dice "
                                   f"{self._best_ema}).")
        if self.teacher is not None:
            self.teacher.update(self.student_module, 0)
        self.optimizer.state.clear()  # momentum restarts with the learning rate

    def _find_single_structure_classes(self) -> List[int]:
        """Read from the fold's LABELED training cases only."""
        if not self.keep_largest_component:
            return []
        labeled_ids, _ = self.do_split()
        dataset = self.dataset_class(self.preprocessed_dataset_folder, labeled_ids[:self.structure_max_cases])
        segmentations = (np.asarray(dataset.load_case(c)[1][:])[0] for c in dataset.identifiers)
        return single_structure_classes(segmentations, self.label_manager.num_segmentation_heads,
                                        self.structure_min_share)

    # ------------------------------------------------------------------ hooks
    def observe_labeled_batch(self, x_l: torch.Tensor, y_l: torch.Tensor) -> Optional[dict]:
        """Called every step with the labeled batch; may return teacher outputs for it (used as the phase-A
        source's teacher outputs)."""
        return None

    @torch.no_grad()
    def teacher_outputs(self, x: torch.Tensor) -> dict:
        """{'probs': (B, C, ...) teacher class probabilities}; subclasses may add features."""
        return {"probs": torch.softmax(full_resolution(self.teacher(x)).float(), 1)}

    def pseudo_labels(self, teacher: dict, logs: dict) -> Tuple[torch.Tensor, torch.Tensor]:
        labels, weight = confident_pseudo_labels(teacher["probs"], self.pseudo_label_confidence)
        logs["pl_confident_fraction"] = weight.mean()
        if self.keep_largest_component and self.single_structure_classes:
            labels, changed = keep_largest_component(labels, self.single_structure_classes)
            logs["pl_lcc_changed_fraction"] = torch.tensor(changed)
        return labels, weight

    def correct_pseudo_labels(self, labels: torch.Tensor, weight: torch.Tensor, teacher: dict,
                              logs: dict) -> Tuple[torch.Tensor, torch.Tensor]:
        return labels, weight

    def auxiliary_inputs(self, source: torch.Tensor, target: torch.Tensor, weight: torch.Tensor,
                         teacher: Optional[dict], logs: dict) -> Tuple[List[torch.Tensor], dict]:
        """Extra student inputs that share the encoder pass (e.g. masked views) and what their losses need."""
        return [], {}

    def auxiliary_losses(self, skips: List[torch.Tensor], context: dict, logs: dict) -> Optional[torch.Tensor]:
        """Losses on the encoder features (skips) of the auxiliary inputs; None when there are none."""
        return None

    # ------------------------------------------------------------------ the step
    def compute_loss(self, labeled: dict, unlabeled: dict):
        x_l, target_l = labeled["data"], labeled["target"]
        y_l = full_resolution(target_l)
        self_training = self.in_self_training()
        logs: Dict[str, torch.Tensor] = {"phase": torch.tensor(float(self_training))}
        labeled_teacher = self.observe_labeled_batch(x_l, y_l)
        cuboid = random_cuboid_mask(x_l.shape[2:], self.copy_paste_ratio, device=x_l.device)
        if self_training:
            x_u = unlabeled["data"]
            teacher = self.teacher_outputs(unlabeled.get("data_weak", x_u))
            target, weight = self.pseudo_labels(teacher, logs)
            target, weight = self.correct_pseudo_labels(target, weight, teacher, logs)
            directions = [(i + self.ssl_step) % 2 == 0 for i in range(min(x_l.shape[0], x_u.shape[0]))]
            x_mix, y_mix, gt_region, pseudo_region = bidirectional_copy_paste(x_l, y_l, x_u, target, weight, cuboid,
                                                                              directions)
            # quality guidance (the _QG variants; None here): mixed sample i shows unlabeled sample i's pseudo-label
            sample_weight = self.compute_sample_weights(unlabeled.get("data_weak", x_u), target, logs)
            if sample_weight is not None:
                sample_weight = sample_weight[:x_mix.shape[0]]
            source = (x_u, target, weight, teacher)
        else:  # phase A: copy-paste between labeled samples, ground truth everywhere
            x_mix = x_l * cuboid + torch.roll(x_l, 1, 0) * (1 - cuboid)
            y_mix = torch.where(cuboid.bool(), y_l, torch.roll(y_l, 1, 0))
            gt_region, pseudo_region, sample_weight = torch.ones_like(y_mix, dtype=torch.float32), None, None
            source = (x_l, y_l, torch.ones_like(y_l, dtype=torch.float32), labeled_teacher)
        aux_inputs, aux_context = self.auxiliary_inputs(*source, logs)

        n_l, n_mix = x_l.shape[0], x_mix.shape[0]
        # the plain unlabeled batch joins the pass only when the quality regulariser needs the student's view of it
        plain_unlabeled = [unlabeled["data"]] if self_training and self.wants_unlabeled_student_output() else []
        n_u = sum(x.shape[0] for x in plain_unlabeled)
        seg, aux_skips = self._student_pass([x_l, x_mix] + plain_unlabeled + aux_inputs, n_l + n_mix + n_u)
        loss_labeled = self.loss(stock_loss_input(seg, self.enable_deep_supervision, n_l), target_l)
        loss_mix = self._mixed_loss([o[n_l:n_l + n_mix] for o in seg], y_mix, gt_region, pseudo_region,
                                    sample_weight)
        mix_weight = self.current_mix_weight()
        total = self.labeled_loss_weight * loss_labeled + mix_weight * loss_mix
        logs.update(loss_labeled=loss_labeled, loss_mix=loss_mix, mix_weight=torch.tensor(mix_weight))
        if plain_unlabeled:
            quality_regulariser = self.qar_loss(unlabeled["data"], seg[0][n_l + n_mix:], logs)
            if quality_regulariser is not None:
                total = total + quality_regulariser
        if aux_inputs:
            aux_loss = self.auxiliary_losses(aux_skips, aux_context, logs)
            if aux_loss is not None:
                total = total + aux_loss
        return total, logs

    def _student_pass(self, inputs: List[torch.Tensor], n_segmented: int):
        """Segmentation outputs (list of deep-supervision scales) of the first `n_segmented` samples, and the encoder
        skips of the rest: one encoder pass over everything."""
        x = torch.cat(inputs)
        if x.shape[0] == n_segmented:
            return as_list(self.student_forward(x)), None
        network = self.student_module
        skips = network.encoder(x)
        seg = as_list(network.decoder([s[:n_segmented] for s in skips]))
        return seg, [s[n_segmented:] for s in skips]

    def _mixed_loss(self, outputs, y_mix, gt_region, pseudo_region, pseudo_sample_weight=None):
        factors = self.loss.weight_factors if isinstance(self.loss, DeepSupervisionWrapper) else (1.0,)
        maps = [gt_region] if pseudo_region is None else [gt_region, pseudo_region]
        weights = [1.0] if pseudo_region is None else [1.0, self.pseudo_region_weight]
        sample_weights = [None, pseudo_sample_weight]  # per-sample weights touch the pseudo-labelled region only

        def loss(out, target, *region_maps):
            return region_normalised_ce_dice(out, target, list(zip(region_maps, weights, sample_weights)))

        return deep_supervised(loss, outputs, y_mix, maps, factors)

    # ------------------------------------------------------------------ state
    def method_state_dict(self) -> dict:
        return {"single_structure_classes": self.single_structure_classes}

    def load_method_state_dict(self, state: dict) -> None:
        self.single_structure_classes = state.get("single_structure_classes")
