"""DualNetTrainerBase: two heterogeneous networks with cross-consistency enhancement, KL-weighted pseudo-labels and
prototype contrast (Lu, Wu, Chaddad et al., "Enhancing Dual Network Based Semi-Supervised Medical Image Segmentation
with Uncertainty-Guided Pseudo-Labeling", arXiv 2509.13084; released code AIPMLab/Semi-supervised-Segmentation,
itself based on MCF). Spec: shared/specs/methods.md section 5.

Networks: the plans' own architecture (nnU-Net's `self.network`, stock keys, stock optimizer) and the other
dynamic-network-architectures family built from the same plans (`extra_modules['partner']`): PlainConvUNet and
ResidualEncoderUNet, stand-ins for the paper's V-Net and ResNet-34 net (networks.py). Both see the plans' labeled
batch and the unlabeled batch (one pass each over [labeled, unlabeled]; nnU-Net's InstanceNorm is per sample).

Per iteration (terms at full resolution unless said otherwise; names as logged, per family 'plain' / 'resenc'):
  1. supervised, each net: nnU-Net's own Dice+CE with deep supervision (`loss_sup_*`)
     + cr_weight (0.5) x CR: squared error to the label on the voxels where exactly one net is confidently (p >= 0.6)
     foreground, per foreground class (`loss_cr_*`);
  2. winner = the net with the lower nnU-Net loss on the labeled batch (all ranks agree under DDP); the other is the
     learner (`learner_is_resenc`);
  3. CCE, each net, on the unlabeled batch (ramped in, see below): pseudo-labels 'union' (one shared target) or 'cross' (the peer's
     argmax) (`cce_target`); a voxel is dropped when both nets' entropies are at or above their own 20th
     percentile over the batch; CE on the kept voxels x N_all / N_kept (`loss_unlabeled_*`, `kept_fraction`);
  4. the learner only: KL-weighted pseudo-label CE with the winner as detached teacher, w = exp(-KL), plus mean KL
     (`loss_kl`); cosine disagreement of the two nets' probabilities, gradient to both (`loss_cos`); both on the
     whole batch; prototype contrast on its uncertain (dropped) unlabeled voxels, ramped up (`loss_contrast`).
  Total = sum over both nets of (1) and (3) + the learner's (4); one backward.

The released code's defects, fixed here (there is deliberately no switch that brings them back):
  (a) zero gradient: its unlabeled CE and its contrast were computed on detached tensors / under no_grad, so they
      never trained anything; here every term is built from the live logits and features (a test proves gradient);
  (b) entropies from logits: the entropy filter's "teacher" entropies were computed on logits; here both on
      probabilities;
  (c) prototype term pulling classes together: the fg-bg prototype distance was ADDED to the loss; here the
      contrast pushes each candidate away from the other classes' prototypes (InfoNCE, temperature 0.07 as the
      code's unused PatchNCE helper, or a margin, `contrast_loss`);
  (d) the code's KL term always uses its ResNet net as student and its V-Net as teacher, also in iterations where the
      V-Net is the learner, so that learner's KL term gave it no gradient; here the student is the learner and the
      teacher the winner (`kl_student = 'learner'`; 'resenc' is the code's fixed pairing).

nnU-Net forces or we chose (README, trainer table):
* optimizers: ONE EACH, both nnU-Net's (SGD 0.99 Nesterov, poly learning rate, clipping at 12): the plans network
  keeps nnU-Net's own optimizer and scheduler (`optimizer_state` in the checkpoint), the partner gets an identical
  one (`extra_optimizers['partner']`, with its own poly scheduler). Why: the code has one SGD per net, and one joint
  gradient clipping over both nets would let one net's gradient burst shrink the other's step; with separate
  optimizers the base class clips each net alone, as a stock nnU-Net run clips its one network. (The code: SGD
  0.01, lr x 0.1 every 2500 of 6000 iterations.)
* deep supervision: nnU-Net's loss uses every scale (outputs fine -> coarse); CR, CCE, KL, cosine and contrast use
  the full-resolution output only (the released nets have no deep supervision), the contrast the last decoder
  stage's features (the code's 16-channel 'rep' at full resolution).
* ramps in fractions of the schedule: the contrast weight 0.1 ramps in over `contrast_rampup_fraction` = 1.0 of it
  (the code: 40 x 150 iterations = its whole 6000-iteration run). [ours] The two terms that train a net towards the
  OTHER net's predictions, CCE and the cosine agreement (gradient to both nets), ramp in over
  `peer_rampup_fraction` = 0.1 (sigmoid): at the start one net's predictions are noise (cold start: both; after a
  `-pretrained_weights` warm start: the partner, which starts from scratch, while the plans network is converged,
  and the union target would paste the partner's random foreground into the converged network's targets at full
  learning rate). The code ramps neither. Supervised, CR (to the label) and the KL term (to the detached winner,
  which is how the partner catches up) are not ramped.
* multi-class: CR per foreground class; the union target takes the predicting net's class (the more confident one
  when both predict foreground); one prototype per class.
* the winner is compared on nnU-Net's Dice+CE (the code: its Dice loss).
* no EMA teacher (the code has none).
Inference: nnUNetTrainerDualNet exports the averaged ensemble (networks.DualNetEnsemble, ~2x inference cost);
nnUNetTrainerDualNet_single (`inference = 'single'`) exports the net with the higher EMA of nnU-Net's online
validation pseudo-Dice (EMA 0.9, as nnU-Net's `ema_fg_dice`), at stock speed and as that net's stock state dict.
"""
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from nnunetv2.training.loss.dice import get_tp_fp_fn_tn
from nnunetv2.training.lr_scheduler.polylr import PolyLRScheduler
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
from nnunetv2.utilities.collate_outputs import collate_outputs
from nnunetv2.utilities.helpers import dummy_context
from torch import autocast, nn
from torch import distributed as dist

from nnunetv2_pscm.components.deep_supervision import as_list, full_resolution, stock_loss_input
from nnunetv2_pscm.components.feature_hooks import capture_outputs
from nnunetv2_pscm.components.ramps import sigmoid_rampup
from nnunetv2_pscm.methods.dualnet import losses
from nnunetv2_pscm.methods.dualnet.networks import DualNetEnsemble, SelectedNet, build_partner_network, family
from nnunetv2_pscm.training import nnUNetTrainerSSL
from nnunetv2_pscm.training.ddp import all_reduce_mean

FAMILY_NAMES = ("plain", "resenc")
DUALNET_LOG_KEYS = ("loss_sup", "loss_sup_plain", "loss_sup_resenc", "loss_cr_plain", "loss_cr_resenc",
                    "cr_mask_fraction", "learner_is_resenc", "loss_unlabeled_plain", "loss_unlabeled_resenc",
                    "kept_fraction", "pl_foreground_fraction", "peer_weight", "loss_kl", "kl_mean", "loss_cos", "loss_contrast",
                    "contrast_weight")
# online validation pseudo-Dice per candidate, one value per epoch (nnU-Net's logger)
VALIDATION_KEYS = ("val_dice_plain", "val_dice_resenc", "val_dice_ensemble")


class _ExportedWeights:
    """What `student_module` returns while a checkpoint is written: the base class takes `network_weights` from
    `student_module.state_dict()`, and here those are the inference module's weights."""

    def __init__(self, state_dict):
        self._state_dict = state_dict

    def state_dict(self):
        return self._state_dict


class DualNetTrainerBase(nnUNetTrainerSSL):
    use_ema_teacher = False  # the code has none
    # ---- networks [ours: stand-ins for the code's ResNet-34 and V-Net] ----
    resenc_blocks_per_stage = (1, 3, 4, 6, 6, 6, 6, 6)  # ResNet-34's 3-4-6 after the stem (nnU-Net's ResEnc presets)
    plain_convs_per_stage = 2  # nnU-Net's PlainConvUNet default, for ResEnc plans
    # ---- supervised [code: alpha 0.5, confidence 0.6, squared error] ----
    cr_weight = 0.5
    cr_confidence = 0.6
    # ---- cross-consistency enhancement [code: union target, 20th percentile, N_all / N_kept] ----
    cce_target = "union"  # or "cross" (the paper's wording: cross pseudo supervision)
    entropy_percentile = 20.0
    unlabeled_weight = 1.0
    peer_rampup_fraction = 0.1  # [ours, docstring] CCE and cosine agreement ramp in; the code: no ramp
    # ---- the learner's extra terms [code: weights 1, 1, 0.1 ramped over its whole run] ----
    kl_weight = 1.0
    kl_student = "learner"  # or "resenc" (the code: its ResNet net is always the student)
    cosine_weight = 1.0
    contrast_weight = 0.1
    contrast_rampup_fraction = 1.0
    contrast_loss = "infonce"  # or "margin"
    contrast_temperature = 0.07
    contrast_margin = 1.0
    contrast_sample_fraction = 0.01  # the code: 1 % of the uncertain foreground voxels, as many of each class
    detach_prototypes = True
    # ---- inference ----
    inference = "ensemble"  # "ensemble" (the paper's) or "single" (the net that validates better)
    validation_dice_ema = 0.9  # nnU-Net's ema_fg_dice momentum
    ssl_log_keys = DUALNET_LOG_KEYS
    labeled_loss_log_key = "loss_sup"  # the plans network's nnU-Net loss (the network nnU-Net itself trains)

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")):
        super().__init__(plans, configuration, fold, dataset_json, device)
        self._nets: Dict[str, nn.Module] = {}
        self._plans_family: Optional[str] = None
        self._exporting: Optional[_ExportedWeights] = None
        self.partner_lr_scheduler = None

    # ------------------------------------------------------------------ networks
    @classmethod
    def build_network_architecture(cls, plans_manager, configuration_manager, num_input_channels,
                                   num_output_channels, enable_deep_supervision: bool = True) -> nn.Module:
        """The INFERENCE module (nnUNetv2_predict calls this on the class): the ensemble or the selectable single
        net. Training builds the plans' own network in its place (see initialize)."""
        primary = nnUNetTrainer.build_network_architecture(plans_manager, configuration_manager, num_input_channels,
                                                           num_output_channels, enable_deep_supervision)
        partner = cls.build_partner(configuration_manager, num_input_channels, num_output_channels,
                                    enable_deep_supervision)
        return cls.inference_module(primary, partner)

    @classmethod
    def build_partner(cls, configuration_manager, num_input_channels, num_output_channels,
                      enable_deep_supervision) -> nn.Module:
        return build_partner_network(configuration_manager, num_input_channels, num_output_channels,
                                     enable_deep_supervision, cls.resenc_blocks_per_stage, cls.plain_convs_per_stage)

    @classmethod
    def inference_module(cls, primary: nn.Module, partner: nn.Module, active: str = "primary") -> nn.Module:
        if cls.inference == "ensemble":
            return DualNetEnsemble(primary, partner)
        if cls.inference == "single":
            return SelectedNet(primary, partner, active)
        raise ValueError(f"{cls.__name__}.inference must be 'ensemble' or 'single', got {cls.inference!r}")

    def initialize(self):
        # nnU-Net builds self.network with self.build_network_architecture, which here is the inference module;
        # training wants the plans' own network there (stock keys: -pretrained_weights, DDP, compile, the stock loss)
        self.build_network_architecture = nnUNetTrainer.build_network_architecture
        try:
            super().initialize()
        finally:
            del self.build_network_architecture
        plans_net, partner = nnUNetTrainerSSL.student_module.fget(self), self.extra_modules["partner"]
        self._plans_family = family(plans_net)
        self._nets = {family(plans_net): plans_net, family(partner): partner}

    def build_extra_modules(self):
        return {"partner": self.build_partner(self.configuration_manager, self.num_input_channels,
                                              self.label_manager.num_segmentation_heads,
                                              self.enable_deep_supervision)}

    @property
    def student_module(self) -> nn.Module:
        exporting = getattr(self, "_exporting", None)
        return exporting if exporting is not None else nnUNetTrainerSSL.student_module.fget(self)

    @property
    def nets(self) -> Dict[str, nn.Module]:
        """{'plain': PlainConvUNet, 'resenc': ResidualEncoderUNet}, bare modules (no DDP / compile wrapper)."""
        return self._nets

    @property
    def plans_net(self) -> nn.Module:
        return self._nets[self._plans_family]

    @property
    def partner(self) -> nn.Module:
        return self.extra_modules["partner"]

    # ------------------------------------------------------------------ optimizers: one each (docstring)
    def trainable_parameters(self) -> List[nn.Parameter]:
        return [p for p in nnUNetTrainerSSL.student_module.fget(self).parameters() if p.requires_grad]

    def configure_extra_optimizers(self):
        optimizer = torch.optim.SGD(self.extra_modules["partner"].parameters(), self.initial_lr,
                                    weight_decay=self.weight_decay, momentum=0.99, nesterov=True)
        self.partner_lr_scheduler = PolyLRScheduler(optimizer, self.initial_lr, self.num_epochs)
        return {"partner": optimizer}

    def on_train_epoch_start(self):
        super().on_train_epoch_start()
        self.partner_lr_scheduler.step(self.current_epoch)

    def on_train_start(self):
        super().on_train_start()
        self.print_to_log_file(
            f"{self.__class__.__name__}: plans network {type(self.plans_net).__name__}, partner "
            f"{type(self.partner).__name__} ({sum(p.numel() for p in self.partner.parameters())} parameters), "
            f"inference '{self.inference}', warm start {self.warm_started}"
            + (" (the partner starts from scratch)" if self.warm_started else ""))

    def set_deep_supervision_enabled(self, enabled: bool):
        for net in self._nets.values():
            net.decoder.deep_supervision = enabled

    # ------------------------------------------------------------------ the step
    def forward_with_features(self, net: nn.Module, x: torch.Tensor) -> Tuple[List[torch.Tensor], torch.Tensor]:
        """Outputs (fine -> coarse) and the last decoder stage's full-resolution features. Runs the bare module:
        gradients are averaged by the base class, hooks on compiled modules are not reliable."""
        with capture_outputs(net.decoder.stages[-1]) as captured:
            outputs = as_list(net(x))
        return outputs, captured[-1]

    def contrast_ramp(self) -> float:
        return sigmoid_rampup(self.ssl_step, self.contrast_rampup_fraction * self.total_steps())

    def peer_ramp(self) -> float:
        return sigmoid_rampup(self.ssl_step, self.peer_rampup_fraction * self.total_steps())

    def total_steps(self) -> int:
        return self.num_epochs * self.num_iterations_per_epoch

    def choose_winner(self, sup: Dict[str, torch.Tensor]) -> str:
        """The family with the lower nnU-Net loss on the labeled batch (ties: the plans network); under DDP the
        losses are averaged first so that every rank picks the same learner."""
        values = {k: v.detach().float() for k, v in sup.items()}
        if self.is_ddp:
            values = {k: all_reduce_mean(v) for k, v in values.items()}
        other = next(k for k in values if k != self._plans_family)
        return other if float(values[other]) < float(values[self._plans_family]) else self._plans_family

    def compute_loss(self, labeled: dict, unlabeled: dict):
        if self.kl_student not in ("learner", "resenc") or self.cce_target not in ("union", "cross"):
            raise ValueError(f"kl_student must be 'learner' or 'resenc' and cce_target 'union' or 'cross', got "
                             f"{self.kl_student!r} and {self.cce_target!r}")
        x_l, target = labeled["data"], labeled["target"]
        n_l = x_l.shape[0]
        x = torch.cat((x_l, unlabeled["data"]))
        num_classes = self.label_manager.num_segmentation_heads
        deep = self.enable_deep_supervision
        outputs, features, logits, probs = {}, {}, {}, {}
        for name, net in self._nets.items():
            outputs[name], features[name] = self.forward_with_features(net, x)
            logits[name] = outputs[name][0]
            probs[name] = torch.softmax(logits[name].float(), 1)
        logs: Dict[str, torch.Tensor] = {}

        # 1. supervised: nnU-Net's loss + alpha x CR on the labeled batch
        labels = full_resolution(target)
        cr_mask = losses.confident_foreground_xor(probs["plain"][:n_l], probs["resenc"][:n_l], self.cr_confidence)
        sup, total = {}, 0.0
        for name in FAMILY_NAMES:
            sup[name] = self.loss(stock_loss_input(outputs[name], deep, n_l), target)
            cr = losses.consistency_regularisation(probs[name][:n_l], labels, cr_mask)
            total = total + sup[name] + self.cr_weight * cr
            logs[f"loss_sup_{name}"], logs[f"loss_cr_{name}"] = sup[name], cr
        logs["loss_sup"] = sup[self._plans_family]
        logs["cr_mask_fraction"] = cr_mask.mean()

        # 2. winner and learner
        winner = self.choose_winner(sup)
        learner = next(k for k in FAMILY_NAMES if k != winner)
        logs["learner_is_resenc"] = torch.tensor(float(learner == "resenc"))

        # 3. cross-consistency enhancement, both nets
        p_u = {k: p[n_l:] for k, p in probs.items()}
        keep = losses.entropy_keep_mask(p_u["plain"], p_u["resenc"], self.entropy_percentile)
        if self.cce_target == "union":
            shared = losses.union_pseudo_labels(p_u["plain"], p_u["resenc"])
            pseudo = {"plain": shared, "resenc": shared}
        else:
            to_plain, to_resenc = losses.cross_pseudo_labels(p_u["plain"], p_u["resenc"])
            pseudo = {"plain": to_plain, "resenc": to_resenc}
        peer = self.peer_ramp()
        logs["peer_weight"] = torch.tensor(peer)
        for name in FAMILY_NAMES:
            term = losses.filtered_cross_entropy(logits[name][n_l:], pseudo[name], keep)
            total = total + peer * self.unlabeled_weight * term
            logs[f"loss_unlabeled_{name}"] = term
        logs["kept_fraction"] = keep.float().mean()
        logs["pl_foreground_fraction"] = (pseudo[learner] > 0).float().mean()

        # 4. the learner's extra terms
        student = learner if self.kl_student == "learner" else "resenc"
        teacher = next(k for k in FAMILY_NAMES if k != student)
        loss_kl, mean_kl = losses.kl_weighted_pseudo_label_loss(logits[student], logits[teacher])
        loss_cos = losses.cosine_disagreement(probs["plain"], probs["resenc"])
        total = total + self.kl_weight * loss_kl + peer * self.cosine_weight * loss_cos
        logs.update(loss_kl=loss_kl, kl_mean=mean_kl, loss_cos=loss_cos)
        ramp = self.contrast_weight * self.contrast_ramp()
        logs["contrast_weight"] = torch.tensor(ramp)
        if self.contrast_weight > 0:
            uncertain = ~keep
            index, classes = losses.sample_candidates(uncertain, p_u[learner].detach().argmax(1, keepdim=True),
                                                      num_classes, self.contrast_sample_fraction)
            loss_contrast = losses.prototype_contrast(
                features[learner][n_l:], pseudo[learner], keep, index, classes, num_classes, self.contrast_loss,
                self.contrast_temperature, self.contrast_margin, self.detach_prototypes)
            if loss_contrast is not None:
                total = total + ramp * loss_contrast
                logs["loss_contrast"] = loss_contrast
        return total, logs

    # ------------------------------------------------------------------ online validation: every candidate
    def on_validation_epoch_start(self):
        super().on_validation_epoch_start()
        self.partner.eval()

    def validation_step(self, batch: dict) -> dict:
        """nnU-Net's online validation for the plain net, the ResEnc net and their ensemble (hard tp/fp/fn of the
        foreground classes per candidate, nnU-Net's loss per net); on_validation_epoch_end hands nnU-Net the
        exported candidate's numbers as its own."""
        data = batch["data"].to(self.device, non_blocking=True)
        target = batch["target"]
        target = [t.to(self.device, non_blocking=True) for t in target] if isinstance(target, list) \
            else target.to(self.device, non_blocking=True)
        with autocast(self.device.type, enabled=True) if self.device.type == "cuda" else dummy_context():
            outputs = {k: net(data) for k, net in self._nets.items()}
            val_losses = {k: self.loss(o, target) for k, o in outputs.items()}
        probs = {k: torch.softmax(full_resolution(o).float(), 1) for k, o in outputs.items()}
        probs["ensemble"] = 0.5 * (probs["plain"] + probs["resenc"])
        labels = full_resolution(target)
        axes = [0] + list(range(2, labels.ndim))
        result = {f"loss_{k}": v.detach().cpu().numpy() for k, v in val_losses.items()}
        for name, p in probs.items():
            onehot = torch.zeros_like(p).scatter_(1, p.argmax(1, keepdim=True), 1)
            tp, fp, fn, _ = get_tp_fp_fn_tn(onehot, labels, axes=axes)
            for key, value in (("tp", tp), ("fp", fp), ("fn", fn)):
                result[f"{key}_{name}"] = value.detach().cpu().numpy()[1:]
        return result

    def exported_candidate(self) -> str:
        """'ensemble', or for the single-net export the family with the higher EMA of its online validation
        pseudo-Dice (the plans network until a validation has been logged, and on ties)."""
        if self.inference == "ensemble":
            return "ensemble"
        ema = {k: self.validation_dice_ema_of(k) for k in FAMILY_NAMES}
        other = next(k for k in FAMILY_NAMES if k != self._plans_family)
        return other if ema[other] > ema[self._plans_family] else self._plans_family

    def validation_dice_ema_of(self, name: str) -> float:
        """EMA (nnU-Net's, 0.9) over the logged epochs of `val_dice_<name>`, NaN epochs skipped; -inf if none."""
        ema = None
        for value in self.logger.local_logger.my_fantastic_logging.get(f"val_dice_{name}", []):
            if value == value:
                ema = value if ema is None else self.validation_dice_ema * ema + (1 - self.validation_dice_ema) * value
        return float("-inf") if ema is None else float(ema)

    def on_validation_epoch_end(self, val_outputs: List[dict]):
        collated = collate_outputs(val_outputs)
        for name in FAMILY_NAMES + ("ensemble",):
            counts = np.stack([np.sum(collated[f"{k}_{name}"], 0) for k in ("tp", "fp", "fn")])
            if self.is_ddp:
                counts_t = torch.as_tensor(counts, device=self.device, dtype=torch.float64)
                dist.all_reduce(counts_t)
                counts = counts_t.cpu().numpy()
            tp, fp, fn = counts
            with np.errstate(invalid="ignore", divide="ignore"):
                dice = float(np.nanmean(2 * tp / (2 * tp + fp + fn)))
            self.logger.log(f"val_dice_{name}", dice, self.current_epoch)
        chosen = self.exported_candidate()
        stock = []
        for o in val_outputs:
            loss = o[f"loss_{chosen}"] if chosen != "ensemble" else 0.5 * (o["loss_plain"] + o["loss_resenc"])
            stock.append({"loss": loss, "tp_hard": o[f"tp_{chosen}"], "fp_hard": o[f"fp_{chosen}"],
                          "fn_hard": o[f"fn_{chosen}"]})
        super().on_validation_epoch_end(stock)
        self.print_to_log_file("Online validation pseudo Dice:", {k: np.round(self.logger.get_value(
            f"val_dice_{k}", step=-1), 4) for k in FAMILY_NAMES + ("ensemble",)}, f"(nnU-Net's pseudo Dice: {chosen})")

    def _register_log_keys(self) -> None:
        super()._register_log_keys()
        logging = self.logger.local_logger.my_fantastic_logging
        for key in VALIDATION_KEYS:
            values = logging.setdefault(key, [])
            values.extend([float("nan")] * (self.current_epoch - len(values)))

    # ------------------------------------------------------------------ inference module, export, resume
    def inference_view(self) -> nn.Module:
        """The exported module, made of the live networks (no copy): the ensemble, or the selected net."""
        chosen = self.exported_candidate()
        active = "primary" if chosen in ("ensemble", self._plans_family) else "partner"
        return self.inference_module(self.plans_net, self.partner, active)

    def perform_actual_validation(self, save_probabilities: bool = False):
        """nnU-Net's final validation, of the exported module (the ensemble, or the selected net)."""
        network = self.network
        self.network = self.inference_view()
        try:
            super().perform_actual_validation(save_probabilities)
        finally:
            self.network = network

    def save_checkpoint(self, filename: str) -> None:
        # network_weights = the inference module's state dict (the base class reads student_module.state_dict())
        self._exporting = _ExportedWeights(self.inference_view().state_dict())
        try:
            super().save_checkpoint(filename)
        finally:
            self._exporting = None

    def method_state_dict(self) -> dict:
        # network_weights hold the plans network unless the single-net export chose the partner: keep it here then
        # (the partner is always in ssl_state's extra_modules)
        if self.exported_candidate() in ("ensemble", self._plans_family):
            return {}
        return {"plans_net": nn.Module.state_dict(self.plans_net)}

    def load_method_state_dict(self, state: dict) -> None:
        if "plans_net" in state:
            nn.Module.load_state_dict(self.plans_net, state["plans_net"])

    def load_checkpoint(self, filename_or_checkpoint) -> None:
        if not self.was_initialized:
            self.initialize()
        # nnU-Net's load_checkpoint loads network_weights strictly into the plans network; they are the inference
        # module's, so route them through it (it loads what they contain into the live networks)
        net = self.plans_net
        net.load_state_dict = self.inference_view().load_state_dict
        try:
            super().load_checkpoint(filename_or_checkpoint)
        finally:
            del net.load_state_dict
