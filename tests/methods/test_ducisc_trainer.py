"""nnUNetTrainerDuCiSC in-process on the synthetic 3D dataset: every loss term reaches the student, the teacher gets
no gradient, features pair with outputs scale by scale, the fused batch is a blend, the warm-up is supervised only
(and skipped after a warm start), thresholds move only after it."""
import pytest
import torch
from trainer_factory import make_trainer, next_batches, with_loaders

import nnunetv2_pscm.methods.ducisc.trainer_base as ducisc_module
from nnunetv2_pscm.data.ssl_split import write_ssl_split
from nnunetv2_pscm.trainers.nnUNetTrainerDuCiSC import nnUNetTrainerDuCiSC
from nnunetv2_pscm.trainers.nnUNetTrainerDuCiSC_featureDropout import nnUNetTrainerDuCiSC_featureDropout
from nnunetv2_pscm.trainers.nnUNetTrainerDuCiSC_noTeacherNoise import nnUNetTrainerDuCiSC_noTeacherNoise

DATASET = 901
TERMS = ("loss_ulb_consistency", "loss_mix_consistency", "loss_ulb_prototype", "loss_mix_prototype")


@pytest.fixture
def split(copied_3d):
    write_ssl_split(DATASET, num_labeled=3, n_folds=1)
    return copied_3d


def ready(cls=nnUNetTrainerDuCiSC, **attributes):
    attributes.setdefault("warmup_fraction", 0.0)
    return with_loaders(make_trainer(cls, DATASET, num_epochs=2, num_iterations_per_epoch=3,
                                     **attributes))


def test_every_term_reaches_the_student_and_none_the_teacher(split):
    trainer = ready()
    loss, logs = trainer.compute_loss(*next_batches(trainer))
    assert logs["phase"] == 1.0 and set(TERMS) <= set(logs)
    assert all(torch.isfinite(logs[k]) for k in TERMS + ("loss_sup", "certain_fraction"))
    decoder_params = list(trainer.student_module.decoder.stages.parameters())
    encoder_params = list(trainer.student_module.encoder.parameters())
    for key in TERMS:
        grads = torch.autograd.grad(logs[key], decoder_params + encoder_params, retain_graph=True, allow_unused=True)
        assert any(g is not None and g.abs().sum() > 0 for g in grads[:len(decoder_params)]), key
        assert any(g is not None and g.abs().sum() > 0 for g in grads[len(decoder_params):]), key
    loss.backward()
    assert all(p.grad is None for p in trainer.teacher.parameters())
    assert not list(trainer.extra_modules.parameters()), "thresholds are state (a buffer), not learned"


def test_features_pair_with_outputs_fine_to_coarse(split):
    trainer = ready()
    x = next_batches(trainer)[0]["data"]
    outputs, features = trainer.student_pass_with_features(x)
    assert len(outputs) == len(features) == len(trainer.student_module.decoder.stages)
    for s, (o, f) in enumerate(zip(outputs, features)):
        assert o.shape[2:] == f.shape[2:], s
        # output s is the segmentation head of the feature it is paired with
        head = trainer.student_module.decoder.seg_layers[len(outputs) - 1 - s]
        torch.testing.assert_close(head(f), o)
    assert trainer.aligned_scales() == min(4, len(outputs))
    assert len(trainer.teacher_probabilities(x)) == len(outputs), "the teacher answers at every scale"


def test_the_fused_batch_is_a_blend_of_labeled_and_unlabeled(split, monkeypatch):
    trainer = ready()
    labeled, unlabeled = next_batches(trainer)
    monkeypatch.setattr(ducisc_module, "sample_blend_weights", lambda n, *a, **k: torch.full((n,), 0.25))
    seen = []
    original = trainer.student_pass_with_features
    monkeypatch.setattr(trainer, "student_pass_with_features", lambda x: seen.append(x) or original(x))
    trainer.compute_loss(labeled, unlabeled)
    x_l, x_u = labeled["data"], unlabeled["data"]
    n = min(len(x_l), len(x_u))
    torch.testing.assert_close(seen[0][len(x_l) + len(x_u):], 0.25 * x_l[:n] + 0.75 * x_u[:n])


def test_warmup_is_supervised_only_and_leaves_the_thresholds(split):
    trainer = ready(warmup_fraction=0.5)
    assert trainer.warmup_steps() == 3 and trainer.in_warmup()
    loss, logs = trainer.compute_loss(*next_batches(trainer))
    assert set(logs) == {"phase", "loss_sup"} and logs["phase"] == 0.0
    torch.testing.assert_close(trainer.thresholds.values, torch.full_like(trainer.thresholds.values, 0.5))
    trainer.ssl_step = 3
    trainer.compute_loss(*next_batches(trainer))
    assert not torch.equal(trainer.thresholds.values, torch.full_like(trainer.thresholds.values, 0.5))
    trainer.warm_started = True
    trainer.ssl_step = 0
    assert trainer.warmup_steps() == 0 and not trainer.in_warmup()


def test_both_loss_modes_train(split):
    for mode in (False, True):
        trainer = ready(self_normalize_losses=mode)
        out = trainer.train_step(next(trainer.dataloader_train))
        assert torch.isfinite(torch.as_tensor(out["loss"])), mode


def test_feature_dropout_variant_perturbs_the_unlabeled_and_fused_samples_only(split):
    assert ready().perturbed_modules() == [], "off by default: the measured DuCiSC is unchanged"
    trainer = ready(nnUNetTrainerDuCiSC_featureDropout)
    assert len(trainer.perturbed_modules()) == len(trainer.student_module.encoder.stages)
    batches = next_batches(trainer)
    thresholds = {k: v.clone() for k, v in trainer.thresholds.state_dict().items()}  # compute_loss moves them
    torch.manual_seed(1)  # same blend weights and teacher noise in both calls
    _, perturbed = trainer.compute_loss(*batches)
    trainer.thresholds.load_state_dict(thresholds)
    trainer.feature_dropout = 0.0
    torch.manual_seed(1)
    _, clean = trainer.compute_loss(*batches)
    torch.testing.assert_close(perturbed["loss_sup"], clean["loss_sup"])  # the labeled samples pass unchanged
    for teacher_side in ("certain_fraction", "pl_foreground_fraction"):
        torch.testing.assert_close(perturbed[teacher_side], clean[teacher_side])
    for student_side in ("loss_ulb_consistency", "loss_mix_consistency"):
        assert not torch.allclose(perturbed[student_side], clean[student_side]), student_side


def test_teacher_input_noise_is_the_only_thing_between_the_teacher_and_the_weak_view(split, monkeypatch):
    seen = []
    trainer = ready()
    teacher = trainer.teacher
    monkeypatch.setattr(trainer, "teacher", lambda x: seen.append(x.clone()) or teacher(x))
    x_u = next_batches(trainer)[1]["data"]
    trainer.teacher_probabilities(x_u)
    noise = seen[-1] - x_u
    assert noise.abs().max() <= trainer.teacher_input_noise_clamp + 1e-6 and noise.abs().max() > 0
    assert 0.09 < noise.std() < 0.105, "N(0, 0.1) clipped at +-0.2"

    quiet = ready(nnUNetTrainerDuCiSC_noTeacherNoise)
    assert quiet.teacher_input_noise_std == 0.0
    quiet_teacher = quiet.teacher
    monkeypatch.setattr(quiet, "teacher", lambda x: seen.append(x.clone()) or quiet_teacher(x))
    first = quiet.teacher_probabilities(x_u)
    torch.testing.assert_close(seen[-1], x_u, rtol=0, atol=0)  # the weak view, untouched
    for a, b in zip(first, quiet.teacher_probabilities(x_u)):
        torch.testing.assert_close(a, b)  # a deterministic teacher: nnU-Net's network has no dropout
