"""Mean Teacher (Tarvainen & Valpola, NeurIPS 2017) on nnU-Net, with a FixMatch-style pseudo-label term.

Supervised: nnU-Net's own Dice+CE with deep supervision on the labeled batch.
Unsupervised, on the unlabeled batch, both ramped in with a sigmoid over `consistency_rampup_fraction`:
* MSE between student and EMA-teacher class probabilities (SSL4MIS), weight `consistency_weight`;
* cross-entropy of the student on the teacher's hard pseudo-labels where the teacher's top probability is at least
  `pseudo_label_threshold` (FixMatch, Sohn et al. 2020), normalised by the number of confident voxels, weight
  `pseudo_label_weight`.
Why both: with SSL4MIS's weight 0.1 the MSE term was ~0.003 against a supervised loss of ~0.5 and changed nothing
(README); the thresholded CE gives confident unlabeled voxels the same pull as labeled ones.
What makes teacher and student differ (nnU-Net's network has no dropout): the teacher is a temporal average of the
student (EMA 0.99); it sees the weak view (geometric augmentation only, shared crop) plus N(0, 0.1) noise clamped
to +-0.2, the student the strong view (plus nnU-Net's photometric augmentation).
Two stronger unlabeled signals, on by default since 2026-12-05 (why: after a warm start the two terms above alone
are ~200x below the supervised loss on Left Atrium and the unlabeled data hardly reach the gradient; with these two
on, LA-4 gave 0.867 +- 0.016 Dice over two seeds against 0.822 for the two terms alone on seed 0, README;
`nnUNetTrainerMeanTeacher_plain` switches them off): `feature_dropout` (UniMatch's
feature perturbation, Yang et al. CVPR 2023: whole-channel dropout on every encoder stage's output, for the unlabeled
samples of the joint pass only, so the student cannot agree with the teacher for free; UniMatch runs it as a
separate stream of the weak view, ours rides on the strong view's pass to save a forward) and
`pseudo_label_dice_weight` (soft Dice on the confident pseudo-labels, weight map = the confidence mask, as BCP's
Dice + CE on pseudo-labels: the CE is dominated by easy background voxels, the Dice by the structure).
The pseudo-label Dice averages over the (sample, class) pairs that have confident voxels only
(`pseudo_label_dice_skips_empty`, since 2026-12-06): an empty pair means "not confident", not "absent", and counted it
drives the class's probability to 0 on every confident voxel. Measured on the demo's 3 classes (one run each, README):
counted, the hardest class never rose above 0.895 probability, so it never reached the 0.9 threshold and never got a
pseudo-label (Dice 0.768, below labeled-only 0.803); skipped, 84 % of its voxels are confident (0.799); the Left
Atrium figures above were measured with the pairs counted.
Warm start from the labeled-only model (`-pretrained_weights`) makes the teacher that model from the first step.
Our choices: the ramp-up spans a share of the schedule (SSL4MIS ramps over 40 x 150 iterations of a 6k-iteration
run; nnU-Net runs 250k, so an absolute length would not transfer); one student pass carries labeled and unlabeled
patches together. Exported weights: the student.
"""
import torch

from nnunetv2_pscm.components.consistency import probabilities, probability_mse, with_clamped_noise
from nnunetv2_pscm.components.deep_supervision import as_list, full_resolution, stock_loss_input
from nnunetv2_pscm.components.feature_hooks import feature_perturbation
from nnunetv2_pscm.components.pseudo_labels import confident_pseudo_labels
from nnunetv2_pscm.components.ramps import sigmoid_rampup
from nnunetv2_pscm.components.weighted_losses import masked_mean_cross_entropy, weighted_soft_dice_loss
from nnunetv2_pscm.training import nnUNetTrainerSSL


class nnUNetTrainerMeanTeacher(nnUNetTrainerSSL):
    ema_alpha = 0.99
    consistency_weight = 1.0
    pseudo_label_weight = 1.0
    pseudo_label_threshold = 0.9
    consistency_rampup_fraction = 0.25
    teacher_input_noise_std = 0.1
    teacher_input_noise_clamp = 0.2
    feature_dropout = 0.5  # channel dropout on the encoder stages' outputs, unlabeled samples only (docstring)
    pseudo_label_dice_weight = 1.0  # soft Dice on the confident pseudo-labels (docstring)
    pseudo_label_dice_skips_empty = True  # the Dice averages over (sample, class) pairs with confident voxels only
    unlabeled_two_views = True
    supports_regions = True
    supports_ignore_label = True
    quality_guidance_hooks = True
    ssl_log_keys = ("loss_sup", "loss_consistency", "loss_pseudo_label", "loss_pseudo_label_dice",
                    "pl_confident_fraction", "consistency_ramp")
    labeled_loss_log_key = "loss_sup"

    def consistency_ramp(self) -> float:
        total = self.num_epochs * self.num_iterations_per_epoch
        return sigmoid_rampup(self.ssl_step, self.consistency_rampup_fraction * total)

    def compute_loss(self, labeled, unlabeled):
        n_labeled = labeled["data"].shape[0]
        with feature_perturbation(self.perturbed_modules(), self.feature_dropout, first_sample=n_labeled):
            outputs = as_list(self.student_forward(torch.cat((labeled["data"], unlabeled["data"]))))
        loss_sup = self.loss(stock_loss_input(outputs, self.enable_deep_supervision, n_labeled), labeled["target"])

        teacher_input = with_clamped_noise(unlabeled["data_weak"], self.teacher_input_noise_std,
                                           self.teacher_input_noise_clamp)
        teacher_logits = full_resolution(self.teacher(teacher_input))
        student_logits = outputs[0][n_labeled:]

        regions = self.label_manager.has_regions
        logs = {"loss_sup": loss_sup}
        teacher_probs = probabilities(teacher_logits.float(), regions)
        # quality guidance (the _QG variants; None here): one weight per unlabeled sample on every unlabeled term
        sample_weight = self.compute_sample_weights(unlabeled["data_weak"], teacher_probs, logs)
        loss_cons = probability_mse(student_logits, teacher_logits, regions=regions, sample_weight=sample_weight)
        logs["loss_consistency"] = loss_cons
        ramp = self.consistency_ramp()
        total = loss_sup + ramp * self.consistency_weight * loss_cons
        if self.pseudo_label_weight > 0 and not regions:  # hard pseudo-labels need mutually exclusive classes
            labels, confident = confident_pseudo_labels(teacher_probs, self.pseudo_label_threshold)
            loss_pl = masked_mean_cross_entropy(student_logits, labels, confident, sample_weight)
            logs.update(loss_pseudo_label=loss_pl, pl_confident_fraction=confident.mean())
            total = total + ramp * self.pseudo_label_weight * loss_pl
            if self.pseudo_label_dice_weight > 0:
                loss_pl_dice = weighted_soft_dice_loss(student_logits, labels, confident.float(),
                                                       sample_weight=sample_weight,
                                                       skip_empty_targets=self.pseudo_label_dice_skips_empty)
                logs["loss_pseudo_label_dice"] = loss_pl_dice
                total = total + ramp * self.pseudo_label_dice_weight * loss_pl_dice
        quality_regulariser = self.qar_loss(unlabeled["data"], student_logits, logs)
        if quality_regulariser is not None:
            total = total + quality_regulariser
        logs["consistency_ramp"] = torch.tensor(ramp)
        return total, logs
