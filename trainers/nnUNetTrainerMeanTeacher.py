"""Mean Teacher (Tarvainen & Valpola, NeurIPS 2017) on nnU-Net, as in SSL4MIS's 3D recipe.

Supervised: nnU-Net's own Dice+CE with deep supervision on the labeled batch.
Unsupervised: MSE between student and EMA-teacher class probabilities on the unlabeled batch (full
resolution output), weighted by consistency_weight * sigmoid_rampup. The student sees the strongly
augmented view (geometric + photometric), the teacher the weak view of the same crop (geometric only)
plus small Gaussian noise (SSL4MIS: N(0, 0.1) clamped to +-0.2).
Our choices: the ramp-up spans `consistency_rampup_fraction` of the whole schedule (SSL4MIS ramps over
40 x 150 iterations of a 6k-iteration run; nnU-Net runs 250k, so an absolute length would not transfer),
and one student forward pass carries labeled and unlabeled patches together.
Exported weights: the student.
"""
import torch

from nnunetv2_pscm.components.consistency import probability_mse
from nnunetv2_pscm.components.ramps import sigmoid_rampup
from nnunetv2_pscm.training import nnUNetTrainerSSL


class nnUNetTrainerMeanTeacher(nnUNetTrainerSSL):
    ema_alpha = 0.99
    consistency_weight = 0.1
    consistency_rampup_fraction = 0.25
    teacher_input_noise_std = 0.1
    teacher_input_noise_clamp = 0.2
    unlabeled_two_views = True
    supports_regions = True
    supports_ignore_label = True
    ssl_log_keys = ("loss_sup", "loss_consistency", "consistency_weight")

    def current_consistency_weight(self) -> float:
        total = self.num_epochs * self.num_iterations_per_epoch
        return self.consistency_weight * sigmoid_rampup(self.ssl_step, self.consistency_rampup_fraction * total)

    def compute_loss(self, labeled, unlabeled):
        n_labeled = labeled["data"].shape[0]
        output = self.student_forward(torch.cat((labeled["data"], unlabeled["data"])))
        outputs = output if isinstance(output, (list, tuple)) else [output]
        loss_sup = self.loss([o[:n_labeled] for o in outputs] if self.enable_deep_supervision
                             else outputs[0][:n_labeled], labeled["target"])

        teacher_input = unlabeled["data_weak"]
        noise = torch.randn_like(teacher_input) * self.teacher_input_noise_std
        teacher_input = teacher_input + noise.clamp(-self.teacher_input_noise_clamp, self.teacher_input_noise_clamp)
        teacher_out = self.teacher(teacher_input)
        teacher_logits = teacher_out[0] if isinstance(teacher_out, (list, tuple)) else teacher_out

        loss_cons = probability_mse(outputs[0][n_labeled:], teacher_logits, regions=self.label_manager.has_regions)
        weight = self.current_consistency_weight()
        return loss_sup + weight * loss_cons, {"loss_sup": loss_sup, "loss_consistency": loss_cons,
                                               "consistency_weight": torch.tensor(weight)}
