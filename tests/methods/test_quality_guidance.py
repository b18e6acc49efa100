"""QG-SSL stage 2 by hand: PL-QW weight rules, centred padding, the frozen predictor (QAR's gradient reaches the
segmenter's logits and never the predictor), per-sample weights in every unsupervised loss, and the mixin's guards."""
import pytest
import torch
import torch.nn.functional as F

from nnunetv2_pscm.components.consistency import probability_mse
from nnunetv2_pscm.components.weighted_losses import (masked_mean_cross_entropy, region_normalised_ce_dice,
                                                      weighted_soft_dice_loss)
from nnunetv2_pscm.methods.quality.guidance import QualityGuide, pad_centred, sample_weights
from nnunetv2_pscm.methods.quality.mixin import QG_LOG_KEYS, QualityGuidedMixin
from nnunetv2_pscm.methods.quality.network import QualityNet
from nnunetv2_pscm.trainers.nnUNetTrainerDuCiSC import nnUNetTrainerDuCiSC
from nnunetv2_pscm.trainers.nnUNetTrainerMeanTeacher import nnUNetTrainerMeanTeacher
from nnunetv2_pscm.trainers.nnUNetTrainerMeanTeacher_QG import nnUNetTrainerMeanTeacher_QG


def tiny_guide(patch=(40, 8)) -> QualityGuide:
    torch.manual_seed(0)
    return QualityGuide(QualityNet(1, 3, 2, width=2, blocks_per_stage=(1, 1, 1, 1), stem_kernel=3), patch)


def test_weight_rules_by_hand():
    q = torch.tensor([0.2, 0.6])
    torch.testing.assert_close(sample_weights(q, "q"), q)
    torch.testing.assert_close(sample_weights(q, "q_over_mean"), torch.tensor([0.5, 1.5]))
    torch.testing.assert_close(sample_weights(q, "threshold", 0.5), torch.tensor([0.0, 0.6]))
    with pytest.raises(ValueError, match="q_over_mean"):
        sample_weights(q, "softmax")


def test_pad_centred_puts_the_extra_voxel_at_the_end():
    x = torch.ones(1, 1, 3, 5)
    y = pad_centred(x, (6, 4), value=0.0)
    assert y.shape == (1, 1, 6, 5)  # an axis already large enough is left alone
    assert y[0, 0, :, 0].tolist() == [0, 1, 1, 1, 0, 0]


def test_predictor_is_frozen_and_qar_reaches_only_the_logits():
    guide = tiny_guide()
    guide.train()
    assert not guide.net.training and not any(p.requires_grad for p in guide.parameters())
    image = torch.randn(2, 1, 12, 8)  # smaller than the predictor's patch: padded to (40, 8)
    logits = torch.randn(2, 3, 12, 8, requires_grad=True)
    loss = guide.qar_loss(image, logits)
    loss.backward()
    assert 0 < loss.item() < 1 and logits.grad is not None and logits.grad.abs().sum() > 0
    assert all(p.grad is None for p in guide.parameters())
    labels = logits.argmax(1, keepdim=True)
    q = guide.score(image, labels)
    assert q.shape == (2,) and not q.requires_grad
    # a one-hot probability map scores exactly as its label map
    torch.testing.assert_close(q, guide.score(image, F.one_hot(labels[:, 0], 3).permute(0, 3, 1, 2).float()))


def test_qar_and_score_by_hand_with_a_constant_predictor():
    guide = tiny_guide()
    with torch.no_grad():
        guide.net.head.weight.zero_()
        guide.net.head.bias.fill_(0.0)  # Q = sigmoid(0) = 0.5 for every input
    image, logits = torch.randn(2, 1, 40, 8), torch.randn(2, 3, 40, 8)
    assert guide.qar_loss(image, logits).item() == pytest.approx(0.5)
    torch.testing.assert_close(guide.score(image, logits.argmax(1, keepdim=True)), torch.tensor([0.5, 0.5]))


def test_sample_weights_scale_each_sample_of_every_unlabeled_loss():
    torch.manual_seed(1)
    logits, teacher = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    target = torch.randint(0, 3, (2, 1, 4, 4))
    mask = torch.ones(2, 1, 4, 4)
    w = torch.tensor([1.0, 0.0])
    # CE: sample 1 contributes nothing, the normaliser (kept voxels) is unchanged
    ce = F.cross_entropy(logits, target[:, 0], reduction="none")
    assert masked_mean_cross_entropy(logits, target, mask, w).item() == pytest.approx(ce[0].sum().item() / 32)
    # Dice: mean over samples and classes of s_b (1 - dice_bc)
    alone = weighted_soft_dice_loss(logits[:1], target[:1], mask[:1])
    assert weighted_soft_dice_loss(logits, target, mask, sample_weight=torch.tensor([2.0, 0.0])).item() == \
        pytest.approx(alone.item())
    # MSE: squared differences of sample 1 drop out of the mean over all elements
    sq = (torch.softmax(logits, 1) - torch.softmax(teacher, 1)) ** 2
    assert probability_mse(logits, teacher, sample_weight=w).item() == pytest.approx(sq[0].sum().item() / sq.numel())
    # copy-paste regions: a sample weight on the pseudo region only; weights of one leave the loss unchanged
    gt, pseudo = torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 4)
    gt[..., :2], pseudo[..., 2:] = 1, 1
    plain = region_normalised_ce_dice(logits, target, [(gt, 1.0), (pseudo, 0.5)])
    ones = region_normalised_ce_dice(logits, target, [(gt, 1.0, None), (pseudo, 0.5, torch.ones(2))])
    assert ones.item() == pytest.approx(plain.item())
    zero = region_normalised_ce_dice(logits, target, [(gt, 1.0, None), (pseudo, 0.5, torch.zeros(2))])
    assert zero.item() == pytest.approx(region_normalised_ce_dice(logits, target, [(gt, 1.0)]).item())


def test_the_mixin_refuses_a_host_that_never_calls_its_hooks_and_adds_its_log_keys():
    with pytest.raises(TypeError, match="does not call the quality-guidance hooks"):
        type("DuCiSC_QG", (QualityGuidedMixin, nnUNetTrainerDuCiSC), {})
    assert nnUNetTrainerMeanTeacher_QG.ssl_log_keys == nnUNetTrainerMeanTeacher.ssl_log_keys + QG_LOG_KEYS
    assert nnUNetTrainerMeanTeacher.quality_guidance_hooks and not nnUNetTrainerDuCiSC.quality_guidance_hooks
    assert "qg_mean_quality" not in nnUNetTrainerMeanTeacher.ssl_log_keys


def test_mixin_weights_are_the_rule_applied_to_the_predicted_quality_of_the_hard_pseudo_label():
    trainer = object.__new__(nnUNetTrainerMeanTeacher_QG)  # the hooks need only the guide and the attributes
    trainer.quality_guide = tiny_guide()
    image, probs = torch.randn(3, 1, 40, 8), torch.softmax(torch.randn(3, 3, 40, 8), 1)
    logs = {}
    weights = trainer.compute_sample_weights(image, probs, logs)
    q = trainer.quality_guide.score(image, probs.argmax(1, keepdim=True))
    torch.testing.assert_close(weights, q / q.mean())
    assert logs["qg_mean_quality"].item() == pytest.approx(q.mean().item())
    trainer.use_sample_weighting = False
    assert trainer.compute_sample_weights(image, probs, {}) is None


def test_a_missing_or_foreign_predictor_stops_training_with_the_command_that_builds_it(copied_3d):
    import os
    import shutil

    from trainer_factory import make_trainer

    from nnunetv2_pscm.data.ssl_split import write_ssl_split
    from nnunetv2_pscm.methods.quality.locate import fold_predictor
    from nnunetv2_pscm.methods.quality.training import (QualityTrainingError, QualityTrainingSettings,
                                                        quality_output_folder, train_quality_predictor)
    from nnunetv2_pscm.trainers.nnUNetTrainerBCP_QG import nnUNetTrainerBCP_QG

    write_ssl_split(901, num_labeled=3, n_folds=2)
    trainer = make_trainer(nnUNetTrainerBCP_QG, 901)
    with pytest.raises(QualityTrainingError, match="nnUNetv2_pscm_train_quality -d Dataset901_SyntheticOrgan3D -c "
                                                   "3d_fullres -f 0 -p nnUNetPlans_cpu"):
        trainer.initialize()
    tiny = QualityTrainingSettings(epochs=1, samples_per_case=2, num_bins=2, max_draws_per_sample=2, width=2,
                                   blocks_per_stage=(1, 1, 1, 1), stem_kernel=3)
    path = train_quality_predictor(901, "3d_fullres", 0, "nnUNetPlans_cpu", tiny, device="cpu", verbose=False)
    other = quality_output_folder(901, "nnUNetPlans_cpu", "3d_fullres", 1)
    os.makedirs(other)
    shutil.copy(path, other)  # fold 0's predictor where fold 1's belongs: it has seen fold 1's validation cases
    with pytest.raises(QualityTrainingError, match="was built for dataset/plans/configuration/fold"):
        fold_predictor(901, "3d_fullres", 1, "nnUNetPlans_cpu")
    net, record, found = fold_predictor(901, "3d_fullres", 0, "nnUNetPlans_cpu")
    assert found == path and record["fold"] == 0
