"""DuCiSCTrainerBase: dual cross-image semantic consistency with self-aware pseudo-labels (Li et al., IEEE TMI 2025,
arXiv 2507.21440), on nnU-Net's plans, network and loss. Spec: shared/specs/methods.md section 2 (read from the
released code).

Per iteration after the warm-up:
  1. the EMA teacher labels the unlabeled batch at every deep-supervision scale (pseudo-label = argmax);
  2. a voxel is certain at scale s when the teacher's top probability exceeds that class's self-aware threshold;
  3. fused batch: voxel-wise blend x_m = lam x_l + (1 - lam) x_u, lam ~ U(0.25, 0.75) per pair, soft label
     lam onehot(y_l) + (1 - lam) onehot(pseudo_u) (a blend, not copy-paste);
  4. ONE student pass over [labeled, unlabeled, fused] (nnU-Net's InstanceNorm is per sample, so this equals the
     code's three passes), decoder-stage features read through forward hooks;
  5. losses: nnU-Net's own Dice+CE with deep supervision on the labeled batch (weight 1); teacher-to-student pixel
     consistency on certain unlabeled voxels (0.3); soft pixel consistency on the fused batch over the unlabeled
     certainty mask (0.1); prototype alignment labeled<->unlabeled and labeled<->fused (0.1 each), prototypes by
     masked average pooling per class and scale (hard masks: ground truth, teacher labels; soft: the fused label);
  6. after the step's losses, the thresholds move towards the student's mean confidence where the teacher predicts
     each class (EMA 0.99, clip [1/C, 0.95]); they are used from the next step and checkpointed.
The warm-up trains the labeled loss alone for `warmup_fraction` of the schedule (the code: 2000 of 15000
iterations); a warm start from the labeled-only model (`-pretrained_weights`) skips it.

Scales: nnU-Net's outputs and our feature lists are fine -> coarse (the code's outputs are coarse -> fine and it pairs
feature i with output -(i+1), which is the same pairing). Scale k uses the output k, the decoder stage that produced
it, nnU-Net's own deep-supervision target k, and the teacher's output k; `num_scales` (4) of them are aligned.

Where nnU-Net forces or we chose a change (README, trainer table):
* No dropout in nnU-Net's network, and its InstanceNorm is the same in train and eval mode, so the code's
  train-mode teacher would be deterministic here. Our teacher instead sees the weak view (geometric augmentation
  only, same crop) plus clipped Gaussian noise (`teacher_input_noise_std`), the student the strong view; the blend
  uses the student's view, to which the pseudo-labels are aligned. Measured on the demo's data (two replicates): the
  noise does not help (-0.015 Dice against nnUNetTrainerDuCiSC_noTeacherNoise); kept because the LA runs used it.
* Supervised loss: nnU-Net's Dice+CE with deep supervision (the code: 1/2 (CE + binary Dice) over 4 scales).
* nnU-Net's optimizer and poly learning rate (the code: SGD 0.01 constant); batch = the plans' batch labeled + as
  many unlabeled; fused pairs = min of the two.
* Prototypes: a class absent from a sample does not make the prototype NaN; it is averaged over the samples in
  which it occurs, and a term is skipped only when no class is shared (the code drops the whole scale).
* Multi-class (ACDC): one threshold per class and scale, certainty by the top class, clip [1/C, 0.95].
* `self_normalize_losses` (the code's L / sg(L) per term) or the paper's weighted sum: see combine_losses.
* `feature_dropout` (ours, 0 = off, the released method): channel dropout on the student's encoder stages for the
  unlabeled and fused samples, as Mean Teacher and CRLN use after a warm start (nnUNetTrainerDuCiSC_featureDropout).
Exported weights: the student (stock architecture).
"""
from typing import Dict, List, Optional, Tuple

import torch

from nnunetv2_pscm.components.boundary import one_hot
from nnunetv2_pscm.components.consistency import with_clamped_noise
from nnunetv2_pscm.components.deep_supervision import as_list, resize_soft, stock_loss_input
from nnunetv2_pscm.components.feature_hooks import feature_perturbation, forward_with_decoder_features
from nnunetv2_pscm.components.mixup import linear_blend, sample_blend_weights
from nnunetv2_pscm.components.prototypes import prototype_alignment_mse, soft_class_prototypes
from nnunetv2_pscm.components.thresholds import SelfAwareThresholds
from nnunetv2_pscm.methods.ducisc.losses import combine_losses, hard_pixel_consistency, soft_pixel_consistency
from nnunetv2_pscm.training import nnUNetTrainerSSL

DUCISC_LOG_KEYS = ("phase", "loss_sup", "loss_ulb_consistency", "loss_mix_consistency", "loss_ulb_prototype",
                   "loss_mix_prototype", "certain_fraction", "threshold_top_class_mean", "pl_foreground_fraction")


class DuCiSCTrainerBase(nnUNetTrainerSSL):
    # ---- teacher [code: EMA 0.99 with warm start min(1 - 1/(t+1), 0.99)] ----
    ema_alpha = 0.99
    unlabeled_two_views = True  # teacher: weak view; student: strong view (see the docstring)
    teacher_input_noise_std = 0.1
    teacher_input_noise_clamp = 0.2
    # ---- schedule [code: 2000 supervised-only of 15000 iterations] ----
    warmup_fraction = 2000 / 15000
    # ---- fusion, scales, thresholds [code] ----
    blend_low, blend_high = 0.25, 0.75
    num_scales = 4
    threshold_momentum = 0.99
    threshold_upper = 0.95
    # ---- loss weights [code: lamda_teacher, lamda_mix, lamda_proto, lamda_mix_proto] ----
    weight_ulb_consistency = 0.3
    weight_mix_consistency = 0.1
    weight_ulb_prototype = 0.1
    weight_mix_prototype = 0.1
    self_normalize_losses = True  # the released code; the weighted sum lost on the validation fold (README)
    # feature_dropout: nnUNetTrainerSSL's attribute, 0 here (the released method); see the docstring
    ssl_log_keys = DUCISC_LOG_KEYS
    labeled_loss_log_key = "loss_sup"

    # ------------------------------------------------------------------ setup
    def aligned_scales(self) -> int:
        """How many deep-supervision scales the method aligns (1 without deep supervision)."""
        if not self.enable_deep_supervision:
            return 1
        return max(1, min(self.num_scales, len(self.student_module.decoder.stages)))

    def build_extra_modules(self):
        return {"thresholds": SelfAwareThresholds(self.aligned_scales(), self.label_manager.num_segmentation_heads,
                                                  self.threshold_momentum, self.threshold_upper)}

    def initialize(self):
        super().initialize()
        if self.teacher is not None and self.enable_deep_supervision:
            # pseudo-labels and certainty are needed at every aligned scale, not only at full resolution
            self.teacher.module.decoder.deep_supervision = True

    @property
    def thresholds(self) -> SelfAwareThresholds:
        return self.extra_modules["thresholds"]

    def warmup_steps(self) -> int:
        if self.warm_started:
            return 0
        return int(round(self.warmup_fraction * self.num_epochs * self.num_iterations_per_epoch))

    def in_warmup(self) -> bool:
        return self.ssl_step < self.warmup_steps()

    def on_train_start(self):
        super().on_train_start()
        self.print_to_log_file(f"{self.__class__.__name__}: warm start {self.warm_started}, supervised-only warm-up "
                               f"{self.warmup_steps()} steps, {self.aligned_scales()} aligned scales, self-normalised "
                               f"losses {self.self_normalize_losses}")

    # ------------------------------------------------------------------ passes
    def student_pass_with_features(self, x: torch.Tensor) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
        """Outputs and decoder-stage features, both fine -> coarse. Runs the bare network (hooks on a compiled or
        DDP-wrapped module are not reliable; gradients are averaged by the base class either way)."""
        return forward_with_decoder_features(self.student_module, x)

    @torch.no_grad()
    def teacher_probabilities(self, x_u: torch.Tensor) -> List[torch.Tensor]:
        """Teacher softmax at every output scale, fine -> coarse."""
        x = with_clamped_noise(x_u, self.teacher_input_noise_std, self.teacher_input_noise_clamp)
        return [torch.softmax(o.float(), 1) for o in as_list(self.teacher(x))]

    # ------------------------------------------------------------------ the step
    def compute_loss(self, labeled: dict, unlabeled: dict):
        x_l, target_l = labeled["data"], labeled["target"]
        deep = self.enable_deep_supervision
        if self.in_warmup():
            outputs = as_list(self.student_forward(x_l))
            loss_sup = self.loss(stock_loss_input(outputs, deep), target_l)
            return loss_sup, {"phase": torch.tensor(0.0), "loss_sup": loss_sup}

        targets_l, x_u = as_list(target_l), unlabeled["data"]
        n_l, n_u = x_l.shape[0], x_u.shape[0]
        n_mix = min(n_l, n_u)
        num_classes = self.label_manager.num_segmentation_heads
        teacher_probs = self.teacher_probabilities(unlabeled.get("data_weak", x_u))
        pseudo = [p.argmax(1, keepdim=True) for p in teacher_probs]
        lam = sample_blend_weights(n_mix, self.blend_low, self.blend_high, device=x_l.device)
        x_mix = linear_blend(x_l[:n_mix], x_u[:n_mix], lam)
        soft_mix = linear_blend(one_hot(targets_l[0][:n_mix], num_classes), one_hot(pseudo[0][:n_mix], num_classes),
                                lam)

        # feature_dropout (0 by default: no hooks) perturbs the unlabeled and fused samples only (UniMatch)
        with feature_perturbation(self.perturbed_modules(), self.feature_dropout, first_sample=n_l):
            outputs, features = self.student_pass_with_features(torch.cat((x_l, x_u, x_mix)))
        loss_sup = self.loss(stock_loss_input(outputs, deep, n_l), target_l)
        parts = {k: [] for k in ("ulb", "mix", "ulb_proto", "mix_proto")}
        certain_full = None
        for s in range(min(self.aligned_scales(), len(outputs), len(teacher_probs))):
            out_u, out_m = outputs[s][n_l:n_l + n_u], outputs[s][n_l + n_u:]
            certain = self.thresholds.certain(s, teacher_probs[s])
            certain_full = certain if certain_full is None else certain_full
            mix_target = resize_soft(soft_mix, out_m.shape[2:])
            parts["ulb"].append(hard_pixel_consistency(out_u, pseudo[s], certain))
            parts["mix"].append(soft_pixel_consistency(out_m, mix_target, certain[:n_mix]))
            f = features[s]
            p_l = soft_class_prototypes(f[:n_l], one_hot(targets_l[s], num_classes))
            p_u = soft_class_prototypes(f[n_l:n_l + n_u], one_hot(pseudo[s], num_classes))
            p_m = soft_class_prototypes(f[n_l + n_u:], mix_target)
            parts["ulb_proto"].append(prototype_alignment_mse(*p_l, *p_u))
            parts["mix_proto"].append(prototype_alignment_mse(*p_l, *p_m))
            # updated after this step's masks were taken: used from the next step on (as in the code)
            self.thresholds.update(s, torch.softmax(out_u.detach().float(), 1), pseudo[s])

        terms = {"loss_ulb_consistency": (self.weight_ulb_consistency, _mean(parts["ulb"])),
                 "loss_mix_consistency": (self.weight_mix_consistency, _mean(parts["mix"])),
                 "loss_ulb_prototype": (self.weight_ulb_prototype, _mean(parts["ulb_proto"])),
                 "loss_mix_prototype": (self.weight_mix_prototype, _mean(parts["mix_proto"]))}
        total = combine_losses(loss_sup, terms, self.self_normalize_losses)
        top_class = pseudo[0]
        logs: Dict[str, torch.Tensor] = {
            "phase": torch.tensor(1.0), "loss_sup": loss_sup, "certain_fraction": certain_full.mean(),
            "threshold_top_class_mean": self.thresholds.values[0][top_class].float().mean(),
            "pl_foreground_fraction": (top_class > 0).float().mean()}
        logs.update({k: v for k, (_, v) in terms.items() if v is not None})
        return total, logs


def _mean(values: List[Optional[torch.Tensor]]) -> Optional[torch.Tensor]:
    """Mean over the scales whose term exists (None when none does)."""
    present = [v for v in values if v is not None]
    return torch.stack(present).mean() if present else None
