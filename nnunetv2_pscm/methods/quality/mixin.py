"""QualityGuidedMixin: QG-SSL's plug-in (PL-QW and QAR) for any SSL trainer that exposes the quality hooks.

    class nnUNetTrainerBCP_QG(QualityGuidedMixin, nnUNetTrainerBCP): pass

is a whole trainer: the host makes its unsupervised loss as before and calls two hooks of nnUNetTrainerSSL where it
does (`compute_sample_weights`, `qar_loss`; hosts that do set ``quality_guidance_hooks = True``, and the mixin
refuses a host that does not, so it can never be silently inert). The mixin answers them with the fold's frozen
quality predictor (`guidance.QualityGuide`), built beforehand by ``nnUNetv2_pscm_train_quality`` from the fold's
labeled cases:

* **PL-QW** [PAPER: q as a sample weight]: q_i = Q(x_i, hard pseudo-label_i) for every unlabeled sample of the batch
  (the teacher's view and its final pseudo-label, argmax if the host passes probabilities: Q was trained on hard
  masks); each sample's unsupervised terms are scaled by w_i = `sample_weights(q, quality_weighting,
  quality_threshold)`. Default ``q_over_mean`` [ours]: the host's tuned unsupervised weight keeps its scale and
  only the emphasis among samples moves (``q`` would also shrink the whole term by the mean predicted quality).
* **QAR** [PAPER: a differentiable quality-aware regulariser]: ``qar_weight`` x ramp x mean_i (1 - Q(x_i,
  softmax(student(x_i)))) on the plain (strong-view) unlabeled batch; the gradient reaches the student through the
  soft mask only. The ramp is the sigmoid ramp-up over ``qar_rampup_fraction`` of all steps [spec: "the same
  sigmoid ramp-up as the base method"; ours: one share for every host]. A host whose student does not see the
  plain unlabeled batch (BCP and PSCM see mixed images) adds it to its student pass while QAR is on: that pass
  costs one unlabeled batch more per step.
* The predictor is found at ``nnUNet_results/<Dataset>/quality_<plans>__<configuration>/fold_F/quality_predictor.pth``
  (or ``quality_predictor_path``) and must have been built for the same dataset, plans, configuration and fold;
  otherwise training stops at initialise with the command that builds it. It is frozen, kept outside the optimiser
  and outside the checkpoint (it is a file the user built; its path and validation rho / MAE are logged).
* Exported weights: the host's (the student, stock architecture); Q is used only in training [INF, spec 3.4].
Not supported: region-based datasets and ignore labels (the predictor is not built for them).
"""
from typing import Optional

import torch

from nnunetv2_pscm.components.ramps import sigmoid_rampup
from nnunetv2_pscm.methods.quality.guidance import WEIGHTING_RULES, QualityGuide, sample_weights
from nnunetv2_pscm.methods.quality.locate import build_command, fold_predictor
from nnunetv2_pscm.methods.quality.training import QualityTrainingError

QG_LOG_KEYS = ("qg_mean_quality", "qg_min_weight", "loss_qar", "qar_ramp")


class QualityGuidedMixin:
    # ---- QG-SSL [PAPER: PL-QW and QAR exist; every value below is ours] ----
    use_sample_weighting = True  # PL-QW
    quality_weighting = "q_over_mean"  # one of guidance.WEIGHTING_RULES
    quality_threshold = 0.5  # for quality_weighting = "threshold"
    qar_weight = 0.1  # QAR; 0 = off
    qar_rampup_fraction = 0.1
    quality_predictor_path: Optional[str] = None  # None: the fold's predictor in nnUNet_results (module docstring)
    supports_regions = False
    supports_ignore_label = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not getattr(cls, "quality_guidance_hooks", False):
            raise TypeError(f"{cls.__name__}: its host trainer does not call the quality-guidance hooks "
                            f"(nnUNetTrainerSSL.compute_sample_weights / qar_loss), so the plug-in would do nothing")
        keys = tuple(cls.ssl_log_keys)
        cls.ssl_log_keys = keys + tuple(k for k in QG_LOG_KEYS if k not in keys)

    # ------------------------------------------------------------------ predictor
    def initialize(self):
        if self.quality_weighting not in WEIGHTING_RULES:
            raise ValueError(f"{type(self).__name__}.quality_weighting must be one of {WEIGHTING_RULES}, got "
                             f"{self.quality_weighting!r}")
        super().initialize()
        self.quality_guide = self._load_quality_guide().to(self.device)

    def _load_quality_guide(self) -> QualityGuide:
        dataset, plans = self.plans_manager.dataset_name, self.plans_manager.plans_name
        net, record, path = fold_predictor(dataset, self.configuration_name, self.fold, plans,
                                           self.quality_predictor_path)
        if (net.image_channels, net.num_classes) != (self.num_input_channels,
                                                     self.label_manager.num_segmentation_heads):
            raise QualityTrainingError(f"{path} takes {net.image_channels} image channels and {net.num_classes} "
                                       f"classes; this run has {self.num_input_channels} and "
                                       f"{self.label_manager.num_segmentation_heads}. Rebuild it: "
                                       f"{build_command(dataset, self.configuration_name, self.fold, plans)}")
        self.print_to_log_file(f"Quality guidance: predictor {path} (validation rho {record.get('val_spearman_rho')}, "
                               f"MAE {record.get('val_mae')}); PL-QW {self.use_sample_weighting} "
                               f"({self.quality_weighting}), QAR weight {self.qar_weight}")
        return QualityGuide(net, record["patch_size"])

    # ------------------------------------------------------------------ the hooks
    def compute_sample_weights(self, image: torch.Tensor, pseudo_label: torch.Tensor,
                               logs: dict) -> Optional[torch.Tensor]:
        if pseudo_label.shape[1] > 1:  # probabilities: score the hard mask, the kind Q was trained on
            pseudo_label = pseudo_label.argmax(1, keepdim=True)
        q = self.quality_guide.score(image, pseudo_label)
        logs["qg_mean_quality"] = q.mean()
        if not self.use_sample_weighting:
            return None
        weights = sample_weights(q, self.quality_weighting, self.quality_threshold)
        logs["qg_min_weight"] = weights.min()
        return weights

    def qar_ramp(self) -> float:
        total = self.num_epochs * self.num_iterations_per_epoch
        return sigmoid_rampup(self.ssl_step, self.qar_rampup_fraction * total)

    def wants_unlabeled_student_output(self) -> bool:
        return self.qar_weight > 0

    def qar_loss(self, image: torch.Tensor, student_logits: torch.Tensor, logs: dict) -> Optional[torch.Tensor]:
        if self.qar_weight <= 0:
            return None
        loss = self.quality_guide.qar_loss(image, student_logits)
        ramp = self.qar_ramp()
        logs.update(loss_qar=loss, qar_ramp=torch.tensor(ramp))
        return self.qar_weight * ramp * loss
