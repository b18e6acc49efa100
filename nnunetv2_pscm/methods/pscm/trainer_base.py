"""PSCMTrainerBase: PSC, BOM and AUD on the BCP base (methods/bcp), one switch each.

Confirmed by the paper's figure: one shared encoder E with three decoders (D1 segmentation = the inference
path, D2 image reconstruction, D3 auxiliary segmentation), a mask generator R_phi from encoder features,
confidence and uncertainty, a counterfactual generator, a labeled-only pretraining phase, and bidirectional
copy-paste ("context mask") between labeled and unlabeled images in self-training.
Our reconstruction (the paper's text and code are not available): PSC (psc.py), the bi-level objective of
BOM (bom.py), G and L_cf (aud.py), and every weight below that the spec does not give. Each choice is a
named attribute; README's method table lists them.

What PSCM adds to a BCP step, through BCPTrainerBase's hooks:
  observe_labeled_batch   teacher features of the labeled batch update the class prototypes and the labeled
                          component-size statistics (PSC's knowledge; ground truth only);
  teacher_outputs         teacher probabilities plus its last decoder features and one encoder skip;
  correct_pseudo_labels   PSC: corrected pseudo-label and a reliability map (multiplied into the confidence mask);
  auxiliary_inputs        BOM mask on part of the source batch, the masked image and its counterfactual (AUD);
  auxiliary_losses        D2 reconstruction of masked blocks (L_BOM), D3 on masked/counterfactual (L_AUD, L_cf),
                          sharing the one encoder pass of the labeled and mixed batches.
The auxiliary terms are off in labeled-only pretraining and ramp in over `aux_rampup_fraction` of self-training:
they share the encoder with D1, and at full weight from the first step they pulled it away from segmentation
before the pseudo-labels were any good (the README's ablations).
Exported weights: the student encoder + D1, i.e. nnU-Net's stock network for the plans.
"""
import math
from contextlib import ExitStack
from typing import Dict

import torch
from torch import distributed as dist
from torch import nn

from nnunetv2_pscm.components.boundary import boundary_map
from nnunetv2_pscm.components.feature_hooks import capture_outputs
from nnunetv2_pscm.components.masking import random_block_mask
from nnunetv2_pscm.components.prototypes import PrototypeBank, class_prototypes
from nnunetv2_pscm.components.ramps import sigmoid_rampup
from nnunetv2_pscm.components.deep_supervision import full_resolution
from nnunetv2_pscm.components.uncertainty import confidence, normalized_entropy
from nnunetv2_pscm.components.weighted_losses import weighted_ce_dice
from nnunetv2_pscm.methods.bcp.trainer_base import BCP_LOG_KEYS, BCPTrainerBase
from nnunetv2_pscm.methods.pscm.aud import counterfactual_alignment, counterfactual_donors, counterfactual_fill
from nnunetv2_pscm.methods.pscm.bom import learned_mask, masked_reconstruction_l1
from nnunetv2_pscm.methods.pscm.monitor import PseudoLabelMonitor, hidden_label_cases
from nnunetv2_pscm.methods.pscm.networks import (AuxiliaryUNetDecoder, MaskGenerator, check_supported_network,
                                                 decoder_n_conv_per_stage)
from nnunetv2_pscm.methods.pscm.psc import StructureStatistics, self_correct

LOG_KEYS = BCP_LOG_KEYS + ("aux_weight", "loss_bom", "loss_aud", "loss_cf", "psc_changed_fraction", "psc_mean_weight",
                           "mask_ratio", "mask_uncertainty_ratio", "pl_dice_raw", "pl_dice_cleaned",
                           "pl_dice_corrected", "psc_flagged_fraction", "psc_flagged_error_rate",
                           "psc_kept_error_rate")


class PSCMTrainerBase(BCPTrainerBase):
    # ---- the three components (the ablation trainers switch one off) ----
    use_psc = True
    use_bom = True
    use_aud = True
    # ---- PSC [our reconstruction] ----
    psc_size_quantile = 0.05
    psc_size_tolerance = 0.5
    psc_disagreement_weight = 0.5
    prototype_momentum = 0.9
    prototype_update_every = 4  # labeled teacher features every 4th step: keeps a step within 3.5x stock
    structure_update_every = 10  # labeled component statistics from every 10th batch: a CPU pass, and a
    #                              subsample estimates a size distribution just as well
    bom_feature_stage = 2  # R_phi reads the teacher encoder's skip at this stage (1/4 resolution)
    # ---- BOM [PICK: lambda 0.2 (LA) / 1.0 (Pancreas); the rest is our choice] ----
    bom_weight = 0.2
    bom_mask_ratio = 0.4
    bom_block_size = 8  # voxels per block edge at the patch resolution
    bom_prior_strength = 2.0
    bom_adversarial_coefficient = 1.0
    mask_generator_width = 16
    mask_generator_lr = 1e-3
    # ---- AUD [PICK: segmentation terms weight 1] ----
    aud_weight = 1.0
    cf_weight = 1.0
    # ---- all auxiliary terms: off in pretraining, sigmoid ramp over this share of self-training [ours] ----
    aux_rampup_fraction = 0.3
    # share of the source batch that also goes through BOM/AUD; half keeps a PSCM step within 3.5x the stock step
    aux_batch_fraction = 0.5
    # the auxiliary views on every n-th step only: with nnU-Net's stock loss on the labeled batch in every step (the
    # SSL-gain recipe), views on every step made a PSCM step 3.85x a stock one on LA; every 2nd step keeps it <= 3.5x
    aux_every_steps = 2
    # ---- monitoring: reads the hidden labels of unlabeled training cases, to REPORT pseudo-label quality
    # (never used by a loss). Truly unlabeled images have no label; nnUNetTrainerPSCM_noMonitor switches it off
    # where hidden labels must stay unread ----
    monitor_hidden_labels = True
    monitor_every_epochs = 50
    monitor_num_cases = 4
    ssl_log_keys = LOG_KEYS

    # ------------------------------------------------------------------ modules
    def build_extra_modules(self) -> Dict[str, nn.Module]:
        network = self.student_module
        check_supported_network(network)
        encoder, n_classes = network.encoder, self.label_manager.num_segmentation_heads
        n_conv = decoder_n_conv_per_stage(network)
        modules = {}
        if self.use_psc:
            modules["prototypes"] = PrototypeBank(n_classes, encoder.output_channels[0], self.prototype_momentum)
            modules["structure"] = StructureStatistics(n_classes)
        if self.use_bom:
            modules["reconstruction_decoder"] = AuxiliaryUNetDecoder(encoder, self.num_input_channels, n_conv)
            stage = min(self.bom_feature_stage, len(encoder.output_channels) - 1)
            modules["mask_generator"] = MaskGenerator(encoder, encoder.output_channels[stage], self.mask_generator_width)
        if self.use_aud:
            modules["auxiliary_decoder"] = AuxiliaryUNetDecoder(encoder, n_classes, n_conv)
        return modules

    def trainable_parameters(self):
        # R_phi is stepped by its own optimizer (the outer level), not by nnU-Net's SGD
        outer = {id(p) for p in self.extra_modules["mask_generator"].parameters()} \
            if "mask_generator" in self.extra_modules else set()
        return [p for p in super().trainable_parameters() if id(p) not in outer]

    def configure_extra_optimizers(self):
        if "mask_generator" not in self.extra_modules:
            return {}
        return {"mask_generator": torch.optim.Adam(self.extra_modules["mask_generator"].parameters(),
                                                   lr=self.mask_generator_lr)}

    @property
    def uses_auxiliary_views(self) -> bool:
        return self.use_bom or self.use_aud

    def current_aux_weight(self) -> float:
        if not self.in_self_training():
            return 0.0
        phase_b = (self.num_epochs - self.pretrain_epochs()) * self.num_iterations_per_epoch
        return sigmoid_rampup(self.self_training_step(), self.aux_rampup_fraction * phase_b)

    # ------------------------------------------------------------------ monitor
    def on_train_start(self):
        super().on_train_start()
        self.pseudo_label_monitor = None
        if self.monitor_hidden_labels:
            cases = hidden_label_cases(self.preprocessed_dataset_folder_base, self.fold,
                                       self.dataset_class.get_identifiers(self.preprocessed_dataset_folder),
                                       self.monitor_num_cases)
            self.pseudo_label_monitor = PseudoLabelMonitor(
                cases, lambda case: self.dataset_class(self.preprocessed_dataset_folder, [case]).load_case(case)[:2],
                self.configuration_manager.patch_size, self.label_manager.num_segmentation_heads)

    def on_train_epoch_end(self, train_outputs):
        monitor = getattr(self, "pseudo_label_monitor", None)
        if monitor is not None and self.in_self_training():
            figure = None
            if self.local_rank == 0 and (self.current_epoch % self.monitor_every_epochs == 0
                                         or self.current_epoch == self.num_epochs - 1):
                figure = f"{self.output_folder}/pseudo_labels_epoch_{self.current_epoch:04d}.png"
            self._record_logs(monitor.run(self._monitored_pseudo_labels, self.device, figure, self.current_epoch))
        super().on_train_epoch_end(train_outputs)

    @torch.no_grad()
    def _monitored_pseudo_labels(self, images: torch.Tensor) -> dict:
        """Each stage of the pseudo-label pipeline for the monitor: raw teacher argmax, cleaned (threshold +
        largest component), corrected by PSC (what training uses), the weights before and after PSC and the BOM
        mask of the first image (or None)."""
        teacher = self.teacher_outputs(images)
        raw = teacher["probs"].argmax(1, keepdim=True)
        cleaned, confidence = self.pseudo_labels(teacher, {})
        corrected, weight = self.correct_pseudo_labels(cleaned, confidence, teacher, {})
        mask = None
        if self.uses_auxiliary_views:
            mask = self._mask(teacher, 1, corrected[:1], images.shape[2:], {})
        return {"raw": raw, "cleaned": cleaned, "corrected": corrected, "confidence": confidence, "weight": weight,
                "mask": mask}

    # ------------------------------------------------------------------ BCP hooks
    @torch.no_grad()
    def teacher_outputs(self, x: torch.Tensor) -> dict:
        teacher = self.teacher.module
        with ExitStack() as stack:
            decoder_out = stack.enter_context(capture_outputs(teacher.decoder.stages[-1]))
            # R_phi's input only: without BOM no encoder skip is kept (or cast) on every step
            skips = stack.enter_context(capture_outputs(teacher.encoder)) if self.use_bom else None
            logits = full_resolution(teacher(x))
        outputs = {"probs": torch.softmax(logits.float(), 1), "decoder_features": decoder_out[0].float()}
        if skips is not None:
            stage = min(self.bom_feature_stage, len(teacher.encoder.output_channels) - 1)
            outputs["encoder_features"] = skips[0][stage].float()
        return outputs

    @torch.no_grad()
    def observe_labeled_batch(self, x_l: torch.Tensor, y_l: torch.Tensor):
        if not self.use_psc:
            return None
        if self.ssl_step % self.structure_update_every == 0:
            self.extra_modules["structure"].update(y_l[:, 0].cpu().numpy())
        # a teacher pass over the labeled batch costs ~10 % of a step; the prototype bank is a slow average anyway
        if self.ssl_step % self.prototype_update_every != 0:
            return None
        teacher = self.teacher_outputs(x_l)
        self._update_prototypes(teacher["decoder_features"], y_l)
        return teacher

    def _update_prototypes(self, features_l: torch.Tensor, y_l: torch.Tensor) -> None:
        n_classes = self.label_manager.num_segmentation_heads
        onehot_sums, present = class_prototypes(features_l, y_l, n_classes)
        if self.is_ddp:  # one bank for all ranks: average the batch prototypes of classes present anywhere
            counts = present.float()
            weighted = onehot_sums * counts[:, None]
            dist.all_reduce(weighted)
            dist.all_reduce(counts)
            onehot_sums, present = weighted / counts.clamp_min(1)[:, None], counts > 0
        self.extra_modules["prototypes"].update(onehot_sums, present)

    def correct_pseudo_labels(self, labels, weight, teacher, logs):
        if not self.use_psc:
            return labels, weight
        floor = self.extra_modules["structure"].size_floor(self.psc_size_quantile, self.psc_size_tolerance)
        corrected, reliability, stats = self_correct(labels, teacher["decoder_features"],
                                                     self.extra_modules["prototypes"], floor,
                                                     self.psc_disagreement_weight)
        logs.update(stats)
        return corrected, weight * reliability

    def auxiliary_inputs(self, source, target, weight, teacher, logs):
        if not self.uses_auxiliary_views or not self.in_self_training() or self.ssl_step % self.aux_every_steps:
            return [], {}
        n_aux = max(1, math.ceil(self.aux_batch_fraction * source.shape[0]))
        mask = self._mask(teacher, n_aux, target[:n_aux], source.shape[2:], logs)
        inputs = [source[:n_aux] * (1 - mask)]
        if self.use_aud:
            inputs.append(counterfactual_fill(source[:n_aux], mask, counterfactual_donors(source, n_aux)))
        return inputs, {"source": source[:n_aux], "target": target[:n_aux], "weight": weight[:n_aux], "mask": mask}

    def auxiliary_losses(self, skips, context, logs):
        aux_weight = self.current_aux_weight()
        logs["aux_weight"] = torch.tensor(aux_weight)
        n_aux = context["source"].shape[0]
        total = 0.0
        if self.use_bom:
            reconstruction = self.extra_modules["reconstruction_decoder"]([s[:n_aux] for s in skips])
            logs["loss_bom"] = masked_reconstruction_l1(context["source"], reconstruction, context["mask"])
            total = total + self.bom_weight * logs["loss_bom"]
        if self.use_aud:
            aux_logits = self.extra_modules["auxiliary_decoder"](skips)
            logits_masked, logits_cf = aux_logits[:n_aux], aux_logits[n_aux:]
            logs["loss_aud"] = weighted_ce_dice(logits_masked, context["target"].detach(), context["weight"].detach())
            logs["loss_cf"] = counterfactual_alignment(logits_masked, logits_cf)
            total = total + self.aud_weight * logs["loss_aud"] + self.cf_weight * logs["loss_cf"]
        return aux_weight * total

    # ------------------------------------------------------------------ pieces
    def _mask(self, teacher, n, target, patch_shape, logs):
        """The mask of the first n samples: BOM's learned one, or uniformly random blocks of the same budget."""
        probs = teacher["probs"][:n]
        if self.use_bom:
            encoder_features = teacher["encoder_features"][:n]
            uncertainty = normalized_entropy(probs)
            boundary = boundary_map(target, self.label_manager.num_segmentation_heads)
            mask = learned_mask(self.extra_modules["mask_generator"], encoder_features, confidence(probs),
                                uncertainty, boundary, patch_shape, self.bom_block_size, self.bom_mask_ratio,
                                self.bom_prior_strength, self.bom_adversarial_coefficient)
            with torch.no_grad():  # > 1: masks sit on more uncertain voxels than average
                logs["mask_uncertainty_ratio"] = (uncertainty * mask).sum() / mask.sum() / uncertainty.mean().clamp_min(1e-8)
        else:
            mask = random_block_mask(probs.shape[0], patch_shape, self.bom_block_size, self.bom_mask_ratio, probs.device)
        logs["mask_ratio"] = mask.detach().mean()
        return mask
