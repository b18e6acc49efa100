"""CRLNTrainerBase: cooperative rectification learning (Wang, Song, Liu, Ma, Yan, Carneiro, arXiv 2502.11456) on
nnU-Net's plans, network and loss. Spec: shared/specs/methods.md section 4. No code is public (the authors' repository
holds a README only), so only the module names and their roles are the paper's.

CONFIRMED by the paper (abstract and summaries):
* multiple learnable prototypes per class, learned from labeled data, used to rectify pseudo-labels voxel-wise;
* DIM, a dynamic interaction module: pairwise and cross-class interactions between the prototypes and
  multi-resolution image features, giving a relationship map M(x) with voxel-level clues for the rectification;
* CPS, cooperative positive supervision: uncertain representations are aligned with "unassertive" positives that
  blend a prototype-driven representation with the class-mean representation;
* consistency across views of the unlabeled data, supervised by the rectified pseudo-labels.

OUR RECONSTRUCTION (every choice is a named attribute below):
* Base: student + EMA teacher (`ema_alpha` 0.99), not two co-trained networks (TraCoCo, the likely base). Why: the
  exported model is then one stock network at stock inference speed; the warm start from the labeled-only model
  (`-pretrained_weights`) works as for the other trainers (the teacher starts as that model); and our dual-network
  trainer measured 5.5x stock step time. The teacher sees the weak view (geometric augmentation only, same crop) plus
  clamped N(0, 0.1) noise, the student the strong view; nnU-Net's network has no dropout, so `feature_dropout` (0.5)
  drops whole channels of every encoder stage's output for the student's UNLABELED samples (UniMatch's feature
  perturbation, as the project's Mean Teacher). Why: on LA-4 (seed 1, warm start, 2026-12-05) CRLN without it ended
  0.002 Dice below its labeled-only model; its log showed the student agreeing with the teacher for free
  (consistency 0.043, 99.75 % of voxels confident, 0.11 % flipped by the rectification), the failure Mean Teacher
  had before the same perturbation lifted it from 0.822 to 0.867 Dice. Default by that analogy; whether it lifts
  CRLN is measured against `nnUNetTrainerCRLN_noFeatureDropout` (README).
* Prototypes: Pi in R^{C x K x D}, K = `prototypes_per_class` (4), D = the width of decoder stage `prototype_stage`
  (0 = the finest, full resolution). Trained on labeled voxels with the cosine prototype classifier
  s_c = max_k cos(z, pi_ck) / T (CE against the ground truth) plus `weight_diversity` x the mean positive cosine
  among a class's K prototypes (methods/crln/prototypes.py, components/prototype_classifier.py). These labeled
  terms also train the student's features (end to end, as we read the paper); `prototype_terms_train_student = False`
  detaches them, so that after a warm start the random prototypes cannot disturb the converged network.
* DIM (methods/crln/dim.py): prototypes as queries cross-attend to pooled tokens of `dim_num_resolutions` decoder
  resolutions (1x1 linear projections to D, `dim_tokens_per_resolution` tokens each), then self-attend across all
  C*K prototypes; voxel-prototype cosines at every resolution are upsampled, averaged, maxed over k and softmaxed
  over classes (temperature `relationship_temperature`) into M(x). DIM is trained by cross-entropy of M on the
  labeled voxels (student features; `loss_relationship`) - the paper only says it draws on labeled-data knowledge.
  On the unlabeled batch M is computed from the TEACHER's features without gradient: it only shapes targets.
* Rectification (methods/crln/rectification.py): p~ ∝ p_t M^beta (`rectify_mode` "product", beta 1) or the blend
  (1 - beta) p_t + beta M; pseudo-label argmax p~; voxels with max p~ < `pseudo_label_threshold` (0.65, TraCoCo's
  confidence threshold) are ignored. Consistency: CE (+ `consistency_dice_weight` x soft Dice: the CE alone is
  dominated by easy background voxels, the project's Mean Teacher finding) of the student's strong-view output on
  the rectified pseudo-labels, over the kept voxels, full resolution.
* CPS (methods/crln/cps.py): uncertain voxels (max p~ < `cps_uncertainty_threshold`, 0.8), at most `cps_max_voxels`
  drawn at random; InfoNCE (T = `cps_temperature`, 0.1) of the student's feature at the prototype stage, projected by
  DIM's projection of that stage, against r+_c = normalize(gamma r^proto_c(x) + (1 - gamma) rbar_c) (unit parts,
  `cps_gamma` 0.5), negatives the r+ of the other classes. r^proto_c(x) = the image's DIM-updated prototypes of class
  c averaged over k; rbar_c = the projected mean teacher feature of the batch's confident (max p~ >= 0.8) class-c
  voxels; a class without confident voxels falls back to the prototype part alone (never NaN). The positive is
  DETACHED (built on the teacher side under no_grad, like the pseudo-label): a live positive would let the loss
  pull the confident class mean and the prototypes towards the uncertain voxels - the opposite of the intent, and a
  route to collapsing the classes onto each other.
* Loss: nnU-Net's Dice+CE with deep supervision on the labeled batch (`loss_sup`), + `weight_prototype` x
  (classifier CE + diversity + relationship CE) on labeled voxels, + ramp x (`weight_consistency` x consistency
  + `weight_cps` x CPS). Sigmoid ramp over `rampup_fraction` of the steps after the warm-up: at the start M comes
  from barely trained prototypes, and the ramp keeps its pseudo-labels from counting while they learn.
* Schedule: a cold start trains the labeled terms only (stock loss AND the prototype/DIM terms, so M is fit to the
  labeled data before it rectifies anything) for `warmup_fraction` of the steps; after a warm start, none.
* One student pass over labeled + strong unlabeled (InstanceNorm is per sample, so this equals two passes), one
  teacher pass over the weak unlabeled view; decoder features through forward hooks.
Exported weights: the student (stock architecture); prototypes and DIM live in `ssl_state` and are never exported.
"""
from typing import Dict, List, NamedTuple, Optional, Sequence

import torch
import torch.nn.functional as F

from nnunetv2_pscm.components.consistency import with_clamped_noise
from nnunetv2_pscm.components.deep_supervision import full_resolution, resize_nearest, resize_soft, stock_loss_input
from nnunetv2_pscm.components.feature_hooks import feature_perturbation, forward_with_decoder_features
from nnunetv2_pscm.components.pseudo_labels import confident_pseudo_labels
from nnunetv2_pscm.components.ramps import sigmoid_rampup
from nnunetv2_pscm.components.weighted_losses import masked_mean_cross_entropy, weighted_soft_dice_loss
from nnunetv2_pscm.methods.crln.cps import (class_means_of_confident_voxels, cooperative_positive_supervision,
                                            gather_voxel_features, positive_representations, sample_voxels)
from nnunetv2_pscm.methods.crln.dim import DynamicInteractionModule, Relationship, upsample
from nnunetv2_pscm.methods.crln.prototypes import LearnablePrototypes
from nnunetv2_pscm.methods.crln.rectification import RECTIFY_MODES, rectify
from nnunetv2_pscm.training import nnUNetTrainerSSL

CRLN_LOG_KEYS = ("phase", "loss_sup", "loss_proto_cls", "loss_proto_div", "loss_relationship", "relationship_accuracy",
                 "loss_consistency", "loss_cps", "unlabeled_ramp", "pl_confident_fraction", "pl_flipped_fraction",
                 "cps_uncertain_fraction")


class PseudoLabelTargets(NamedTuple):
    """What the teacher side (no gradient) gives the student's unlabeled terms."""
    labels: torch.Tensor  # (B, 1, *full) argmax of the rectified probabilities
    keep: torch.Tensor  # (B, 1, *full) float, 1 where max p~ >= pseudo_label_threshold
    flipped: torch.Tensor  # (B, 1, *full) bool, where rectification changed the teacher's argmax
    stage_labels: torch.Tensor  # (B, 1, *stage) argmax p~ at the prototype stage's resolution
    uncertain: torch.Tensor  # (B, 1, *stage) bool, max p~ < cps_uncertainty_threshold
    positives: torch.Tensor  # (B, C, D) unit CPS positives r+


class CRLNTrainerBase(nnUNetTrainerSSL):
    # ---- teacher and views [ours: the project's student + EMA teacher, see the docstring] ----
    ema_alpha = 0.99
    unlabeled_two_views = True
    teacher_input_noise_std = 0.1
    teacher_input_noise_clamp = 0.2
    feature_dropout = 0.5  # channel dropout on the encoder stages' outputs, student's unlabeled samples (docstring)
    # ---- schedule [ours] ----
    warmup_fraction = 0.1  # labeled terms only, cold start; none after a warm start
    rampup_fraction = 0.25  # sigmoid ramp of the unlabeled terms, over this share of the steps after the warm-up
    # ---- prototypes [paper: multiple learnable prototypes per class; numbers ours] ----
    prototypes_per_class = 4
    prototype_stage = 0  # decoder stage, fine -> coarse (0 = finest); D = its width
    prototype_temperature = 0.1
    weight_prototype = 1.0  # classifier CE + diversity + relationship CE, labeled voxels
    weight_diversity = 0.1
    prototype_terms_train_student = True  # False: prototypes and DIM read detached student features (docstring)
    # ---- DIM [paper: named; internals ours] ----
    use_dim = True  # False: M = the raw prototype classifier at the prototype stage (ablation _noDIM)
    dim_num_resolutions = 3  # decoder stages fine -> coarse
    dim_num_heads = 4  # falls back to 1 when D is not divisible
    dim_tokens_per_resolution = 256  # pooled tokens per image and resolution (attention cost)
    relationship_temperature = 0.1
    # ---- rectification and consistency [TraCoCo threshold 0.65; the rest ours] ----
    rectify_mode = "product"  # "product" | "blend" | "none" (ablation _noRectify)
    rectify_beta = 1.0
    pseudo_label_threshold = 0.65
    weight_consistency = 1.0
    consistency_dice_weight = 1.0
    # ---- CPS [paper: named; spec 4.3 defaults] ----
    weight_cps = 0.1  # 0: off (ablation _noCPS)
    cps_uncertainty_threshold = 0.8
    cps_gamma = 0.5
    cps_temperature = 0.1
    cps_max_voxels = 4096
    ssl_log_keys = CRLN_LOG_KEYS
    labeled_loss_log_key = "loss_sup"

    # ------------------------------------------------------------------ setup
    def stage_widths(self) -> List[int]:
        """Channels of the decoder stages, fine -> coarse (decoder stage s outputs encoder stage s's width)."""
        n_stages = len(self.student_module.decoder.stages)
        return list(self.student_module.encoder.output_channels[:n_stages])

    def dim_levels(self) -> int:
        return max(1, min(self.dim_num_resolutions, len(self.student_module.decoder.stages)))

    def _check_attributes(self) -> None:
        name = type(self).__name__
        if self.rectify_mode not in RECTIFY_MODES:
            raise ValueError(f"{name}.rectify_mode must be one of {RECTIFY_MODES}, got {self.rectify_mode!r}")
        limit = self.dim_levels() if self.use_dim else len(self.stage_widths())
        if not 0 <= self.prototype_stage < limit:
            raise ValueError(f"{name}.prototype_stage = {self.prototype_stage} must be one of the "
                             f"{'DIM resolutions' if self.use_dim else 'decoder stages'} 0..{limit - 1}")

    def build_extra_modules(self):
        self._check_attributes()
        widths = self.stage_widths()
        dim = widths[self.prototype_stage]
        modules = {"prototypes": LearnablePrototypes(self.label_manager.num_segmentation_heads,
                                                     self.prototypes_per_class, dim)}
        if self.use_dim:
            heads = self.dim_num_heads if dim % self.dim_num_heads == 0 else 1
            modules["dim"] = DynamicInteractionModule(widths[:self.dim_levels()], dim, heads,
                                                      self.dim_tokens_per_resolution, self.relationship_temperature)
        return modules

    @property
    def prototypes(self) -> LearnablePrototypes:
        return self.extra_modules["prototypes"]

    @property
    def dim(self) -> Optional[DynamicInteractionModule]:
        return self.extra_modules["dim"] if self.use_dim else None

    def total_steps(self) -> int:
        return self.num_epochs * self.num_iterations_per_epoch

    def warmup_steps(self) -> int:
        return 0 if self.warm_started else int(round(self.warmup_fraction * self.total_steps()))

    def in_warmup(self) -> bool:
        return self.ssl_step < self.warmup_steps()

    def unlabeled_ramp(self) -> float:
        return sigmoid_rampup(self.ssl_step - self.warmup_steps(), self.rampup_fraction * self.total_steps())

    def on_train_start(self):
        super().on_train_start()
        self.print_to_log_file(f"{type(self).__name__}: warm start {self.warm_started}, labeled-only warm-up "
                               f"{self.warmup_steps()} steps, prototypes {tuple(self.prototypes.prototypes.shape)}, "
                               f"DIM {'on, ' + str(self.dim_levels()) + ' resolutions' if self.use_dim else 'off'}, "
                               f"rectify {self.rectify_mode}, CPS weight {self.weight_cps}")

    # ------------------------------------------------------------------ prototypes, DIM, M(x)
    def relationship(self, features: Sequence[torch.Tensor], output_size: Sequence[int]) -> Relationship:
        """M(x) logits at output_size and r^proto (B, C, D) from decoder features fine -> coarse."""
        if self.use_dim:
            return self.dim(self.prototypes(), list(features[:self.dim_levels()]), output_size)
        stage = features[self.prototype_stage]
        logits = upsample(self.prototypes.scores(stage, self.prototype_temperature), output_size)
        return Relationship(logits, self.prototypes().mean(1).unsqueeze(0).expand(stage.shape[0], -1, -1))

    def embed_vectors(self, vectors: torch.Tensor) -> torch.Tensor:
        """Prototype-stage feature vectors (..., D) in the space of r^proto: DIM's projection, or as they are."""
        return self.dim.embed_vectors(vectors, self.prototype_stage) if self.use_dim else vectors

    def labeled_prototype_terms(self, features: Sequence[torch.Tensor], target: torch.Tensor,
                                output_size: Sequence[int]) -> Dict[str, torch.Tensor]:
        """Classifier CE, diversity and (with DIM) the relationship map's CE on the labeled voxels, plus the map's
        voxel accuracy (a monitor of how far M can be trusted). target (B, 1, *full)."""
        if not self.prototype_terms_train_student:
            features = [f.detach() for f in features]
        stage = features[self.prototype_stage]
        terms = {"loss_proto_cls": self.prototypes.classifier_loss(stage, resize_nearest(target, stage.shape[2:]),
                                                                   self.prototype_temperature),
                 "loss_proto_div": self.prototypes.diversity()}
        logits = self.relationship(features, output_size).logits
        if self.use_dim:  # without DIM the map IS the classifier, already trained above
            terms["loss_relationship"] = F.cross_entropy(logits, target[:, 0].long())
        terms["relationship_accuracy"] = (logits.detach().argmax(1) == target[:, 0]).float().mean()
        return terms

    def prototype_loss(self, terms: Dict[str, torch.Tensor]) -> torch.Tensor:
        return (terms["loss_proto_cls"] + self.weight_diversity * terms["loss_proto_div"]
                + terms.get("loss_relationship", 0.0))

    # ------------------------------------------------------------------ teacher side
    @torch.no_grad()
    def pseudo_label_targets(self, x_weak: torch.Tensor) -> PseudoLabelTargets:
        x = with_clamped_noise(x_weak, self.teacher_input_noise_std, self.teacher_input_noise_clamp)
        outputs, features = forward_with_decoder_features(self.teacher.module, x)
        teacher_probs = torch.softmax(outputs[0].float(), 1)
        relation = self.relationship(features, teacher_probs.shape[2:])
        rectified = rectify(teacher_probs, relation.relationship_map, self.rectify_mode, self.rectify_beta)
        labels, keep = confident_pseudo_labels(rectified, self.pseudo_label_threshold)
        stage = features[self.prototype_stage]
        stage_top, stage_labels = resize_soft(rectified, stage.shape[2:]).max(1, keepdim=True)
        confident = stage_top >= self.cps_uncertainty_threshold
        means, present = class_means_of_confident_voxels(stage, stage_labels, confident, rectified.shape[1])
        positives = positive_representations(relation.class_representations, self.embed_vectors(means),
                                             present, self.cps_gamma)
        return PseudoLabelTargets(labels, keep, labels != teacher_probs.argmax(1, keepdim=True), stage_labels,
                                  ~confident, positives)

    # ------------------------------------------------------------------ the step
    def cps_loss(self, student_stage_features: torch.Tensor, targets: PseudoLabelTargets) -> Optional[torch.Tensor]:
        """CPS on the student's unlabeled prototype-stage features (B_u, F, *stage); None without uncertain voxels."""
        sample, voxel = sample_voxels(targets.uncertain, self.cps_max_voxels)
        anchors = self.embed_vectors(gather_voxel_features(student_stage_features, sample, voxel))
        classes = targets.stage_labels.flatten(1)[sample, voxel]
        return cooperative_positive_supervision(anchors, sample, classes, targets.positives, self.cps_temperature)

    def compute_loss(self, labeled: dict, unlabeled: dict):
        x_l, target_l = labeled["data"], labeled["target"]
        n_l, deep = x_l.shape[0], self.enable_deep_supervision
        target_full = full_resolution(target_l)
        if self.in_warmup():
            outputs, features = forward_with_decoder_features(self.student_module, x_l)
            loss_sup = self.loss(stock_loss_input(outputs, deep), target_l)
            proto = self.labeled_prototype_terms(features, target_full, outputs[0].shape[2:])
            total = loss_sup + self.weight_prototype * self.prototype_loss(proto)
            return total, {"phase": torch.tensor(0.0), "loss_sup": loss_sup, **proto}

        x_u = unlabeled["data"]
        targets = self.pseudo_label_targets(unlabeled.get("data_weak", x_u))
        with feature_perturbation(self.perturbed_modules(), self.feature_dropout, first_sample=n_l):
            outputs, features = forward_with_decoder_features(self.student_module, torch.cat((x_l, x_u)))
        loss_sup = self.loss(stock_loss_input(outputs, deep, n_l), target_l)
        proto = self.labeled_prototype_terms([f[:n_l] for f in features], target_full, outputs[0].shape[2:])
        out_u = outputs[0][n_l:]
        consistency = masked_mean_cross_entropy(out_u, targets.labels, targets.keep)
        if self.consistency_dice_weight:
            consistency = consistency + self.consistency_dice_weight * weighted_soft_dice_loss(out_u, targets.labels,
                                                                                               targets.keep)
        cps = self.cps_loss(features[self.prototype_stage][n_l:], targets) if self.weight_cps else None
        ramp = self.unlabeled_ramp()
        unlabeled_loss = self.weight_consistency * consistency
        if cps is not None:
            unlabeled_loss = unlabeled_loss + self.weight_cps * cps
        total = loss_sup + self.weight_prototype * self.prototype_loss(proto) + ramp * unlabeled_loss
        logs = {"phase": torch.tensor(1.0), "loss_sup": loss_sup, **proto, "loss_consistency": consistency,
                "unlabeled_ramp": torch.tensor(ramp), "pl_confident_fraction": targets.keep.mean(),
                "pl_flipped_fraction": targets.flipped.float().mean(),
                "cps_uncertain_fraction": targets.uncertain.float().mean()}
        if cps is not None:
            logs["loss_cps"] = cps
        return total, logs
