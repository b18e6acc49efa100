"""Mean Teacher's stronger unlabeled signal (the default; `_strongUnlabeled` is its former name): the feature
perturbation reaches the unlabeled samples only and leaves no hook behind; the total is the ramped sum of its terms, the pseudo-label Dice included."""
import torch
from trainer_factory import make_trainer, next_batches, with_loaders

from nnunetv2_pscm.components.feature_hooks import feature_perturbation
from nnunetv2_pscm.components.weighted_losses import weighted_soft_dice_loss
from nnunetv2_pscm.data.ssl_split import write_ssl_split
from nnunetv2_pscm.trainers.nnUNetTrainerMeanTeacher import nnUNetTrainerMeanTeacher
from nnunetv2_pscm.trainers.nnUNetTrainerMeanTeacher_plain import nnUNetTrainerMeanTeacher_plain
from nnunetv2_pscm.trainers.nnUNetTrainerMeanTeacher_strongUnlabeled import nnUNetTrainerMeanTeacher_strongUnlabeled

DATASET = 901


def ready(cls, **attributes):
    write_ssl_split(DATASET, num_labeled=3, n_folds=1)
    return with_loaders(make_trainer(cls, DATASET, num_epochs=2, num_iterations_per_epoch=2, **attributes))


def test_the_strong_unlabeled_recipe_is_the_default_and_plain_switches_it_off():
    assert nnUNetTrainerMeanTeacher.feature_dropout == 0.5 and nnUNetTrainerMeanTeacher.pseudo_label_dice_weight == 1.0
    assert nnUNetTrainerMeanTeacher.pseudo_label_dice_skips_empty  # "no confident voxel" is not "absent"
    assert nnUNetTrainerMeanTeacher_strongUnlabeled.__dict__.keys().isdisjoint(("feature_dropout",
                                                                                 "pseudo_label_dice_weight"))
    assert nnUNetTrainerMeanTeacher_plain.feature_dropout == 0 and nnUNetTrainerMeanTeacher_plain.pseudo_label_dice_weight == 0


def test_plain_mean_teacher_has_no_perturbation_and_no_pseudo_label_dice(copied_3d):
    trainer = ready(nnUNetTrainerMeanTeacher_plain, consistency_rampup_fraction=0.0)
    assert trainer.perturbed_modules() == []
    loss, logs = trainer.compute_loss(*next_batches(trainer))
    assert "loss_pseudo_label_dice" not in logs
    torch.testing.assert_close(loss, logs["loss_sup"] + logs["loss_consistency"] + logs["loss_pseudo_label"])


def test_perturbation_hits_unlabeled_samples_only_and_is_removed(copied_3d):
    trainer = ready(nnUNetTrainerMeanTeacher)
    labeled, unlabeled = next_batches(trainer)
    x = torch.cat((labeled["data"], unlabeled["data"]))
    n = labeled["data"].shape[0]
    net = trainer.student_module
    net.eval()  # InstanceNorm is per sample either way; eval only to make two clean passes comparable
    with torch.no_grad():
        clean = net(x)[0]
        with feature_perturbation(trainer.perturbed_modules(), trainer.feature_dropout, first_sample=n):
            perturbed = net(x)[0]
        again = net(x)[0]
    torch.testing.assert_close(perturbed[:n], clean[:n])
    assert not torch.allclose(perturbed[n:], clean[n:])
    assert torch.equal(again, clean), "no hook left behind"
    assert len(trainer.perturbed_modules()) == len(net.encoder.stages)


def test_total_is_the_ramped_sum_with_the_pseudo_label_dice(copied_3d):
    trainer = ready(nnUNetTrainerMeanTeacher, consistency_rampup_fraction=0.0)
    loss, logs = trainer.compute_loss(*next_batches(trainer))
    assert logs["consistency_ramp"].item() == 1.0
    expected = logs["loss_sup"] + logs["loss_consistency"] + logs["loss_pseudo_label"] + logs["loss_pseudo_label_dice"]
    torch.testing.assert_close(loss, expected)
    assert 0 <= logs["loss_pseudo_label_dice"].item() <= 1
    # an empty confidence mask contributes nothing: (0 + s) / (0 + s) = Dice 1, loss 0
    logits = torch.randn(1, 2, 4, 4, 4)
    labels = logits.argmax(1, keepdim=True)
    assert weighted_soft_dice_loss(logits, labels, torch.zeros_like(labels).float()).item() == 0.0
    loss.backward()


def test_pseudo_label_dice_ignores_classes_without_confident_voxels(copied_3d, monkeypatch):
    """With no confident foreground voxel anywhere, the skipping Dice is 0 (nothing to fit), while the counting one
    is ~1 and pushes the foreground probability to 0 on the confident background."""
    import nnunetv2_pscm.trainers.nnUNetTrainerMeanTeacher as mean_teacher_module

    def background_only(probs, threshold):  # every voxel confidently background
        return torch.zeros_like(probs[:, :1], dtype=torch.long), torch.ones_like(probs[:, :1])

    monkeypatch.setattr(mean_teacher_module, "confident_pseudo_labels", background_only)
    trainer = ready(nnUNetTrainerMeanTeacher, consistency_rampup_fraction=0.0)
    batches = next_batches(trainer)
    _, skipping = trainer.compute_loss(*batches)
    assert skipping["loss_pseudo_label_dice"].item() == 0.0
    trainer.pseudo_label_dice_skips_empty = False
    _, counting = trainer.compute_loss(*batches)
    assert counting["loss_pseudo_label_dice"].item() > 0.5
