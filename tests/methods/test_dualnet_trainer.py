"""nnUNetTrainerDualNet / _single in-process on the synthetic 3D dataset: which term trains which net (the released
code's zero-gradient defect cannot happen), the KL teacher gets no gradient, one optimizer per net, checkpoints
export the ensemble or the better single net and resume both nets, online validation scores every candidate."""
import importlib.util
import math
from pathlib import Path

import pytest
import torch
from trainer_factory import make_trainer, next_batches, with_loaders

from nnunetv2_pscm.data.ssl_split import write_ssl_split
from nnunetv2_pscm.methods.dualnet.networks import DualNetEnsemble
from nnunetv2_pscm.trainers.nnUNetTrainerDualNet import nnUNetTrainerDualNet
from nnunetv2_pscm.trainers.nnUNetTrainerDualNet_single import nnUNetTrainerDualNet_single

DATASET = 901


@pytest.fixture
def split(copied_3d):
    write_ssl_split(DATASET, num_labeled=3, n_folds=1)
    return copied_3d


def ready(cls=nnUNetTrainerDualNet, **attributes):
    attributes.setdefault("contrast_sample_fraction", 1.0)  # every uncertain voxel: no empty candidate sets
    return with_loaders(make_trainer(cls, DATASET, num_epochs=2, num_iterations_per_epoch=3, **attributes))


def reaches(term, net) -> bool:
    grads = torch.autograd.grad(term, list(net.parameters()), retain_graph=True, allow_unused=True)
    return any(g is not None and g.abs().sum() > 0 for g in grads)


def encoder_reaches(term, net) -> bool:
    return reaches_params(term, list(net.encoder.parameters()))


def reaches_params(term, params) -> bool:
    grads = torch.autograd.grad(term, params, retain_graph=True, allow_unused=True)
    return any(g is not None and g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("learner", ["plain", "resenc"])
def test_every_term_trains_the_nets_it_must_and_no_other(split, monkeypatch, learner):
    """The released code computed its unlabeled CE and its contrast on detached tensors (zero gradient). Here each
    term has gradient exactly where it must: supervised / CR / CCE terms to their own net, KL to the learner only
    (detached winner), cosine to both, contrast to the learner's encoder and decoder."""
    trainer = ready()
    winner = "resenc" if learner == "plain" else "plain"
    monkeypatch.setattr(trainer, "choose_winner", lambda sup: winner)
    loss, logs = trainer.compute_loss(*next_batches(trainer))
    nets = trainer.nets
    assert type(nets["plain"]).__name__ == "PlainConvUNet" and type(nets["resenc"]).__name__ == "ResidualEncoderUNet"
    assert nets["plain"] is trainer.student_module and nets["resenc"] is trainer.extra_modules["partner"]
    assert logs["learner_is_resenc"].item() == float(learner == "resenc")
    for name in ("plain", "resenc"):
        other = "resenc" if name == "plain" else "plain"
        for key in (f"loss_sup_{name}", f"loss_unlabeled_{name}"):
            assert reaches(logs[key], nets[name]) and not reaches(logs[key], nets[other]), key
        if logs[f"loss_cr_{name}"].item() > 0:
            assert reaches(logs[f"loss_cr_{name}"], nets[name]) and not reaches(logs[f"loss_cr_{name}"], nets[other])
    assert reaches(logs["loss_kl"], nets[learner]) and not reaches(logs["loss_kl"], nets[winner]), "teacher detached"
    assert reaches(logs["loss_cos"], nets["plain"]) and reaches(logs["loss_cos"], nets["resenc"])
    assert "loss_contrast" in logs and math.isfinite(logs["loss_contrast"].item())
    assert encoder_reaches(logs["loss_contrast"], nets[learner]) and not reaches(logs["loss_contrast"], nets[winner])
    assert all(torch.isfinite(v).all() for v in logs.values())
    loss.backward()
    for name, net in nets.items():
        # nnU-Net gives its coarsest deep-supervision output weight 0: that head (seg_layers.0) is the only one left
        missing = {k for k, p in net.named_parameters() if p.grad is None}
        assert missing <= {"decoder.seg_layers.0.weight", "decoder.seg_layers.0.bias"}, (name, missing)


def test_kl_student_can_be_the_codes_fixed_pairing(split, monkeypatch):
    trainer = ready(kl_student="resenc")
    monkeypatch.setattr(trainer, "choose_winner", lambda sup: "resenc")  # plain is the learner
    _, logs = trainer.compute_loss(*next_batches(trainer))
    assert reaches(logs["loss_kl"], trainer.nets["resenc"]) and not reaches(logs["loss_kl"], trainer.nets["plain"])


def test_total_is_the_weighted_sum_and_peer_terms_ramp_in(split):
    """total = sum over nets of (sup + 0.5 CR + ramp x CCE) + KL + ramp x cos (contrast off); the ramp is the sigmoid
    over peer_rampup_fraction (0.1) of the 6-step schedule: exp(-5) at step 0, 1 from step 0.6 on."""
    for step, ramp in ((0, math.exp(-5.0)), (1, 1.0)):
        trainer = ready(contrast_weight=0.0)
        trainer.ssl_step = step
        loss, logs = trainer.compute_loss(*next_batches(trainer))
        assert logs["peer_weight"].item() == pytest.approx(ramp)
        expected = logs["loss_kl"] + ramp * logs["loss_cos"]
        for name in ("plain", "resenc"):
            expected = expected + logs[f"loss_sup_{name}"] + 0.5 * logs[f"loss_cr_{name}"] \
                + ramp * logs[f"loss_unlabeled_{name}"]
        assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_winner_is_the_net_with_the_lower_labeled_loss(split):
    trainer = ready()
    assert trainer.choose_winner({"plain": torch.tensor(0.3), "resenc": torch.tensor(0.2)}) == "resenc"
    assert trainer.choose_winner({"plain": torch.tensor(0.2), "resenc": torch.tensor(0.3)}) == "plain"
    assert trainer.choose_winner({"plain": torch.tensor(0.2), "resenc": torch.tensor(0.2)}) == "plain"


def test_cross_target_and_margin_variant_train(split):
    for attributes in ({"cce_target": "cross"}, {"contrast_loss": "margin"}):
        trainer = ready(**attributes)
        assert torch.isfinite(torch.as_tensor(trainer.train_step(next(trainer.dataloader_train))["loss"]))


def test_one_optimizer_and_poly_schedule_per_net(split):
    trainer = ready()
    own = {id(p) for g in trainer.optimizer.param_groups for p in g["params"]}
    partner = {id(p) for g in trainer.extra_optimizers["partner"].param_groups for p in g["params"]}
    assert own == {id(p) for p in trainer.nets["plain"].parameters()}
    assert partner == {id(p) for p in trainer.nets["resenc"].parameters()}
    assert {id(p) for p in trainer.all_parameters()} == own | partner, "DDP averages both nets"
    trainer.current_epoch = 1
    trainer.on_train_epoch_start()
    lr = trainer.initial_lr * (1 - 1 / 2) ** 0.9
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(lr)
    assert trainer.extra_optimizers["partner"].param_groups[0]["lr"] == pytest.approx(lr)
    before = [p.detach().clone() for p in trainer.nets["resenc"].parameters()]
    trainer.train_step(next(trainer.dataloader_train))
    assert any(not torch.equal(a, p) for a, p in zip(before, trainer.nets["resenc"].parameters()))


def test_ensemble_checkpoint_exports_both_nets_and_resumes(split, tmp_path):
    trainer = ready()
    trainer.train_step(next(trainer.dataloader_train))
    path = str(tmp_path / "checkpoint.pth")
    trainer.save_checkpoint(path)
    saved = torch.load(path, map_location="cpu", weights_only=False)
    plans_keys, partner_keys = set(trainer.nets["plain"].state_dict()), set(trainer.nets["resenc"].state_dict())
    assert set(saved["network_weights"]) == plans_keys | {f"partner.{k}" for k in partner_keys}
    assert saved["ssl_state"]["method_state"] == {}
    inference = nnUNetTrainerDualNet.build_network_architecture(
        trainer.plans_manager, trainer.configuration_manager, trainer.num_input_channels,
        trainer.label_manager.num_segmentation_heads, False)
    inference.load_state_dict(saved["network_weights"])  # strict, what nnUNetv2_predict does
    x = next_batches(trainer)[0]["data"]
    trainer.set_deep_supervision_enabled(False)
    with torch.no_grad():
        expected = 0.5 * sum(torch.softmax(n(x), 1) for n in trainer.nets.values())
        torch.testing.assert_close(torch.softmax(inference(x), 1), expected, rtol=1e-4, atol=1e-5)
    resumed = make_trainer(nnUNetTrainerDualNet, DATASET, num_epochs=2, num_iterations_per_epoch=3)
    resumed.load_checkpoint(path)
    for name in ("plain", "resenc"):
        for a, b in zip(resumed.nets[name].state_dict().values(), trainer.nets[name].state_dict().values()):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert resumed.extra_optimizers["partner"].state_dict()["state"], "the partner's momentum is restored"


def log_validation(trainer, plain, resenc):
    logging = trainer.logger.local_logger.my_fantastic_logging
    logging["val_dice_plain"].append(plain)
    logging["val_dice_resenc"].append(resenc)


def test_single_exports_the_net_with_the_better_validation_and_resumes(split, tmp_path):
    trainer = ready(nnUNetTrainerDualNet_single)
    trainer.train_step(next(trainer.dataloader_train))
    assert trainer.exported_candidate() == "plain", "the plans network until something is validated"
    log_validation(trainer, 0.5, 0.4)
    log_validation(trainer, 0.5, 0.7)  # EMA: plain 0.5, resenc 0.9 * 0.4 + 0.1 * 0.7 = 0.43
    assert trainer.exported_candidate() == "plain"
    log_validation(trainer, float("nan"), 0.9)
    for _ in range(5):
        log_validation(trainer, 0.5, 0.9)
    assert trainer.validation_dice_ema_of("plain") == pytest.approx(0.5)
    assert trainer.exported_candidate() == "resenc"
    path = str(tmp_path / "checkpoint.pth")
    trainer.save_checkpoint(path)
    saved = torch.load(path, map_location="cpu", weights_only=False)
    assert set(saved["network_weights"]) == set(trainer.nets["resenc"].state_dict()), "the ResEnc's stock weights"
    assert set(saved["ssl_state"]["method_state"]["plans_net"]) == set(trainer.nets["plain"].state_dict())
    inference = nnUNetTrainerDualNet_single.build_network_architecture(
        trainer.plans_manager, trainer.configuration_manager, trainer.num_input_channels,
        trainer.label_manager.num_segmentation_heads, False)
    inference.load_state_dict(saved["network_weights"])
    assert type(inference.active_net).__name__ == "ResidualEncoderUNet"
    resumed = make_trainer(nnUNetTrainerDualNet_single, DATASET, num_epochs=2, num_iterations_per_epoch=3)
    resumed.load_checkpoint(path)
    assert resumed.exported_candidate() == "resenc", "the validation history is part of the checkpoint"
    for name in ("plain", "resenc"):
        for a, b in zip(resumed.nets[name].state_dict().values(), trainer.nets[name].state_dict().values()):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    # benchmarks/dualnet_ensemble_from_single.py rebuilds the ensemble export of this same training from it
    ensemble = DualNetEnsemble(trainer.nets["plain"], trainer.nets["resenc"]).state_dict()
    rebuilt = ensemble_from_single().ensemble_weights(saved)
    assert set(rebuilt) == set(ensemble)
    for key, value in ensemble.items():
        torch.testing.assert_close(rebuilt[key], value, rtol=0, atol=0)
    assert ensemble_from_single().ensemble_trainer_name("nnUNetTrainerDualNet_single_30ep50it") == \
        "nnUNetTrainerDualNet_30ep50it"
    with pytest.raises(ValueError, match="not an nnUNetTrainerDualNet_single"):
        ensemble_from_single().ensemble_trainer_name("nnUNetTrainerPSCM_30ep50it")


def ensemble_from_single():
    path = Path(__file__).parents[2] / "benchmarks" / "dualnet_ensemble_from_single.py"
    spec = importlib.util.spec_from_file_location("dualnet_ensemble_from_single", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("cls,chosen", [(nnUNetTrainerDualNet, "ensemble"), (nnUNetTrainerDualNet_single, None)])
def test_online_validation_scores_both_nets_and_the_ensemble(split, cls, chosen):
    trainer = ready(cls)
    trainer.on_validation_epoch_start()
    with torch.no_grad():
        outputs = [trainer.validation_step(next(trainer.dataloader_val))]
    trainer.on_validation_epoch_end(outputs)
    logged = {k: trainer.logger.get_value(f"val_dice_{k}", step=-1) for k in ("plain", "resenc", "ensemble")}
    chosen = chosen or trainer.exported_candidate()
    reported = trainer.logger.get_value("mean_fg_dice", step=-1)
    assert reported == logged[chosen] or (reported != reported and logged[chosen] != logged[chosen])
