"""The hosts really apply what the quality hooks return: per-sample weights reach every unsupervised term of Mean
Teacher and the pseudo-labelled region of BCP's mixed loss (and nothing else), and the QAR term is added to the
total on the student's output of the plain unlabeled batch, which BCP adds to its pass only when asked."""
import sys

import pytest
import torch
from trainer_factory import make_trainer, next_batches, with_loaders

from nnunetv2_pscm.data.ssl_split import write_ssl_split
from nnunetv2_pscm.trainers.nnUNetTrainerBCP import nnUNetTrainerBCP
from nnunetv2_pscm.trainers.nnUNetTrainerMeanTeacher import nnUNetTrainerMeanTeacher


def with_hooks(host, weight_value=None, qar=False):
    class Hooked(host):
        calls = []

        def compute_sample_weights(self, image, pseudo_label, logs):
            self.calls.append(("weights", tuple(image.shape), tuple(pseudo_label.shape)))
            return None if weight_value is None else torch.full((image.shape[0],), float(weight_value))

        def wants_unlabeled_student_output(self):
            return qar

        def qar_loss(self, image, student_logits, logs):
            self.calls.append(("qar", tuple(image.shape), tuple(student_logits.shape), student_logits.requires_grad))
            return student_logits.sum() * 0 + 1.0 if qar else None

    Hooked.__name__ = host.__name__
    return Hooked


@pytest.fixture
def split(copied_3d, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["nnUNetv2_train"])
    write_ssl_split(901, num_labeled=3, n_folds=1)


def losses(cls, batches, **attributes):
    torch.manual_seed(0)  # the same initial network in every call
    trainer = with_loaders(make_trainer(cls, 901, pretrain_fraction=0, consistency_rampup_fraction=0,
                                        mix_rampup_fraction=0, **attributes))
    trainer.ssl_step = 10 ** 6  # ramps at full weight
    trainer.teacher.update(trainer.student_module, 0)
    batches = batches or next_batches(trainer)
    torch.manual_seed(0)
    total, logs = trainer.compute_loss(*batches)
    return float(total.detach()), {k: float(torch.as_tensor(v).detach()) for k, v in logs.items()}, batches, trainer


def test_mean_teacher_weights_every_unlabeled_term_and_adds_qar(split):
    torch.manual_seed(0)
    _, plain, batches, _ = losses(with_hooks(nnUNetTrainerMeanTeacher), None, pseudo_label_dice_weight=1.0)
    _, zero, _, _ = losses(with_hooks(nnUNetTrainerMeanTeacher, 0.0), batches, pseudo_label_dice_weight=1.0)
    _, ones, _, _ = losses(with_hooks(nnUNetTrainerMeanTeacher, 1.0), batches, pseudo_label_dice_weight=1.0)
    for term in ("loss_consistency", "loss_pseudo_label", "loss_pseudo_label_dice"):
        assert plain[term] > 0 and zero[term] == 0.0, term
        assert ones[term] == pytest.approx(plain[term], rel=1e-5), term
    assert zero["loss_sup"] == pytest.approx(plain["loss_sup"], rel=1e-5)  # the labeled loss is never weighted
    total_plain, _, _, _ = losses(with_hooks(nnUNetTrainerMeanTeacher), batches)
    hooked = with_hooks(nnUNetTrainerMeanTeacher, qar=True)
    total_qar, _, _, trainer = losses(hooked, batches)
    assert total_qar == pytest.approx(total_plain + 1.0, rel=1e-5)
    (qar_call,) = [c for c in hooked.calls if c[0] == "qar"]
    n_u = batches[1]["data"].shape[0]
    assert qar_call[1][0] == n_u and qar_call[2][:2] == (n_u, trainer.label_manager.num_segmentation_heads)
    assert qar_call[3], "QAR must be differentiable in the student's logits"


def test_bcp_weights_only_the_pseudo_labelled_region_and_adds_the_unlabeled_pass_for_qar(split):
    torch.manual_seed(0)
    _, plain, batches, _ = losses(with_hooks(nnUNetTrainerBCP), None)
    _, ones, _, _ = losses(with_hooks(nnUNetTrainerBCP, 1.0), batches)
    _, zero, _, _ = losses(with_hooks(nnUNetTrainerBCP, 0.0), batches)
    assert ones["loss_mix"] == pytest.approx(plain["loss_mix"], rel=1e-5)
    assert 0 < zero["loss_mix"] < plain["loss_mix"]  # the ground-truth region of each mixed sample still counts
    assert zero["loss_labeled"] == pytest.approx(plain["loss_labeled"], rel=1e-5)
    hooked = with_hooks(nnUNetTrainerBCP, qar=True)
    total_qar, with_qar, _, trainer = losses(hooked, batches)
    total_plain, _, _, _ = losses(with_hooks(nnUNetTrainerBCP), batches)
    assert total_qar == pytest.approx(total_plain + 1.0, rel=1e-4)
    # the extra unlabeled samples in the pass change neither the labeled nor the mixed loss (InstanceNorm)
    assert with_qar["loss_labeled"] == pytest.approx(plain["loss_labeled"], rel=1e-4)
    assert with_qar["loss_mix"] == pytest.approx(plain["loss_mix"], rel=1e-4)
    (qar_call,) = [c for c in hooked.calls if c[0] == "qar"]
    assert qar_call[2][0] == batches[1]["data"].shape[0] and qar_call[3]
